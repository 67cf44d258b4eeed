// The visual cron builder's model: a 5-field expression as one choice per field (every /
// specific values / range / step), and the mapping between it and the expression text.
// Anything the builder cannot show faithfully (seconds, years, L, W, #, ?, mixed lists) is
// refused, and the editor falls back to "advanced" (raw text) mode. Fire times always come
// from the engine (POST /api/cron/preview), never from here.

export type FieldName = 'minute' | 'hour' | 'dom' | 'month' | 'dow';

export const FIELD_NAMES: FieldName[] = ['minute', 'hour', 'dom', 'month', 'dow'];

export type FieldSpec =
  | { mode: 'every' }
  | { mode: 'values'; values: number[] }
  | { mode: 'range'; from: number; to: number }
  /** `*\/step` (start null), `start/step`, or `start-end/step`. */
  | { mode: 'step'; start: number | null; end: number | null; step: number };

export type FieldMode = FieldSpec['mode'];

export interface CronFields {
  minute: FieldSpec;
  hour: FieldSpec;
  dom: FieldSpec;
  month: FieldSpec;
  dow: FieldSpec;
  /** Write months / weekdays as names (jan, mon) rather than numbers. */
  names?: { month?: boolean; dow?: boolean };
}

/** Smallest and largest value of each field (day of week: 0 and 7 are Sunday). */
export const FIELD_BOUNDS: Record<FieldName, [number, number]> = {
  minute: [0, 59],
  hour: [0, 23],
  dom: [1, 31],
  month: [1, 12],
  dow: [0, 7],
};

export const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
export const DOW_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const NAME_PATTERN = new RegExp(`${[...MONTH_NAMES, ...DOW_NAMES].join('|')}`, 'g');

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/**
 * A builder model, or why there is none: `invalid` when the text is not a valid expression at
 * all (the server will say what is wrong), otherwise it is valid but beyond the builder.
 */
export type ParseResult = { ok: true; fields: CronFields } | { ok: false; reason: string; invalid: boolean };

/** Valid cron, but beyond what the builder shows. */
class Unrepresentable extends Error {}
/** Not valid cron at all. */
class Invalid extends Error {}

function nameValue(field: FieldName, token: string): number {
  const lower = token.toLowerCase();
  if (field === 'month') {
    const i = MONTH_NAMES.indexOf(lower);
    if (i >= 0) return i + 1;
  }
  if (field === 'dow') {
    const i = DOW_NAMES.indexOf(lower);
    if (i >= 0) return i;
  }
  if (!/^\d+$/.test(token)) throw new Invalid(`'${token}' is not a number`);
  const value = Number(token);
  const [lo, hi] = FIELD_BOUNDS[field];
  if (value < lo || value > hi) throw new Invalid(`${value} is out of range ${lo}-${hi}`);
  return value;
}

