import { afterEach, describe, expect, it } from 'vitest';
import 'dayjs/locale/zh-cn';
import { dayjs, formatBytes, formatDuration } from './format';
import { intervalText } from './trigger';

describe('durations speak the UI’s language', () => {
  afterEach(() => {
    dayjs.locale('en');
  });

  it('in English', () => {
    dayjs.locale('en');
    expect(formatDuration(42)).toBe('42 ms');
    expect(formatDuration(1500)).toBe('1.50 s');
    expect(formatDuration(125_000)).toBe('2 m 05 s');
    expect(formatDuration(3_900_000)).toBe('1 h 05 m');
    expect(intervalText({ type: 'interval', hours: 1, minutes: 30, timezone: 'UTC' })).toBe('1h 30m');
  });

  it('in 简体中文', () => {
    dayjs.locale('zh-cn');
    expect(formatDuration(42)).toBe('42 毫秒');
    expect(formatDuration(125_000)).toBe('2 分 05 秒');
    expect(formatDuration(3_900_000)).toBe('1 小时 05 分');
    expect(intervalText({ type: 'interval', seconds: 10, timezone: 'UTC' })).toBe('10秒');
    expect(intervalText({ type: 'interval', weeks: 1, days: 2, timezone: 'UTC' })).toBe('1周 2天');
  });
});

describe('sizes in binary units', () => {
  it('picks the unit and keeps a decimal below 10', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(512 * 1024)).toBe('512 KiB');
    // A run's peak memory, given in KiB.
    expect(formatBytes(3482 * 1024)).toBe('3.4 MiB');
    expect(formatBytes(20_000 * 1024)).toBe('20 MiB');
    expect(formatBytes(1.5 * 1024 ** 3)).toBe('1.5 GiB');
  });
});
