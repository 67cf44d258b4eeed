// The job editor's form values, and their mapping to and from the API's Job JSON. Form field
// names mirror the JSON paths (`action.url`, `options.retries.count`, …) so the server's
// error `field` lands on the form item it names.

import type { Dayjs } from 'dayjs';
import type {
  Action,
  ActionKind,
  CalendarUnit,
  Coalesce,
  AlertOn,
  FollowOn,
  Job,
  JobInput,
  JobOptions,
  Trigger,
} from '../api/types';
import { dayjs, localZone } from '../util/format';
import { pairs, record, type KeyValue } from '../util/keyValue';
import { emptyDraft, fromDraft, serverErrorAt, toDraft, type WorkflowDraft } from '../util/workflow';

export type TriggerMode = 'cron' | 'interval' | 'date' | 'calendar_interval' | 'json';

export interface FormValues {
  id?: string;
  name: string;
  description?: string;
  tags: string[];
  pool: string;
  paused: boolean;
  /** Labels a node must all have to run the job; empty: any node. */
  node_labels: string[];
  /** Jobs a run's end starts (a chain). */
  then: { job?: string; on?: FollowOn }[];
  /** Which channels hear which outcomes; empty: the defaults' rules. */
  alerts: { channel?: string; on?: AlertOn[]; longer_than_s?: number | null }[];
  kind: ActionKind;
  action: {
    command?: string;
    shell?: string;
    cwd?: string;
    env?: KeyValue[];
    output_cap_bytes?: number;
    method?: string;
    url?: string;
    headers?: KeyValue[];
    body?: string;
    timeout_s?: number | null;
    expect_status?: [number | null, number | null];
    name?: string;
  };
  /** The steps and edges of a workflow (kind `workflow`), as the canvas edits them. */
  workflow: WorkflowDraft;
  /** Unset for a new job until the user chooses how it is triggered. */
  triggerMode?: TriggerMode;
  trigger: {
    expression?: string;
    timezone?: string;
    weeks?: number | null;
    days?: number | null;
    hours?: number | null;
    minutes?: number | null;
    seconds?: number | null;
    start?: Dayjs | null;
    end?: Dayjs | null;
    at?: Dayjs | null;
    every?: number | null;
    unit?: CalendarUnit;
    start_date?: Dayjs | null;
    time?: Dayjs | null;
    json?: string;
  };
  options: {
    coalesce?: Coalesce | null;
    max_instances?: number | null;
    misfire_grace_time_s?: number | null;
    jitter_s?: number | null;
    timeout_s?: number | null;
    retries?: { count?: number | null; backoff_s?: number | null; factor?: number | null };
  };
}

/** Converts an instant to a picker value that shows its wall-clock time in `zone`. */
function toWallClock(iso: string | null | undefined, zone: string): Dayjs | null {
  if (!iso) return null;
  return dayjs(dayjs(iso).tz(zone).format('YYYY-MM-DDTHH:mm:ss'));
}

/** Reads a picker value's wall-clock time as an instant in `zone`. */
function fromWallClock(value: Dayjs | null | undefined, zone: string): string | undefined {
  if (!value) return undefined;
  return dayjs.tz(value.format('YYYY-MM-DDTHH:mm:ss'), zone).toISOString();
}

function num(v: number | null | undefined): number | undefined {
  return v === null || v === undefined || Number.isNaN(v) ? undefined : v;
}

/** The form a new job starts from. */
export function newJobForm(pool = 'default'): FormValues {
  return {
    name: '',
    description: '',
    tags: [],
    pool,
    paused: false,
    node_labels: [],
    then: [],
    alerts: [],
    kind: 'shell',
    action: { command: '', shell: 'sh', env: [], method: 'GET', headers: [], expect_status: [200, 299] },
    workflow: emptyDraft(),
    // No schedule nobody chose: the user picks the trigger type, then fills it in.
    triggerMode: undefined,
    trigger: {
      expression: '',
      timezone: localZone(),
      every: 1,
      unit: 'days',
      start_date: dayjs().startOf('day'),
      time: dayjs().hour(9).minute(0).second(0),
      at: dayjs().add(1, 'hour').startOf('hour'),
    },
    options: {},
  };
}