function parseField(field: FieldName, text: string): { spec: FieldSpec; names: boolean } {
  const withoutNames = text.toLowerCase().replace(NAME_PATTERN, '');
  if (/[lw#?]/.test(withoutNames)) {
    throw new Unrepresentable(`'${text}' uses L, W, # or ?`);
  }
  const names = /[a-z]/i.test(text);
  if (text === '*') return { spec: { mode: 'every' }, names };
  if (text.includes('/')) {
    const [base, stepText, ...rest] = text.split('/');
    if (rest.length || !/^\d+$/.test(stepText)) throw new Invalid(`bad step '${text}'`);
    const step = Number(stepText);
    if (step < 1) throw new Invalid('a step must be at least 1');
    if (base === '*') return { spec: { mode: 'step', start: null, end: null, step }, names };
    if (base.includes(',')) throw new Unrepresentable(`'${text}' mixes a list and a step`);
    if (base.includes('-')) {
      const [a, b] = base.split('-');
      const from = nameValue(field, a);
      const to = nameValue(field, b);
      if (from > to) throw new Invalid(`range ${a}-${b} runs backwards`);
      return { spec: { mode: 'step', start: from, end: to, step }, names };
    }
    return { spec: { mode: 'step', start: nameValue(field, base), end: null, step }, names };
  }
  if (text.includes(',')) {
    const parts = text.split(',');
    if (parts.some((p) => p.includes('-') || p === '*' || p === '')) {
      throw new Unrepresentable(`'${text}' mixes ranges into a list`);
    }
    return { spec: { mode: 'values', values: normalizeValues(field, parts.map((p) => nameValue(field, p))) }, names };
  }
  if (text.includes('-')) {
    const parts = text.split('-');
    if (parts.length !== 2) throw new Invalid(`bad range '${text}'`);
    const from = nameValue(field, parts[0]);
    const to = nameValue(field, parts[1]);
    if (from > to) throw new Invalid(`range ${text} runs backwards`);
    return { spec: { mode: 'range', from, to }, names };
  }
  return { spec: { mode: 'values', values: normalizeValues(field, [nameValue(field, text)]) }, names };
}

/** Sorted, without duplicates; Sunday as 0. */
export function normalizeValues(field: FieldName, values: number[]): number[] {
  const mapped = field === 'dow' ? values.map((v) => (v === 7 ? 0 : v)) : values;
  return [...new Set(mapped)].sort((a, b) => a - b);
}

/** The builder's model of `expression`, or why the builder cannot show it. */
export function parseCron(expression: string): ParseResult {
  let text = expression.trim();
  const macro = MACROS[text.toLowerCase()];
  if (macro) text = macro;
  if (text.startsWith('@')) return { ok: false, reason: `unknown macro '${text}'`, invalid: true };
  const parts = text.split(/\s+/).filter(Boolean);
  if (parts.length !== 5) {
    const extended = parts.length === 6 || parts.length === 7;
    return {
      ok: false,
      reason: extended ? 'seconds or years are not shown by the builder' : `expected 5 fields, found ${parts.length}`,
      invalid: !extended,
    };
  }
  try {
    const fields = {} as CronFields;
    const names: { month?: boolean; dow?: boolean } = {};
    FIELD_NAMES.forEach((name, i) => {
      const { spec, names: usesNames } = parseField(name, parts[i]);
      fields[name] = spec;
      if (usesNames && (name === 'month' || name === 'dow')) names[name] = true;
    });
    if (names.month || names.dow) fields.names = names;
    return { ok: true, fields };
  } catch (e) {
    if (e instanceof Unrepresentable) return { ok: false, reason: e.message, invalid: false };
    if (e instanceof Invalid) return { ok: false, reason: e.message, invalid: true };
    throw e;
  }
}

function valueText(field: FieldName, value: number, names: boolean): string {
  if (names && field === 'month' && value >= 1 && value <= 12) return MONTH_NAMES[value - 1];
  if (names && field === 'dow' && value >= 0 && value <= 7) return DOW_NAMES[value % 7];
  return String(value);
}

function fieldText(field: FieldName, spec: FieldSpec, names: boolean): string {
  const v = (n: number) => valueText(field, n, names);
  switch (spec.mode) {
    case 'every':
      return '*';
    case 'values': {
      const values = normalizeValues(field, spec.values);
      return values.length ? values.map(v).join(',') : '*';
    }
    case 'range':
      return spec.from === spec.to ? v(spec.from) : `${v(spec.from)}-${v(spec.to)}`;
    case 'step': {
      const base =
        spec.start === null ? '*' : spec.end === null ? v(spec.start) : `${v(spec.start)}-${v(spec.end)}`;
      return `${base}/${Math.max(1, spec.step)}`;
    }
  }
}

/** The expression text of a builder model. */
export function buildCron(fields: CronFields): string {
  return FIELD_NAMES.map((name) =>
    fieldText(name, fields[name], name === 'month' || name === 'dow' ? !!fields.names?.[name] : false),
  ).join(' ');
}

/** Whether two expressions have the same builder model (so the raw text need not change). */
export function sameSchedule(a: string, b: string): boolean {
  const pa = parseCron(a);
  const pb = parseCron(b);
  if (!pa.ok || !pb.ok) return a.trim() === b.trim();
  return buildCron({ ...pa.fields, names: undefined }) === buildCron({ ...pb.fields, names: undefined });
}

/** A sensible spec when the user switches `field` to `mode`. */
export function defaultSpec(field: FieldName, mode: FieldMode, current?: FieldSpec): FieldSpec {
  const [lo, hi] = FIELD_BOUNDS[field];
  const top = field === 'dow' ? 6 : hi;
  switch (mode) {
    case 'every':
      return { mode: 'every' };
    case 'values':
      if (current?.mode === 'range') return { mode: 'values', values: [current.from] };
      return { mode: 'values', values: [field === 'dow' ? 1 : lo] };
    case 'range':
      if (current?.mode === 'values' && current.values.length) {
        return { mode: 'range', from: current.values[0], to: current.values[current.values.length - 1] };
      }
      return field === 'dow' ? { mode: 'range', from: 1, to: 5 } : { mode: 'range', from: lo, to: top };
    case 'step':
      return {
        mode: 'step',
        start: null,
        end: null,
        step: field === 'minute' ? 15 : field === 'hour' ? 2 : 2,
      };
  }
}

export type PresetKey =
  | 'everyMinute'
  | 'every5Minutes'
  | 'every15Minutes'
  | 'hourly'
  | 'dailyMidnight'
  | 'daily0900'
  | 'weekdays0900'
  | 'mondays0900'
  | 'firstOfMonth'
  | 'yearly';

export interface Preset {
  key: PresetKey;
  expression: string;
}

/** One-click schedules; their labels live in the i18n dictionary under `preset.<key>`. */
export const PRESETS: Preset[] = [
  { key: 'everyMinute', expression: '* * * * *' },
  { key: 'every5Minutes', expression: '*/5 * * * *' },
  { key: 'every15Minutes', expression: '*/15 * * * *' },
  { key: 'hourly', expression: '0 * * * *' },
  { key: 'dailyMidnight', expression: '0 0 * * *' },
  { key: 'daily0900', expression: '0 9 * * *' },
  { key: 'weekdays0900', expression: '0 9 * * 1-5' },
  { key: 'mondays0900', expression: '0 9 * * 1' },
  { key: 'firstOfMonth', expression: '0 0 1 * *' },
  { key: 'yearly', expression: '0 0 1 1 *' },
];

/** The preset `expression` amounts to, if any. */
export function matchPreset(expression: string): Preset | undefined {
  const parsed = parseCron(expression);
  if (!parsed.ok) return undefined;
  const built = buildCron({ ...parsed.fields, names: undefined });
  return PRESETS.find((p) => p.expression === built);
}
