// Names for the JSON shapes of the Kairos API. The shapes themselves are generated from the
// server's OpenAPI document into schema.gen.ts (`npm run gen:api`); nothing here repeats a field
// list. What is left is hand-written on purpose: runtime lists of enum values (checked against
// the generated unions below) and query shapes the client encodes differently from the wire.

import type { components, operations } from './schema.gen';

type Schemas = components['schemas'];
/** The query parameters of an operation. */
type QueryOf<Op extends keyof operations> = NonNullable<operations[Op]['parameters']['query']>;

export type Coalesce = Schemas['Coalesce'];
export type Retries = Schemas['Retries'];
export type Retention = Schemas['Retention'];
export type JobOptions = Schemas['JobOptions'];
export type Follow = Schemas['Follow'];
export type AlertOn = Schemas['AlertOn'];
export type AlertRule = Schemas['AlertRule'];
export type Channel = Schemas['Channel'];
export type ChannelTarget = Schemas['Target'];
export type ChannelKind = ChannelTarget['kind'];
export type Delivery = Schemas['Delivery'];
export type DeliveryQuery = QueryOf<'list_deliveries'>;
export type FollowOn = Schemas['FollowOn'];

export type Trigger = Schemas['Trigger'];
export type TriggerType = Trigger['type'];
export type CronTrigger = Extract<Trigger, { type: 'cron' }>;
export type IntervalTrigger = Extract<Trigger, { type: 'interval' }>;
export type DateTrigger = Extract<Trigger, { type: 'date' }>;
export type CalendarIntervalTrigger = Extract<Trigger, { type: 'calendar_interval' }>;
export type OrTrigger = Extract<Trigger, { type: 'or' }>;
export type AndTrigger = Extract<Trigger, { type: 'and' }>;
export type CalendarUnit = Schemas['CalendarUnit'];

export type Action = Schemas['Action'];
export type ActionKind = Schemas['ActionKind'];
export type ShellAction = Extract<Action, { kind: 'shell' }>;
export type HttpAction = Extract<Action, { kind: 'http' }>;
export type MonitorAction = Extract<Action, { kind: 'monitor' }>;
export type FunctionAction = Extract<Action, { kind: 'function' }>;
export type WorkflowAction = Extract<Action, { kind: 'workflow' }>;
/** A workflow's steps and edges (the action without its `kind`). */
export type Workflow = Schemas['WorkflowAction'];
/** One step of a workflow: an action of its own, or an existing job's. */
export type Step = Schemas['Step'];
/** `to` starts after `from` ends as `on` says. */
export type Edge = Schemas['Edge'];

export type RunState = Schemas['RunState'];
/** A server message's stable code and parameters, for the UI to say in its language. */
export type Problem = Schemas['Problem'];

/**
 * `values`, checked at compile time to name every member of the generated union `T`: a value
 * the server adds fails to compile where its runtime list is, until it is listed.
 */
function listAll<T extends string>() {
  return <const L extends readonly T[]>(
    values: L & ([Exclude<T, L[number]>] extends [never] ? unknown : { missing: Exclude<T, L[number]> }),
  ): T[] => [...values];
}

export const RUN_STATES = listAll<RunState>()([
  'submitted',
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'missed',
  'skipped',
  'abandoned',
]);

/** States that count as a failure on the dashboard. */
export const FAILURE_STATES: RunState[] = ['failed', 'timed_out', 'missed', 'abandoned'];

export function isFinal(state: RunState): boolean {
  return state !== 'submitted' && state !== 'running';
}

/** A job definition as sent to the API (id optional on create, next_run ignored). */
export type JobInput = Schemas['Job'];
/** A job as the API shows it: the definition, its action's kind and its newest run. */
export type Job = Schemas['JobView'];
export type LastRun = Schemas['LastRun'];
export type JobPage = Schemas['JobList'];
export type JobSort = Schemas['JobSort'];
export type JobQuery = QueryOf<'list_jobs'>;
/** How many jobs there are, for the dashboard (`GET /api/stats/jobs`). */
export type JobCounts = Schemas['JobCounts'];
/** A tag and its jobs: a group in the job list. */
export type TagCount = Schemas['TagCount'];
export type GroupChange = Schemas['GroupChange'];

/** One run. `stdout`/`stderr` are absent from run lists, and from a single run when empty. */
export type RunRecord = Schemas['RunView'];
/** What a run by hand adds to its job's action: env and args (shell), body (HTTP). The server
 * leaves out the empty parts when it shows a run's. */
export type RunParams = Schemas['RunParams'];
/** The CPU time and peak memory of a finished shell run. */
export type RunUsage = Schemas['RunUsage'];

/** `GET /api/runs`: the client sends `state` as a comma-separated list. */
export type RunQuery = Omit<QueryOf<'list_runs'>, 'state'> & { state?: RunState[] };
export type RunStatsQuery = QueryOf<'run_stats'>;
export type DurationStatsQuery = QueryOf<'duration_stats'>;
export type MetricsQuery = QueryOf<'system_metrics'>;

export type RunBucket = Schemas['RunBucket'];
export type DurationStats = Schemas['DurationStats'];
export type MetricSample = Schemas['MetricSample'];

/** The scheduler's status and how late its runs started. */
export type SchedulerStatus = Schemas['SchedulerView'];

export type JobDefaults = Schemas['JobDefaults'];
/** How the processes sharing one database watch each other. */
export type ClusterSettings = Schemas['ClusterSettings'];
export type Settings = Schemas['Settings'];
/** The database in use, where it was chosen, and the one chosen for the next start. */
export type DatabaseInfo = Schemas['DatabaseInfo'];

/** alive: heartbeat within the lease; lapsed: older (its runs are about to be taken over);
 * gone: shut down or taken over (listed for a day). */
export type NodeState = Schemas['NodeStatus'];
/** One process sharing the database: a `kairos serve`, the desktop app, a library program. */
export type NodeInfo = Schemas['NodeView'];
export type NodeList = Schemas['NodeList'];

export type CronPreviewRequest = Schemas['PreviewRequest'];
export type TriggerPreviewRequest = Schemas['TriggerPreviewRequest'];
export type TriggerPreview = Schemas['TriggerPreview'];

/** One scheduler event: `{"type","at",…}` plus the fields of its kind. */
export type KairosEvent = Schemas['Envelope'];
export type EventType = KairosEvent['type'];

/** Every event type; the server names each SSE event after one. */
export const EVENT_TYPES = listAll<EventType>()([
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
]);

/** The job an event is about, if any. */
export function eventJobId(event: KairosEvent): string | undefined {
  return 'job_id' in event ? event.job_id : undefined;
}

export type ExportDoc = Schemas['ExportDoc'];