/** The form values of an existing job. */
export function jobToForm(job: Job): FormValues {
  const form = newJobForm(job.pool);
  form.id = job.id;
  form.name = job.name;
  form.description = job.description;
  form.tags = job.tags ?? [];
  form.paused = job.paused ?? false;
  form.node_labels = job.node_labels ?? [];
  form.then = (job.then ?? []).map((f) => ({ job: f.job, on: f.on ?? 'succeeded' }));
  form.alerts = (job.options?.alerts ?? []).map((r) => ({ channel: r.channel, on: r.on, longer_than_s: r.longer_than_s ?? null }));
  form.kind = job.action.kind;
  const a = job.action;
  switch (a.kind) {
    case 'shell':
      form.action = {
        ...form.action,
        command: a.command,
        shell: a.shell ?? 'sh',
        cwd: a.cwd ?? undefined,
        env: pairs(a.env),
        output_cap_bytes: a.output_cap_bytes,
      };
      break;
    case 'http':
      form.action = {
        ...form.action,
        method: a.method ?? 'GET',
        url: a.url,
        headers: pairs(a.headers),
        body: a.body ?? undefined,
        timeout_s: a.timeout_s,
        // A [lowest, highest] pair (the schema only says an array).
        expect_status: a.expect_status ? [a.expect_status[0] ?? null, a.expect_status[1] ?? null] : [200, 299],
      };
      break;
    case 'function':
      form.action = { ...form.action, name: a.name };
      break;
    case 'monitor':
      break;
    case 'workflow':
      form.workflow = toDraft(a);
      break;
  }
  const tr = job.trigger;
  const zone = ('timezone' in tr && tr.timezone) || 'UTC';
  form.trigger.timezone = zone;
  switch (tr.type) {
    case 'cron':
      form.triggerMode = 'cron';
      form.trigger.expression = tr.expression;
      form.trigger.start = toWallClock(tr.start, zone);
      form.trigger.end = toWallClock(tr.end, zone);
      break;
    case 'interval':
      form.triggerMode = 'interval';
      Object.assign(form.trigger, {
        weeks: tr.weeks ?? null,
        days: tr.days ?? null,
        hours: tr.hours ?? null,
        minutes: tr.minutes ?? null,
        seconds: (tr.seconds ?? 0) + (tr.milliseconds ?? 0) / 1000 || null,
        start: toWallClock(tr.start, zone),
        end: toWallClock(tr.end, zone),
      });
      break;
    case 'date':
      form.triggerMode = 'date';
      form.trigger.at = toWallClock(tr.at, zone);
      break;
    case 'calendar_interval':
      form.triggerMode = 'calendar_interval';
      form.trigger.every = tr.every;
      form.trigger.unit = tr.unit;
      form.trigger.start_date = dayjs(tr.start_date);
      form.trigger.time = dayjs(`2000-01-01T${tr.time ?? '00:00:00'}`);
      form.trigger.end = toWallClock(tr.end, zone);
      break;
    default:
      form.triggerMode = 'json';
  }
  form.trigger.json = JSON.stringify(tr, null, 2);
  const o = job.options ?? {};
  form.options = {
    coalesce: o.coalesce ?? null,
    max_instances: o.max_instances ?? null,
    misfire_grace_time_s: o.misfire_grace_time_s ?? null,
    jitter_s: o.jitter_s ?? null,
    timeout_s: o.timeout_s ?? null,
    retries: o.retries
      ? { count: o.retries.count, backoff_s: o.retries.backoff_s ?? null, factor: o.retries.factor ?? null }
      : {},
  };
  return form;
}

/** Thrown when the JSON trigger text does not parse. */
export class TriggerJsonError extends Error {}

