import { describe, expect, it, vi } from 'vitest';
import { ApiError, KairosClient, parseError, queryString } from './client';
import { httpTransport, type EventSourceCtor } from './transport';
import type { KairosEvent } from './types';

interface Call {
  url: string;
  init: RequestInit;
}

/** A fetch that records calls and answers from a queue. */
function fakeFetch(answers: Array<{ status: number; body?: unknown } | Error>) {
  const calls: Call[] = [];
  const fn = vi.fn(async (url: string, init?: RequestInit) => {
    calls.push({ url, init: init ?? {} });
    const next = answers.shift();
    if (!next) throw new Error('no answer queued');
    if (next instanceof Error) throw next;
    const text = next.body === undefined ? '' : typeof next.body === 'string' ? next.body : JSON.stringify(next.body);
    return new Response(next.status === 204 ? null : text, { status: next.status });
  });
  return { fn, calls };
}

function client(answers: Parameters<typeof fakeFetch>[0], token: string | null = 'tok-123') {
  const { fn, calls } = fakeFetch(answers);
  const onUnauthorized = vi.fn();
  const c = new KairosClient({
    transport: httpTransport({ baseUrl: 'http://kairos.test', fetch: fn }),
    getToken: () => token,
    onUnauthorized,
  });
  return { c, calls, onUnauthorized };
}

