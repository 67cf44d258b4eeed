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
  /** Labels a node must all have to run this job (`kairos serve --label gpu`); empty or absent: any node. */
  node_labels?: string[];
}

export interface LastRun {
  id: number;
  state: RunState;
  scheduled: string;
  finished: string | null;
}

/** A job as the API shows it. */
export interface Job extends Required<Omit<JobInput, 'options' | 'node_labels'>> {
  options: JobOptions;
  /** Absent when the job runs on any node. */
  node_labels?: string[];
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
  /** The id of the node that claimed and ran it; null for runs from before nodes existed. */
  node: string | null;
  /** Started by "run now", outside the schedule. */
  manual: boolean;
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
  /** The id of the node answering. */
  node: string;
  /** How far this machine's clock is from the database's, in milliseconds. */
  clock_skew_ms: number;
  /** The skew is beyond what the settings allow: this node claims no fires until it is fixed. */
  clock_skewed: boolean;
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

/** How the processes sharing one database watch each other. */
export interface ClusterSettings {
  heartbeat_s: number;
  lease_s: number;
  max_skew_ms: number;
}

export interface Settings {
  defaults: JobDefaults;
  pools: Record<string, number>;
  /** Absent from servers before nodes existed. */
  cluster?: ClusterSettings;
}

/** alive: heartbeat within the lease; lapsed: older (its runs are about to be taken over);
 * gone: shut down or taken over (listed for a day). */
export type NodeState = 'alive' | 'lapsed' | 'gone';

/** One process sharing the database: a `kairos serve`, the desktop app, a library program. */
export interface NodeInfo {
  id: string;
  host: string;
  pid: number;
  version: string;
  labels: string[];
  started: string;
  heartbeat: string;
  left: string | null;
  /** Seconds since it started (until it left). */
  uptime_s: number;
  /** How far its clock was from the database's at its last heartbeat. */
  clock_skew_ms: number;
  /** Its runs now queued or running. */
  running: number;
  state: NodeState;
  /** The node answering the request. */
  this: boolean;
}

export interface NodeList {
  items: NodeInfo[];
  /** Seconds without a heartbeat after which a node's work is taken over. */
  lease_s: number;
  /** Seconds between heartbeats. */
  heartbeat_s: number;
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
