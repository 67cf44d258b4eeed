import dayjs from 'dayjs';
import relativeTime from 'dayjs/plugin/relativeTime';
import utc from 'dayjs/plugin/utc';
import timezone from 'dayjs/plugin/timezone';

dayjs.extend(relativeTime);
dayjs.extend(utc);
dayjs.extend(timezone);

export { dayjs };

/** `2026-03-01 09:00:00` in the browser's zone (or `zone`). */
export function formatDateTime(iso: string | null | undefined, zone?: string): string {
  if (!iso) return '—';
  const d = zone ? dayjs(iso).tz(zone) : dayjs(iso);
  return d.isValid() ? d.format('YYYY-MM-DD HH:mm:ss') : iso;
}

/** `in 5 minutes`, `3 hours ago`, in the current dayjs locale. */
export function fromNow(iso: string | null | undefined): string {
  if (!iso) return '—';
  return dayjs(iso).fromNow();
}

/** `850 ms`, `12.3 s`, `4 m 05 s`, `2 h 03 m`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const u = durationUnits();
  if (ms < 1000) return `${Math.round(ms)} ${u.ms}`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} ${u.s}`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} ${u.m} ${String(Math.floor(s % 60)).padStart(2, '0')} ${u.s}`;
  const h = Math.floor(m / 60);
  return `${h} ${u.h} ${String(m % 60).padStart(2, '0')} ${u.m}`;
}

/** Duration units in the UI's language (which sets dayjs' locale before anything renders). */
export function durationUnits(): { ms: string; s: string; m: string; h: string; d: string; w: string } {
  return dayjs.locale() === 'zh-cn'
    ? { ms: '毫秒', s: '秒', m: '分', h: '小时', d: '天', w: '周' }
    : { ms: 'ms', s: 's', m: 'm', h: 'h', d: 'd', w: 'w' };
}

/** Milliseconds between two instants, or null if either is missing. */
export function durationMs(start: string | null | undefined, end: string | null | undefined): number | null {
  if (!start || !end) return null;
  return new Date(end).getTime() - new Date(start).getTime();
}

/** `1.5 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(v < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

/** The browser's IANA zone. */
export function localZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** Every IANA zone the browser knows, with UTC first. */
export function allZones(): string[] {
  let zones: string[] = [];
  try {
    const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
    zones = intl.supportedValuesOf?.('timeZone') ?? [];
  } catch {
    zones = [];
  }
  const set = new Set(['UTC', ...zones]);
  if (set.size === 1) ['Europe/London', 'America/New_York', 'Asia/Shanghai', 'Asia/Tokyo'].forEach((z) => set.add(z));
  return [...set];
}

/** `+08:00` for `zone` now. */
export function zoneOffset(zone: string): string {
  try {
    return dayjs().tz(zone).format('Z');
  } catch {
    return '';
  }
}
