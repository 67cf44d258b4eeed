// The one module that talks to the Kairos API. Screens call these typed functions; how the
// bytes travel is the transport's business (transport.ts).

import type { components } from './schema.gen';
import type {
  Channel,
  CronPreviewRequest,
  DatabaseInfo,
  Delivery,
  DeliveryQuery,
  TriggerPreview,
  TriggerPreviewRequest,
  DurationStats,
  DurationStatsQuery,
  ExportDoc,
  GroupChange,
  Job,
  JobCounts,
  JobInput,
  JobPage,
  JobQuery,
  KairosEvent,
  MetricSample,
  MetricsQuery,
  NodeList,
  Problem,
  RunBucket,
  RunQuery,
  RunParams,
  RunRecord,
  RunStatsQuery,
  SchedulerStatus,
  Settings,
  TagCount,
} from './types';
import type { StreamStatus, Transport } from './transport';
import { pageLang, sayProblem } from '../i18n/problems';

/**
 * An API error: the HTTP status, the field at fault (if the server named one) and what is
 * wrong, said in the page's language when the server gave the message's code.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly field: string | null;

  constructor(status: number, field: string | null, message: string, problem?: Problem | null) {
    super(sayProblem(pageLang(), problem, message));
    this.name = 'ApiError';
    this.status = status;
    this.field = field;
  }

  /** Nothing came back: the server is down or unreachable. */
  get isNetwork(): boolean {
    return this.status === 0;
  }
}

/** Reads `{"error":{"field","message","problem"}}`, or makes the best of another body. */
export function parseError(status: number, body: string): ApiError {
  try {
    const value = JSON.parse(body) as { error?: { field?: unknown; message?: unknown; problem?: Problem } };
    const err = value?.error;
    if (err && typeof err.message === 'string') {
      const field = typeof err.field === 'string' ? err.field : null;
      return new ApiError(status, field, err.message, err.problem);
    }
  } catch {
    // not JSON
  }
  const text = body.trim().slice(0, 200);
  return new ApiError(status, null, text ? `HTTP ${status}: ${text}` : `HTTP ${status}`);
}

type Schemas = components['schemas'];

type QueryValue = string | number | boolean | undefined | null | string[];

