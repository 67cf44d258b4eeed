// Pure helpers for nodes (the processes sharing one database): durations, ages, the summary
// line, ordering and label matching.

import type { Translate } from '../i18n';
import type { NodeInfo, NodeList, NodeState } from '../api/types';

/** The clock skew beyond which a node claims no fires, unless the settings say otherwise. */
export const DEFAULT_MAX_SKEW_MS = 2000;

/** A node id short enough for a table cell (ids are 12 hex digits today: shown whole). */
export function shortNodeId(id: string): string {
  return id.length <= 12 ? id : `${id.slice(0, 8)}…`;
}

/** `42s`, `4m 10s`, `2h 5m`, `3d 4h` (in the language of `t`). */
export function formatUptime(seconds: number, t: Translate): string {
  const s = Math.max(0, Math.floor(Number.isFinite(seconds) ? seconds : 0));
  if (s < 60) return t('dur.s', { s });
  const m = Math.floor(s / 60);
  if (m < 60) return t('dur.ms', { m, s: s % 60 });
  const h = Math.floor(m / 60);
  if (h < 24) return t('dur.hm', { h, m: m % 60 });
  return t('dur.dh', { d: Math.floor(h / 24), h: h % 24 });
}

/** `just now`, `2 s ago`, `4m 10s ago`. */
export function formatAge(seconds: number, t: Translate): string {
  const s = Math.floor(seconds);
  if (s < 1) return t('time.justNow');
  if (s < 60) return t('time.secondsAgo', { n: s });
  return t('time.ago', { age: formatUptime(s, t) });
}

/**
 * Milliseconds to add to this browser's clock to get the answering node's, estimated from the
 * list fetched at `fetchedAt` (browser time). Heartbeat ages are then measured on the same
 * clock the server judges "alive" and "lapsed" by, whatever this browser's clock says.
 */
export function clockOffset(list: NodeList, fetchedAt: number): number {
  const me = list.items.find((n) => n.this);
  if (!me) return 0;
  const started = Date.parse(me.started);
  const heartbeat = Date.parse(me.heartbeat);
  if (Number.isNaN(started)) return 0;
  // uptime_s is whole seconds: the heartbeat (same clock) narrows the estimate.
  let now = started + me.uptime_s * 1000;
  if (!Number.isNaN(heartbeat)) now = Math.max(now, heartbeat);
  return now - fetchedAt;
}

/** Seconds since `node`'s last heartbeat at `now` (server clock, ms). */
export function heartbeatAge(node: NodeInfo, now: number): number {
  return Math.max(0, (now - Date.parse(node.heartbeat)) / 1000);
}

export interface NodeCounts {
  alive: number;
  lapsed: number;
  gone: number;
}

export function countNodes(items: NodeInfo[]): NodeCounts {
  const counts: NodeCounts = { alive: 0, lapsed: 0, gone: 0 };
  for (const n of items) counts[n.state] += 1;
  return counts;
}

/** `2 alive · 1 lapsed · lease 8 s, heartbeat every 2 s` (lapsed and gone only when some are). */
export function nodeSummary(list: NodeList, t: Translate): string {
  const c = countNodes(list.items);
  const parts = [t('nodes.summaryAlive', { n: c.alive })];
  if (c.lapsed) parts.push(t('nodes.summaryLapsed', { n: c.lapsed }));
  if (c.gone) parts.push(t('nodes.summaryGone', { n: c.gone }));
  parts.push(t('nodes.summaryTiming', { lease: list.lease_s, heartbeat: list.heartbeat_s }));
  return parts.join(' · ');
}

const STATE_ORDER: Record<NodeState, number> = { alive: 0, lapsed: 1, gone: 2 };

/** Alive first, then lapsed, then gone; the server's order (oldest first) within each. */
export function sortNodes(items: NodeInfo[]): NodeInfo[] {
  return items
    .map((n, i) => ({ n, i }))
    .sort((a, b) => STATE_ORDER[a.n.state] - STATE_ORDER[b.n.state] || a.i - b.i)
    .map(({ n }) => n);
}

export type SkewLevel = 'ok' | 'warn' | 'error';

/** `error` beyond the allowed skew (the node claims no fires), `warn` beyond half of it. */
export function skewLevel(skewMs: number, maxMs = DEFAULT_MAX_SKEW_MS): SkewLevel {
  const skew = Math.abs(skewMs);
  if (skew > maxMs) return 'error';
  if (skew > maxMs / 2) return 'warn';
  return 'ok';
}

/** A skew in seconds for prose: `0.4`, `3.5`, `125`. */
export function skewSeconds(skewMs: number): string {
  const s = Math.abs(skewMs) / 1000;
  return s < 10 ? String(Math.round(s * 10) / 10) : String(Math.round(s));
}

/** The nodes not gone, sorted labels of which a job can be pinned to. */
export function knownLabels(items: NodeInfo[]): string[] {
  return [...new Set(items.filter((n) => n.state !== 'gone').flatMap((n) => n.labels))].sort();
}

/** The alive nodes that have every one of `labels` (all alive nodes when there are none). */
export function nodesWithLabels(items: NodeInfo[], labels: string[]): NodeInfo[] {
  return items.filter((n) => n.state === 'alive' && labels.every((l) => n.labels.includes(l)));
}
