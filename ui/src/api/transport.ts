// The one place that knows how requests and live events travel. In a browser against
// `kairos serve` that is fetch + EventSource on the page's origin; the desktop shell routes
// requests through a custom URI scheme and pushes events with Tauri's event system. Screens
// and the client module never know which one they are on.

import { EVENT_TYPES, type KairosEvent } from './types';

export interface TransportRequest {
  method: string;
  /** Path and query, e.g. `/api/jobs?limit=10`. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export interface TransportResponse {
  status: number;
  body: string;
}

/** Where the live event stream is. */
export type StreamStatus = 'connecting' | 'open' | 'error';

export interface Transport {
  /** A short name for diagnostics: `http`, `tauri`, … */
  readonly name: string;
  /** Sends one request; rejects only when nothing came back (network down, aborted). */
  request(req: TransportRequest): Promise<TransportResponse>;
  /** Starts the live event stream; returns a function that stops it. */
  subscribe(
    token: string,
    onEvent: (event: KairosEvent) => void,
    onStatus: (status: StreamStatus) => void,
  ): () => void;
}

type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

interface EventSourceLike {
  onopen: ((this: EventSourceLike, ev: Event) => unknown) | null;
  onerror: ((this: EventSourceLike, ev: Event) => unknown) | null;
  readyState: number;
  addEventListener(type: string, listener: (ev: MessageEvent) => void): void;
  close(): void;
}

export type EventSourceCtor = new (url: string) => EventSourceLike;

export interface HttpTransportOptions {
  /** Origin (and optional prefix) of the server, e.g. `http://127.0.0.1:7878`; '' for the page's. */
  baseUrl: string;
  fetch?: FetchFn;
  EventSource?: EventSourceCtor;
}

/** Parses one SSE `data:` payload; null when it is not an event. */
function parseEvent(data: string): KairosEvent | null {
  try {
    const value = JSON.parse(data) as unknown;
    if (value && typeof value === 'object' && typeof (value as KairosEvent).type === 'string') {
      return value as KairosEvent;
    }
  } catch {
    // ignore keep-alives and garbage
  }
  return null;
}

/** fetch + EventSource against an HTTP server (`kairos serve`). */
export function httpTransport(options: HttpTransportOptions): Transport {
  const base = options.baseUrl.replace(/\/$/, '');
  const doFetch: FetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  return {
    name: 'http',
    async request(req) {
      const response = await doFetch(base + req.path, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: req.signal,
        credentials: 'omit',
        cache: 'no-store',
      });
      return { status: response.status, body: await response.text() };
    },
    subscribe(token, onEvent, onStatus) {
      const Source: EventSourceCtor | undefined =
        options.EventSource ?? (globalThis.EventSource as unknown as EventSourceCtor | undefined);
      if (!Source) {
        onStatus('error');
        return () => undefined;
      }
      onStatus('connecting');
      const source = new Source(`${base}/api/events?token=${encodeURIComponent(token)}`);
      source.onopen = () => onStatus('open');
      // EventSource reconnects by itself; report the gap meanwhile.
      source.onerror = () => onStatus(source.readyState === 2 ? 'error' : 'connecting');
      // The server names each SSE event after its type, so `onmessage` never fires.
      for (const type of EVENT_TYPES) {
        source.addEventListener(type, (ev: MessageEvent) => {
          const event = parseEvent(String(ev.data));
          if (event) onEvent(event);
        });
      }
      return () => source.close();
    },
  };
}

/** The globals Tauri 2 exposes with `app.withGlobalTauri`. */
interface TauriGlobals {
  event: {
    listen(name: string, handler: (e: { payload: unknown }) => void): Promise<() => void>;
  };
}

/**
 * The desktop shell: requests go to the `kairos` custom URI scheme (handled in-process by the
 * same router), events arrive as the Tauri event `kairos://event` with the event JSON as payload.
 */
export function tauriTransport(tauri: TauriGlobals, platformBase?: string): Transport {
  // Tauri serves custom schemes as http://<scheme>.localhost on Windows and Android.
  const windowsLike = /windows|android/i.test(globalThis.navigator?.userAgent ?? '');
  const base = platformBase ?? (windowsLike ? 'http://kairos.localhost' : 'kairos://localhost');
  const http = httpTransport({ baseUrl: base });
  return {
    name: 'tauri',
    request: (req) => http.request(req),
    subscribe(_token, onEvent, onStatus) {
      let stop: (() => void) | null = null;
      let stopped = false;
      onStatus('connecting');
      tauri.event
        .listen('kairos://event', (e) => {
          const event =
            typeof e.payload === 'string' ? parseEvent(e.payload) : (e.payload as KairosEvent);
          if (event) onEvent(event);
        })
        .then(
          (unlisten) => {
            if (stopped) unlisten();
            else {
              stop = unlisten;
              onStatus('open');
            }
          },
          () => onStatus('error'),
        );
      return () => {
        stopped = true;
        stop?.();
      };
    },
  };
}

declare global {
  interface Window {
    /** A transport the host page installed before the app started (tests, embedding). */
    __KAIROS_TRANSPORT__?: Transport;
    __TAURI__?: TauriGlobals;
  }
}

/** The transport for where this page runs. */
export function pickTransport(): Transport {
  if (typeof window !== 'undefined') {
    if (window.__KAIROS_TRANSPORT__) return window.__KAIROS_TRANSPORT__;
    if (window.__TAURI__) return tauriTransport(window.__TAURI__);
  }
  return httpTransport({ baseUrl: '' });
}
