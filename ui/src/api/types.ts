// JSON shapes of the Kairos API (see crates/core and crates/server).

export type Coalesce = 'latest' | 'earliest' | 'all';

export interface Retries {
  count: number;
  backoff_s?: number;
  factor?: number;
}

export interface Retention {
  max_runs: number;
  max_age_days: number;
}

export interface JobOptions {
  coalesce?: Coalesce;
  max_instances?: number;
  misfire_grace_time_s?: number;
  jitter_s?: number;
  timeout_s?: number;
  retries?: Retries;
  retention?: Retention;
}

export interface CronTrigger {
  type: 'cron';
  expression: string;
  timezone?: string;
  start?: string;
  end?: string;
}

export interface IntervalTrigger {
  type: 'interval';
  weeks?: number;
  days?: number;
  hours?: number;
  minutes?: number;
  seconds?: number;
  milliseconds?: number;
  start?: string;
  end?: string;
  timezone?: string;
}

export interface DateTrigger {
  type: 'date';
  at: string;
  timezone?: string;
}

export type CalendarUnit = 'years' | 'months' | 'weeks' | 'days';

export interface CalendarIntervalTrigger {
  type: 'calendar_interval';
  every: number;
  unit: CalendarUnit;
  start_date: string;
  time?: string;
  timezone?: string;
  end?: string;
}

export interface OrTrigger {
  type: 'or';
  triggers: Trigger[];
}

export interface AndTrigger {
  type: 'and';
  triggers: Trigger[];
  threshold_seconds?: number;
  max_iterations?: number;
}

export type Trigger =
  | CronTrigger
  | IntervalTrigger
  | DateTrigger
  | CalendarIntervalTrigger
  | OrTrigger
  | AndTrigger;

export type TriggerType = Trigger['type'];

export interface ShellAction {
  kind: 'shell';
  command: string;
  shell?: string;
  cwd?: string;
  env?: Record<string, string>;
  output_cap_bytes?: number;
}

export interface HttpAction {
  kind: 'http';
  method?: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  timeout_s?: number;
  expect_status?: [number, number];
}

export interface MonitorAction {
  kind: 'monitor';
}

export interface FunctionAction {
  kind: 'function';
  name: string;
}

export type Action = ShellAction | HttpAction | MonitorAction | FunctionAction;
export type ActionKind = Action['kind'];

export type RunState =
  | 'submitted'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'timed_out'
  | 'cancelled'
  | 'missed'
  | 'skipped'
  | 'abandoned';

export const RUN_STATES: RunState[] = [
  'submitted',
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'missed',
  'skipped',
  'abandoned',
];

/** States that count as a failure on the dashboard. */
export const FAILURE_STATES: RunState[] = ['failed', 'timed_out', 'missed', 'abandoned'];

export function isFinal(state: RunState): boolean {
  return state !== 'submitted' && state !== 'running';
}

/** A job definition as sent to the API (id optional on create). */
export interface JobInput {
  id?: string;
  name: string;
  description?: string;
  tags?: string[];
  trigger: Trigger;
  action: Action;
  options?: JobOptions;
  paused?: boolean;
  pool?: string;
}

export interface LastRun {
  id: number;
  state: RunState;
  scheduled: string;
  finished: string | null;
}

/** A job as the API shows it. */
export interface Job extends Required<Omit<JobInput, 'options'>> {
  options: JobOptions;
  next_run: string | null;
  kind: ActionKind;
  last_run: LastRun | null;
}

export interface JobPage {
  items: Job[];
  total: number;
}

export type JobSort = 'name' | '-name' | 'next_run' | '-next_run';

export interface JobQuery {
  q?: string;
  tag?: string;
  kind?: ActionKind;
  paused?: boolean;
  offset?: number;
  limit?: number;
  sort?: JobSort;
}

export interface RunRecord {
  id: number;
  job_id: string;
  scheduled: string;
  started: string | null;
  finished: string | null;
  state: RunState;
  attempt: number;
  exit_code: number | null;
  http_status: number | null;
  error: string | null;
  /** Absent from run lists; present on a single run. */
  stdout?: string;
  stderr?: string;
}

export interface RunQuery {
  job_id?: string;
  from?: string;
  to?: string;
  state?: RunState[];
  before_id?: number;
  limit?: number;
}

export interface RunBucket {
  start: string;
  state: RunState;
  count: number;
}

export interface DurationStats {
  job_id: string;
  count: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
}

export interface MetricSample {
  at: string;
  cpu_percent: number;
  memory_used: number;
  memory_total: number;
  swap_used: number;
  swap_total: number;
  disk_used: number;
  disk_total: number;
  net_rx_bytes: number;
  net_tx_bytes: number;
  load_1: number;
  load_5: number;
  load_15: number;
}

export interface SchedulerStatus {
  running: boolean;
  paused: boolean;
  jobs: number;
  active_runs: number;
  next_run: string | null;
  stats: {
    started: number;
    lateness_mean_ms: number;
    lateness_p50_ms: number;
    lateness_p99_ms: number;
    lateness_max_ms: number;
  };
}

export interface JobDefaults {
  coalesce: Coalesce;
  max_instances: number;
  misfire_grace_time_s: number | null;
  jitter_s: number;
  timeout_s: number | null;
  retries: Required<Retries>;
  retention: Retention;
}

export interface Settings {
  defaults: JobDefaults;
  pools: Record<string, number>;
}

export interface CronPreviewRequest {
  expression: string;
  timezone?: string;
  count?: number;
  after?: string;
}

export const EVENT_TYPES = [
  'scheduler_started',
  'scheduler_shutdown',
  'scheduler_paused',
  'scheduler_resumed',
  'clock_jumped',
  'job_added',
  'job_modified',
  'job_removed',
  'run_submitted',
  'run_started',
  'run_succeeded',
  'run_failed',
  'run_timed_out',
  'run_cancelled',
  'run_missed',
  'run_skipped',
  'run_abandoned',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** One scheduler event: `{"type","at",…}` plus the fields of its kind. */
export interface KairosEvent {
  type: EventType;
  at: string;
  job_id?: string;
  run_id?: number;
  scheduled?: string;
  error?: string;
  by_ms?: number;
}

export interface ExportDoc {
  version: number;
  jobs: JobInput[];
}
