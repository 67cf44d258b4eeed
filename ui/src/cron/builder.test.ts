import { describe, expect, it } from 'vitest';
import {
  PRESETS,
  buildCron,
  defaultSpec,
  matchPreset,
  parseCron,
  sameSchedule,
  type CronFields,
} from './builder';

function fields(expression: string): CronFields {
  const r = parseCron(expression);
  if (!r.ok) throw new Error(`not representable: ${expression}: ${r.reason}`);
  return r.fields;
}

describe('cron builder: expression → fields → expression', () => {
  it('round-trips every preset exactly', () => {
    for (const preset of PRESETS) {
      expect(buildCron(fields(preset.expression))).toBe(preset.expression);
      expect(matchPreset(preset.expression)?.key).toBe(preset.key);
    }
  });

  it.each([
    '*/5 * * * *',
    '5/15 * * * *',
    '0-30/10 8-18/2 * * *',
    '0 9-17 * * *',
    '0,15,30,45 * * * *',
    '30 2 1,15 * *',
    '0 0 1 1-6 *',
    '0 12 * 6 0',
  ])('round-trips %s', (expression) => {
    expect(buildCron(fields(expression))).toBe(expression);
  });

  it('reads steps, ranges and lists into their modes', () => {
    const f = fields('*/15 9-17 1,15 */3 1-5');
    expect(f.minute).toEqual({ mode: 'step', start: null, end: null, step: 15 });
    expect(f.hour).toEqual({ mode: 'range', from: 9, to: 17 });
    expect(f.dom).toEqual({ mode: 'values', values: [1, 15] });
    expect(f.month).toEqual({ mode: 'step', start: null, end: null, step: 3 });
    expect(f.dow).toEqual({ mode: 'range', from: 1, to: 5 });
    expect(fields('10-40/5 * * * *').minute).toEqual({ mode: 'step', start: 10, end: 40, step: 5 });
  });

  it('reads month and weekday names and writes them back as names', () => {
    const f = fields('0 9 * jan-jun MON-FRI');
    expect(f.month).toEqual({ mode: 'range', from: 1, to: 6 });
    expect(f.dow).toEqual({ mode: 'range', from: 1, to: 5 });
    expect(buildCron(f)).toBe('0 9 * jan-jun mon-fri');
    expect(buildCron(fields('0 9 * * sat,sun'))).toBe('0 9 * * sun,sat');
    expect(buildCron(fields('0 0 * * wed'))).toBe('0 0 * * wed');
    expect(buildCron(fields('0 0 * jul *'))).toBe('0 0 * jul *');
    // numbers stay numbers
    expect(buildCron(fields('0 9 * * 1-5'))).toBe('0 9 * * 1-5');
  });

  it('treats 7 as Sunday in a list, sorts and de-duplicates values', () => {
    expect(fields('0 0 * * 7').dow).toEqual({ mode: 'values', values: [0] });
    expect(buildCron(fields('0 0 * * 5,7,0,5'))).toBe('0 0 * * 0,5');
    expect(buildCron(fields('45,5,30 * * * *'))).toBe('5,30,45 * * * *');
  });

  it('maps macros to their fields', () => {
    expect(buildCron(fields('@daily'))).toBe('0 0 * * *');
    expect(buildCron(fields('@hourly'))).toBe('0 * * * *');
    expect(buildCron(fields('@weekly'))).toBe('0 0 * * 0');
    expect(buildCron(fields('@monthly'))).toBe('0 0 1 * *');
    expect(buildCron(fields('@yearly'))).toBe('0 0 1 1 *');
    expect(matchPreset('@midnight')?.key).toBe('dailyMidnight');
  });

  it('round-trips the model too: parse(build(m)) equals m', () => {
    const models: CronFields[] = [
      {
        minute: { mode: 'values', values: [0, 30] },
        hour: { mode: 'step', start: 8, end: 20, step: 4 },
        dom: { mode: 'every' },
        month: { mode: 'range', from: 3, to: 10 },
        dow: { mode: 'values', values: [1, 3, 5] },
      },
      {
        minute: { mode: 'step', start: 7, end: null, step: 20 },
        hour: { mode: 'every' },
        dom: { mode: 'range', from: 1, to: 7 },
        month: { mode: 'every' },
        dow: { mode: 'range', from: 1, to: 5 },
        names: { dow: true },
      },
    ];
    for (const m of models) expect(fields(buildCron(m))).toEqual(m);
  });

  it('tolerates extra spaces and compares schedules by meaning', () => {
    expect(buildCron(fields('  0   9 * *   1-5 '))).toBe('0 9 * * 1-5');
    expect(sameSchedule('0 9 * * mon-fri', '0 9 * * 1-5')).toBe(true);
    expect(sameSchedule('0 9 * * 1-5', '0 10 * * 1-5')).toBe(false);
  });
});

describe('cron builder: what it refuses (advanced mode)', () => {
  it.each([
    ['0 0 L * *', 'L'],
    ['0 0 15W * *', 'W'],
    ['0 0 LW * *', 'LW'],
    ['0 0 * * 5L', 'last Friday'],
    ['0 0 * * 5#2', 'nth weekday'],
    ['0 0 ? * 1', 'question mark'],
    ['0 0 9 * * *', 'seconds'],
    ['0 0 9 * * * 2030', 'years'],
    ['1-5,10 * * * *', 'range inside a list'],
    ['*/5,7 * * * *', 'step inside a list'],
    ['1,2/5 * * * *', 'list with a step'],
    ['60 * * * *', 'out of range'],
    ['0 24 * * *', 'out of range hour'],
    ['0 0 0 * *', 'day 0'],
    ['0 0 * 13 *', 'month 13'],
    ['30-10 * * * *', 'backwards range'],
    ['*/0 * * * *', 'zero step'],
    ['0 0 * * funday', 'bad name'],
    ['@reboot', 'unknown macro'],
    ['* * * *', 'too few fields'],
    ['', 'empty'],
  ])('%s (%s)', (expression) => {
    const r = parseCron(expression);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).not.toBe('');
  });

  it('tells valid-but-advanced expressions from invalid ones', () => {
    const invalid = (e: string) => {
      const r = parseCron(e);
      return r.ok ? null : r.invalid;
    };
    for (const e of ['0 0 L * *', '0 0 * * 5#2', '0 0 9 * * *', '1-5,10 * * * *', '0 0 ? * 1']) expect(invalid(e)).toBe(false);
    for (const e of ['60 * * * *', '30-10 * * * *', '*/0 * * * *', '0 0 * * funday', '* * * *', '', '@reboot']) {
      expect(invalid(e)).toBe(true);
    }
  });
});

describe('cron builder: mode switches', () => {
  it('turns a list into a range and back', () => {
    const range = defaultSpec('hour', 'range', { mode: 'values', values: [9, 12, 17] });
    expect(range).toEqual({ mode: 'range', from: 9, to: 17 });
    expect(defaultSpec('hour', 'values', range)).toEqual({ mode: 'values', values: [9] });
    expect(defaultSpec('dow', 'range')).toEqual({ mode: 'range', from: 1, to: 5 });
    expect(buildCron({ ...fields('0 9 * * *'), minute: defaultSpec('minute', 'step') })).toBe('*/15 9 * * *');
  });
});