/** `?a=1&b=x` from the defined values of `params` (lists joined with commas). */
export function queryString(params: Record<string, QueryValue>): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value)) {
      if (value.length === 0) continue;
      parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(value.join(','))}`);
    } else {
      parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
    }
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

export type EventListener = (event: KairosEvent) => void;
export type StatusListener = (status: StreamStatus) => void;

export interface ClientOptions {
  transport: Transport;
  /** The API token, read on every call (it may change after sign-in). */
  getToken: () => string | null;
  /** Called when the server refuses the token. */
  onUnauthorized?: (error: ApiError) => void;
}

interface CallOptions {
  query?: Record<string, QueryValue>;
  body?: unknown;
  signal?: AbortSignal;
}

export class KairosClient {
  private readonly transport: Transport;
  private readonly getToken: () => string | null;
  private readonly onUnauthorized?: (error: ApiError) => void;
  private readonly listeners = new Set<EventListener>();
  private readonly statusListeners = new Set<StatusListener>();
  private stopStream: (() => void) | null = null;
  private streamToken: string | null = null;
  private status: StreamStatus = 'connecting';

  constructor(options: ClientOptions) {
    this.transport = options.transport;
    this.getToken = options.getToken;
    this.onUnauthorized = options.onUnauthorized;
  }

  get transportName(): string {
    return this.transport.name;
  }

  /** Sends a request and decodes the JSON answer; throws ApiError on any failure. */
  async call<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    const token = this.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    let response;
    try {
      response = await this.transport.request({
        method,
        path: path + queryString(options.query ?? {}),
        headers,
        body,
        signal: options.signal,
      });
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') throw e;
      throw new ApiError(0, null, e instanceof Error ? e.message : String(e));
    }
    if (response.status < 200 || response.status >= 300) {
      const error = parseError(response.status, response.body);
      if (response.status === 401) this.onUnauthorized?.(error);
      throw error;
    }
    if (response.status === 204 || response.body.trim() === '') return undefined as T;
    try {
      return JSON.parse(response.body) as T;
    } catch {
      throw new ApiError(response.status, null, 'the server answered with something other than JSON');
    }
  }

  // Jobs

  listJobs(query: JobQuery = {}, signal?: AbortSignal): Promise<JobPage> {
    return this.call('GET', '/api/jobs', { query: { ...query }, signal });
  }
  getJob(id: string, signal?: AbortSignal): Promise<Job> {
    return this.call('GET', `/api/jobs/${encodeURIComponent(id)}`, { signal });
  }
  createJob(job: JobInput): Promise<Job> {
    return this.call('POST', '/api/jobs', { body: job });
  }
  updateJob(id: string, job: JobInput): Promise<Job> {
    return this.call('PUT', `/api/jobs/${encodeURIComponent(id)}`, { body: job });
  }
  deleteJob(id: string): Promise<void> {
    return this.call('DELETE', `/api/jobs/${encodeURIComponent(id)}`);
  }
  pauseJob(id: string): Promise<Job> {
    return this.call('POST', `/api/jobs/${encodeURIComponent(id)}/pause`);
  }
  resumeJob(id: string, catchUp = false): Promise<Job> {
    return this.call('POST', `/api/jobs/${encodeURIComponent(id)}/resume`, {
      query: { catch_up: catchUp || undefined },
    });
  }
  /** Every tag with its jobs and paused jobs. */
  async listTags(signal?: AbortSignal): Promise<TagCount[]> {
    const r = await this.call<Schemas['TagList']>('GET', '/api/tags', { signal });
    return r.items;
  }
  /** Pauses (or resumes) every job with `tag`. */
  setTagPaused(tag: string, paused: boolean): Promise<GroupChange> {
    return this.call('POST', `/api/tags/${encodeURIComponent(tag)}/${paused ? 'pause' : 'resume'}`);
  }
  /** Runs job `id` now, with `params` when given (else no body); answers with the run's id. */
  async runJob(id: string, params?: RunParams): Promise<number> {
    const body: Schemas['RunRequest'] | undefined = params && { params };
    const r = await this.call<Schemas['RunStarted']>('POST', `/api/jobs/${encodeURIComponent(id)}/run`, { body });
    return r.run_id;
  }

  // Scheduler and settings

  scheduler(): Promise<SchedulerStatus> {
    return this.call('GET', '/api/scheduler');
  }
  pauseScheduler(): Promise<SchedulerStatus> {
    return this.call('POST', '/api/scheduler/pause');
  }
  resumeScheduler(): Promise<SchedulerStatus> {
    return this.call('POST', '/api/scheduler/resume');
  }
  /** The processes (nodes) sharing the database, oldest first. */
  listNodes(signal?: AbortSignal): Promise<NodeList> {
    return this.call('GET', '/api/nodes', { signal });
  }
  getSettings(): Promise<Settings> {
    return this.call('GET', '/api/settings');
  }
  putSettings(settings: Settings): Promise<Settings> {
    return this.call('PUT', '/api/settings', { body: settings });
  }
  /** The database in use, and the one chosen for the next start. */
  getDatabase(): Promise<DatabaseInfo> {
    return this.call('GET', '/api/database');
  }
  /** Chooses the database for the next start (null: the default); it must open first. */
  chooseDatabase(location: string | null): Promise<DatabaseInfo> {
    const body: Schemas['DatabaseChoice'] = { location };
    return this.call('PUT', '/api/database', { body });
  }
  /** Restarts the app on the chosen database (the desktop app only). */
  restartOnDatabase(): Promise<DatabaseInfo> {
    return this.call('POST', '/api/database/restart');
  }
  exportJobs(): Promise<ExportDoc> {
    return this.call('GET', '/api/export');
  }
  async importJobs(doc: ExportDoc): Promise<number> {
    const r = await this.call<Schemas['Imported']>('POST', '/api/import', { body: doc });
    return r.imported;
  }
  async cronPreview(req: CronPreviewRequest, signal?: AbortSignal): Promise<string[]> {
    const r = await this.call<Schemas['PreviewResponse']>('POST', '/api/cron/preview', { body: req, signal });
    return r.times;
  }

  /** The next fire times of any trigger, and the zone they are given in. */
  async triggerPreview(req: TriggerPreviewRequest, signal?: AbortSignal): Promise<TriggerPreview> {
    return this.call<Schemas['TriggerPreview']>('POST', '/api/triggers/preview', { body: req, signal });
  }

  // Alert channels

  async listChannels(signal?: AbortSignal): Promise<Channel[]> {
    const r = await this.call<Schemas['ChannelList']>('GET', '/api/channels', { signal });
    return r.items;
  }
  createChannel(channel: Channel): Promise<Channel> {
    return this.call('POST', '/api/channels', { body: channel });
  }
  updateChannel(id: string, channel: Channel): Promise<Channel> {
    return this.call('PUT', `/api/channels/${encodeURIComponent(id)}`, { body: channel });
  }
  deleteChannel(id: string): Promise<void> {
    return this.call('DELETE', `/api/channels/${encodeURIComponent(id)}`);
  }
  /** Sends a test message now; the attempt says whether the service took it. */
  testChannel(id: string): Promise<Delivery> {
    return this.call('POST', `/api/channels/${encodeURIComponent(id)}/test`);
  }
  async listDeliveries(query: DeliveryQuery = {}, signal?: AbortSignal): Promise<Delivery[]> {
    const r = await this.call<Schemas['DeliveryList']>('GET', '/api/deliveries', { query, signal });
    return r.items;
  }

  // Runs and statistics

  async listRuns(query: RunQuery = {}, signal?: AbortSignal): Promise<RunRecord[]> {
    const r = await this.call<Schemas['RunList']>('GET', '/api/runs', {
      query: { ...query, state: query.state },
      signal,
    });
    return r.items;
  }
  getRun(id: number, signal?: AbortSignal): Promise<RunRecord> {
    return this.call('GET', `/api/runs/${id}`, { signal });
  }
  /** Asks for a submitted or running run to be cancelled, wherever it runs. */
  cancelRun(id: number): Promise<RunRecord> {
    return this.call('POST', `/api/runs/${id}/cancel`);
  }
  /** Runs a workflow step again, and the steps after it (`id`: the step's newest run; its
   * workflow run must have ended). Answers with the workflow's run, running again. */
  retryStep(id: number): Promise<RunRecord> {
    return this.call('POST', `/api/runs/${id}/retry`);
  }
  async runStats(
    query: RunStatsQuery = {},
    signal?: AbortSignal,
  ): Promise<RunBucket[]> {
    const r = await this.call<Schemas['BucketList']>('GET', '/api/stats/runs', { query, signal });
    return r.buckets;
  }
  /** How many jobs there are: all, paused, monitors and failing, in one call. */
  jobCounts(signal?: AbortSignal): Promise<JobCounts> {
    return this.call('GET', '/api/stats/jobs', { signal });
  }
  async durationStats(
    query: DurationStatsQuery = {},
    signal?: AbortSignal,
  ): Promise<DurationStats[]> {
    const r = await this.call<Schemas['DurationList']>('GET', '/api/stats/durations', {
      query,
      signal,
    });
    return r.items;
  }
  async systemMetrics(
    query: MetricsQuery = {},
    signal?: AbortSignal,
  ): Promise<MetricSample[]> {
    const r = await this.call<Schemas['MetricList']>('GET', '/api/metrics/system', {
      query,
      signal,
    });
    return r.items;
  }

  // Live events: one stream shared by every listener, opened with the first and closed with
  // the last.

  /** Calls `listener` with every live event until the returned function is called. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    this.ensureStream();
    return () => {
      this.listeners.delete(listener);
      this.maybeStopStream();
    };
  }

  /** Calls `listener` with the stream's status now and on every change. */
  onStreamStatus(listener: StatusListener): () => void {
    this.statusListeners.add(listener);
    listener(this.status);
    return () => {
      this.statusListeners.delete(listener);
    };
  }

  get streamStatus(): StreamStatus {
    return this.status;
  }

  /** Reopens the stream, e.g. after the token changed. */
  restartStream(): void {
    this.stopStream?.();
    this.stopStream = null;
    this.ensureStream();
  }

  private ensureStream(): void {
    const token = this.getToken();
    if (this.stopStream && token === this.streamToken) return;
    this.stopStream?.();
    this.stopStream = null;
    if (!token || this.listeners.size === 0) return;
    this.streamToken = token;
    this.stopStream = this.transport.subscribe(
      token,
      (event) => {
        for (const l of [...this.listeners]) {
          try {
            l(event);
          } catch (e) {
            console.error('event listener failed', e);
          }
        }
      },
      (status) => {
        this.status = status;
        for (const l of [...this.statusListeners]) l(status);
      },
    );
  }

  private maybeStopStream(): void {
    if (this.listeners.size > 0 || !this.stopStream) return;
    this.stopStream();
    this.stopStream = null;
    this.streamToken = null;
  }
}