describe('client requests', () => {
  it('sends the bearer token and builds the query', async () => {
    const { c, calls } = client([{ status: 200, body: { items: [], total: 0 } }]);
    const page = await c.listJobs({ q: 'back up', kind: 'shell', paused: false, limit: 1000, sort: '-next_run' });
    expect(page.total).toBe(0);
    expect(calls[0].url).toBe(
      'http://kairos.test/api/jobs?q=back%20up&kind=shell&paused=false&limit=1000&sort=-next_run',
    );
    const headers = calls[0].init.headers as Record<string, string>;
    expect(headers.Authorization).toBe('Bearer tok-123');
    expect(calls[0].init.method).toBe('GET');
    expect(calls[0].init.body).toBeUndefined();
  });

  it('sends JSON bodies and reads JSON answers', async () => {
    const { c, calls } = client([{ status: 200, body: { times: ['2026-01-01T09:00:00+00:00'] } }]);
    const times = await c.cronPreview({ expression: '0 9 * * *', timezone: 'UTC', count: 10 });
    expect(times).toEqual(['2026-01-01T09:00:00+00:00']);
    expect(calls[0].url).toBe('http://kairos.test/api/cron/preview');
    expect(calls[0].init.method).toBe('POST');
    expect((calls[0].init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ expression: '0 9 * * *', timezone: 'UTC', count: 10 });
  });

  it('escapes ids in paths and joins run states with commas', async () => {
    const { c, calls } = client([
      { status: 202, body: { run_id: 42 } },
      { status: 200, body: { items: [] } },
      { status: 204 },
    ]);
    expect(await c.runJob('a b/c')).toBe(42);
    expect(calls[0].url).toBe('http://kairos.test/api/jobs/a%20b%2Fc/run');
    expect(calls[0].init.body).toBeUndefined();
    await c.listRuns({ job_id: 'j', state: ['failed', 'timed_out'], limit: 5 });
    expect(calls[1].url).toBe('http://kairos.test/api/runs?job_id=j&state=failed%2Ctimed_out&limit=5');
    await expect(c.deleteJob('j')).resolves.toBeUndefined();
    expect(calls[2].init.method).toBe('DELETE');
  });

  it('runs a job with parameters, and reads the field the server refuses', async () => {
    const { c, calls } = client([
      { status: 202, body: { run_id: 43 } },
      { status: 422, body: { error: { field: 'params.env', message: "'A=B' is not a variable name" } } },
    ]);
    const params = { env: { GREETING: 'hello' }, args: ['world'], body: null };
    expect(await c.runJob('greet', params)).toBe(43);
    expect(calls[0].url).toBe('http://kairos.test/api/jobs/greet/run');
    expect(calls[0].init.method).toBe('POST');
    expect((calls[0].init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ params });
    await expect(c.runJob('greet', { env: { 'A=B': 'c' }, args: [], body: null })).rejects.toMatchObject({
      status: 422,
      field: 'params.env',
      message: "'A=B' is not a variable name",
    });
  });

  it('lists the nodes', async () => {
    const body = {
      items: [{ id: '3f2a9c1b7e01', host: 'box', pid: 1234, version: '0.1.0', labels: ['gpu'], started: '2026-12-02T03:00:00Z', heartbeat: '2026-12-02T03:05:02Z', left: null, uptime_s: 302, clock_skew_ms: 0, running: 2, state: 'alive', this: true }],
      lease_s: 8,
      heartbeat_s: 2,
    };
    const { c, calls } = client([{ status: 200, body }]);
    const nodes = await c.listNodes();
    expect(calls[0].url).toBe('http://kairos.test/api/nodes');
    expect(calls[0].init.method).toBe('GET');
    expect(nodes).toEqual(body);
  });

  it('reads the job counts in one call', async () => {
    const body = { total: 12, paused: 3, monitors: 1, failing: 2 };
    const { c, calls } = client([{ status: 200, body }]);
    expect(await c.jobCounts()).toEqual(body);
    expect(calls).toHaveLength(1);
    expect(calls[0].url).toBe('http://kairos.test/api/stats/jobs');
    expect(calls[0].init.method).toBe('GET');
  });

  it('lists a workflow run’s step runs and retries a step', async () => {
    const running = { id: 7, job_id: 'etl', scheduled: '2026-01-01T00:00:00Z', state: 'running', attempt: 1 };
    const { c, calls } = client([
      { status: 200, body: { items: [] } },
      { status: 202, body: running },
      { status: 409, body: { error: { field: null, message: 'workflow run 7 is still running: retry the step once it has ended' } } },
    ]);
    await c.listRuns({ upstream: 7, limit: 1000 });
    expect(calls[0].url).toBe('http://kairos.test/api/runs?upstream=7&limit=1000');
    expect(await c.retryStep(12)).toEqual(running);
    expect(calls[1].url).toBe('http://kairos.test/api/runs/12/retry');
    expect(calls[1].init.method).toBe('POST');
    await expect(c.retryStep(12)).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/still running/) });
  });

  it('leaves out the Authorization header without a token', async () => {
    const { c, calls } = client([{ status: 200, body: { status: 'ok' } }], null);
    await c.call('GET', '/healthz');
    expect((calls[0].init.headers as Record<string, string>).Authorization).toBeUndefined();
  });
});