/** The trigger the form describes. */
export function formTrigger(values: FormValues): Trigger {
  const tr = values.trigger;
  const zone = tr.timezone || 'UTC';
  switch (values.triggerMode) {
    case 'cron':
      return {
        type: 'cron',
        expression: (tr.expression ?? '').trim(),
        timezone: zone,
        start: fromWallClock(tr.start, zone),
        end: fromWallClock(tr.end, zone),
      };
    case 'interval': {
      const seconds = num(tr.seconds) ?? 0;
      return {
        type: 'interval',
        weeks: num(tr.weeks),
        days: num(tr.days),
        hours: num(tr.hours),
        minutes: num(tr.minutes),
        seconds: Math.floor(seconds) || undefined,
        milliseconds: Math.round((seconds % 1) * 1000) || undefined,
        start: fromWallClock(tr.start, zone),
        end: fromWallClock(tr.end, zone),
        timezone: zone,
      };
    }
    case 'date':
      return { type: 'date', at: fromWallClock(tr.at, zone) ?? '', timezone: zone };
    case 'calendar_interval':
      return {
        type: 'calendar_interval',
        every: num(tr.every) ?? 1,
        unit: tr.unit ?? 'days',
        start_date: tr.start_date ? tr.start_date.format('YYYY-MM-DD') : '',
        time: tr.time ? tr.time.format('HH:mm:ss') : '00:00:00',
        timezone: zone,
        end: fromWallClock(tr.end, zone),
      };
    case 'json':
      try {
        return JSON.parse(tr.json ?? '') as Trigger;
      } catch (e) {
        throw new TriggerJsonError(e instanceof Error ? e.message : String(e));
      }
    case undefined:
      throw new TriggerJsonError('no trigger type is chosen');
  }
}

function formAction(values: FormValues): Action {
  const a = values.action;
  switch (values.kind) {
    case 'shell':
      return {
        kind: 'shell',
        command: a.command ?? '',
        shell: a.shell?.trim() || 'sh',
        cwd: a.cwd?.trim() || undefined,
        env: record(a.env),
        output_cap_bytes: a.output_cap_bytes,
      };
    case 'http': {
      const [from, to] = a.expect_status ?? [200, 299];
      return {
        kind: 'http',
        method: a.method || 'GET',
        url: (a.url ?? '').trim(),
        headers: record(a.headers),
        body: a.body ? a.body : undefined,
        timeout_s: num(a.timeout_s),
        expect_status: [from ?? 200, to ?? from ?? 299],
      };
    }
    case 'monitor':
      return { kind: 'monitor' };
    case 'function':
      return { kind: 'function', name: a.name ?? '' };
    case 'workflow':
      return { kind: 'workflow', ...fromDraft(values.workflow ?? emptyDraft()) };
  }
}

function formOptions(values: FormValues): JobOptions {
  const o = values.options ?? {};
  const options: JobOptions = {};
  if (o.coalesce) options.coalesce = o.coalesce;
  const set = <K extends 'max_instances' | 'misfire_grace_time_s' | 'jitter_s' | 'timeout_s'>(k: K) => {
    const v = num(o[k]);
    if (v !== undefined) options[k] = v;
  };
  set('max_instances');
  set('misfire_grace_time_s');
  set('jitter_s');
  set('timeout_s');
  const count = num(o.retries?.count);
  if (count !== undefined) {
    options.retries = { count };
    const backoff = num(o.retries?.backoff_s);
    const factor = num(o.retries?.factor);
    if (backoff !== undefined) options.retries.backoff_s = backoff;
    if (factor !== undefined) options.retries.factor = factor;
  }
  return options;
}