describe('client errors', () => {
  it('parses the field and message of a 422', async () => {
    const { c } = client([
      { status: 422, body: { error: { field: 'trigger', message: 'minute: 60 is out of range 0-59' } } },
    ]);
    const err = await c
      .createJob({
        name: 'x',
        trigger: { type: 'cron', expression: '60 * * * *' },
        action: { kind: 'shell', command: 'true' },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const apiErr = err as ApiError;
    expect(apiErr.status).toBe(422);
    expect(apiErr.field).toBe('trigger');
    expect(apiErr.message).toBe('minute: 60 is out of range 0-59');
  });

  it('keeps a null field, and copes with bodies that are not the error shape', () => {
    expect(parseError(404, '{"error":{"field":null,"message":"no run with id 9"}}')).toMatchObject({
      status: 404,
      field: null,
      message: 'no run with id 9',
    });
    expect(parseError(502, '<html>Bad gateway</html>').message).toBe('HTTP 502: <html>Bad gateway</html>');
    expect(parseError(500, '').message).toBe('HTTP 500');
    expect(parseError(400, '{"oops":1}').field).toBeNull();
  });

  it('reports 401 to onUnauthorized', async () => {
    const { c, onUnauthorized } = client([
      { status: 401, body: { error: { field: 'Authorization', message: 'the token is wrong' } } },
    ]);
    await expect(c.scheduler()).rejects.toMatchObject({ status: 401, field: 'Authorization' });
    expect(onUnauthorized).toHaveBeenCalledOnce();
  });

  it('turns a network failure into status 0', async () => {
    const { c } = client([new TypeError('Failed to fetch')]);
    const err = (await c.getSettings().catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(0);
    expect(err.isNetwork).toBe(true);
    expect(err.message).toBe('Failed to fetch');
  });

  it('builds query strings from defined values only', () => {
    expect(queryString({ a: undefined, b: '', c: null, d: [], e: 0, f: false })).toBe('?e=0&f=false');
    expect(queryString({})).toBe('');
  });
});

/** A stand-in for the browser's EventSource. */
class FakeEventSource {
  static instances: FakeEventSource[] = [];
  url: string;
  readyState = 0;
  closed = false;
  onopen: ((ev: Event) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  listeners = new Map<string, Array<(ev: MessageEvent) => void>>();

  constructor(url: string) {
    this.url = url;
    FakeEventSource.instances.push(this);
  }
  addEventListener(type: string, listener: (ev: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  emit(type: string, data: string) {
    for (const l of this.listeners.get(type) ?? []) l(new MessageEvent(type, { data }));
  }
}

describe('live events', () => {
  function eventClient(token = 'sekrit&x') {
    FakeEventSource.instances = [];
    const c = new KairosClient({
      transport: httpTransport({
        baseUrl: 'http://kairos.test/',
        fetch: vi.fn(),
        EventSource: FakeEventSource as unknown as EventSourceCtor,
      }),
      getToken: () => token,
    });
    return c;
  }

  it('opens one EventSource with the token in the query and fans events out', () => {
    const c = eventClient();
    const a: KairosEvent[] = [];
    const b: KairosEvent[] = [];
    const statuses: string[] = [];
    c.onStreamStatus((s) => statuses.push(s));
    const stopA = c.subscribe((e) => a.push(e));
    const stopB = c.subscribe((e) => b.push(e));
    expect(FakeEventSource.instances).toHaveLength(1);
    const source = FakeEventSource.instances[0];
    expect(source.url).toBe('http://kairos.test/api/events?token=sekrit%26x');
    source.open();
    expect(statuses).toEqual(['connecting', 'connecting', 'open']);

    // The server names SSE events after their type.
    source.emit('run_failed', '{"type":"run_failed","at":"2026-01-01T00:00:00Z","job_id":"j","run_id":3,"error":"exit 1"}');
    source.emit('job_added', '{"type":"job_added","at":"2026-01-01T00:00:01Z","job_id":"k"}');
    source.emit('job_added', 'not json');
    expect(a.map((e) => e.type)).toEqual(['run_failed', 'job_added']);
    expect(b).toEqual(a);
    expect(a[0]).toMatchObject({ job_id: 'j', run_id: 3, error: 'exit 1' });

    stopA();
    expect(source.closed).toBe(false);
    stopB();
    expect(source.closed).toBe(true);
  });

  it('listens for every event type the server sends', () => {
    const c = eventClient();
    c.subscribe(() => undefined);
    const types = [...FakeEventSource.instances[0].listeners.keys()];
    expect(types).toContain('run_succeeded');
    expect(types).toContain('scheduler_paused');
    expect(types).toHaveLength(17);
  });

  it('reports a lost connection while EventSource reconnects', () => {
    const c = eventClient();
    const statuses: string[] = [];
    c.subscribe(() => undefined);
    c.onStreamStatus((s) => statuses.push(s));
    const source = FakeEventSource.instances[0];
    source.open();
    source.readyState = 0;
    source.onerror?.(new Event('error'));
    source.readyState = 2;
    source.onerror?.(new Event('error'));
    expect(statuses).toEqual(['connecting', 'open', 'connecting', 'error']);
  });
});