/** The job JSON the form describes (without undefined members). */
export function formToJob(values: FormValues, keep?: Job): JobInput {
  const options = formOptions(values);
  // Retention is not on the form: keep what the job had.
  if (keep?.options?.retention) options.retention = keep.options.retention;
  const alerts = (values.alerts ?? [])
    .filter((r) => r.channel && r.on?.length)
    .map((r) => ({ channel: r.channel!, on: r.on!, ...(r.on!.includes('slow') && num(r.longer_than_s) !== undefined ? { longer_than_s: num(r.longer_than_s) } : {}) }));
  // No rows: the defaults' rules, unless the job had said "none" ([]).
  if (alerts.length || keep?.options?.alerts?.length === 0) options.alerts = alerts;
  const job: JobInput = {
    name: values.name.trim(),
    description: values.description ?? '',
    tags: values.tags ?? [],
    trigger: formTrigger(values),
    action: formAction(values),
    options,
    paused: values.paused,
    pool: values.pool || 'default',
  };
  // Absent means any node; a save without labels clears them (PUT replaces the whole job).
  const labels = [...new Set((values.node_labels ?? []).map((l) => l.trim()).filter(Boolean))];
  if (labels.length) job.node_labels = labels;
  const then = (values.then ?? []).filter((f) => f.job).map((f) => ({ job: f.job!, on: f.on ?? 'succeeded' }));
  if (then.length) job.then = then;
  if (values.id?.trim()) job.id = values.id.trim();
  return JSON.parse(JSON.stringify(job)) as JobInput;
}

/** Where on the form a server error about `field` belongs, or null for "the whole form". */
export function errorTarget(field: string | null, message: string, values: FormValues): (string | number)[] | null {
  if (!field) return null;
  if (field === 'trigger' || field.startsWith('trigger.')) {
    const rest = field.slice('trigger.'.length);
    if (values.triggerMode === undefined) return ['triggerMode'];
    if (values.triggerMode === 'json') return ['trigger', 'json'];
    const lower = message.toLowerCase();
    if (rest === 'timezone' || lower.includes('timezone') || lower.includes('time zone')) return ['trigger', 'timezone'];
    if (rest === 'start' || /^start\b/.test(lower)) return ['trigger', 'start'];
    if (rest === 'end' || /^end\b/.test(lower)) return ['trigger', 'end'];
    switch (values.triggerMode) {
      case 'cron':
        return ['trigger', 'expression'];
      case 'interval':
        return ['trigger', 'period'];
      case 'date':
        return ['trigger', 'at'];
      case 'calendar_interval':
        return lower.startsWith('every') ? ['trigger', 'every'] : ['trigger', 'start_date'];
    }
  }
  if (field === 'action.expect_status' || field.startsWith('action.expect_status')) return ['action', 'expect_status', 0];
  if (field.startsWith('action.env')) return ['action', 'env'];
  if (field.startsWith('action.headers')) return ['action', 'headers'];
  if (field === 'action' || field === 'action.kind') return ['kind'];
  // Anything about a step or an edge: under the canvas (the editor names the step).
  if (values.kind === 'workflow' && serverErrorAt(field, values.workflow ?? emptyDraft())) return ['workflow'];
  if (field === 'options.retries') return ['options', 'retries', 'count'];
  const rule = /^options\.alerts\[(\d+)\]\.?(\w*)/.exec(field);
  if (rule) return ['alerts', Number(rule[1]), rule[2] || 'channel'];
  const link = /^then\[(\d+)\]/.exec(field);
  if (link) return ['then', Number(link[1]), 'job'];
  const known = [
    'id',
    'name',
    'description',
    'tags',
    'pool',
    'paused',
    'node_labels',
    'action.command',
    'action.shell',
    'action.cwd',
    'action.output_cap_bytes',
    'action.method',
    'action.url',
    'action.body',
    'action.timeout_s',
    'action.name',
    'options.coalesce',
    'options.max_instances',
    'options.misfire_grace_time_s',
    'options.jitter_s',
    'options.timeout_s',
    'options.retries.count',
    'options.retries.backoff_s',
    'options.retries.factor',
  ];
  const base = field.replace(/\[\d+\]$/, '');
  return known.includes(base) ? base.split('.') : null;
}
