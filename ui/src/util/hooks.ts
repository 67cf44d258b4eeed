import { useCallback, useEffect, useLayoutEffect, useRef, useState, type DependencyList } from 'react';
import { api } from '../api';
import { ApiError } from '../api/client';
import type { KairosEvent } from '../api/types';

export interface AsyncState<T> {
  data: T | undefined;
  error: ApiError | Error | undefined;
  loading: boolean;
  /** Loads again; `quiet` keeps showing the old data meanwhile without a spinner. */
  reload: (quiet?: boolean) => void;
}

/** Runs `load` when `deps` change (aborting the previous run) and on `reload()`. */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: DependencyList): AsyncState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | Error | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const quietRef = useRef(false);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const controller = new AbortController();
    if (!quietRef.current) setLoading(true);
    quietRef.current = false;
    loadRef.current(controller.signal).then(
      (value) => {
        if (controller.signal.aborted) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (controller.signal.aborted) return;
        setError(e instanceof Error ? e : new Error(String(e)));
        setLoading(false);
      },
    );
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);

  const reload = useCallback((quiet = false) => {
    quietRef.current = quiet;
    setTick((n) => n + 1);
  }, []);
  return { data, error, loading, reload };
}

/** Calls `handler` with every live event while mounted (the latest handler, without resubscribing). */
export function useLiveEvents(handler: (event: KairosEvent) => void): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => api.subscribe((e) => ref.current(e)), []);
}

/** Calls `fn` every `ms` milliseconds while mounted and `ms` is not null. */
export function useInterval(fn: () => void, ms: number | null): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    if (ms === null) return undefined;
    const id = window.setInterval(() => ref.current(), ms);
    return () => window.clearInterval(id);
  }, [ms]);
}

/** `value`, once it has stayed the same for `ms` milliseconds. */
export function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const id = window.setTimeout(() => setDebounced(value), ms);
    return () => window.clearTimeout(id);
  }, [value, ms]);
  return debounced;
}

/** What the engine said of a request: its answer (with the request it answered) or its error. */
export interface EngineCheck<Q, A> {
  answer: { request: Q; value: A } | null;
  error: ApiError | null;
  loading: boolean;
}

/**
 * Asks the engine `ask(request)` 300 ms after `request` last changed (aborting the previous
 * question; `null` asks nothing and clears the answer); `onResult` hears each verdict.
 */
export function useEngineCheck<Q, A>(
  request: Q | null,
  ask: (request: Q, signal: AbortSignal) => Promise<A>,
  onResult?: (error: ApiError | null, request: Q) => void,
): EngineCheck<Q, A> {
  const key = useDebounced(request === null ? '' : JSON.stringify(request), 300);
  const [check, setCheck] = useState<EngineCheck<Q, A>>({ answer: null, error: null, loading: false });
  const latest = useRef({ ask, onResult });
  latest.current = { ask, onResult };

  useEffect(() => {
    if (!key) {
      setCheck({ answer: null, error: null, loading: false });
      return undefined;
    }
    const asked = JSON.parse(key) as Q;
    const controller = new AbortController();
    setCheck((c) => ({ ...c, loading: true }));
    latest.current.ask(asked, controller.signal).then(
      (value) => {
        if (controller.signal.aborted) return;
        setCheck({ answer: { request: asked, value }, error: null, loading: false });
        latest.current.onResult?.(null, asked);
      },
      (e: unknown) => {
        if (controller.signal.aborted) return;
        const error = e instanceof ApiError ? e : new ApiError(0, null, String(e));
        setCheck({ answer: null, error, loading: false });
        latest.current.onResult?.(error, asked);
      },
    );
    return () => controller.abort();
  }, [key]);
  return check;
}

/** A function that calls `fn` at most once per `ms`, trailing. */
export function useThrottled(fn: () => void, ms: number): () => void {
  const ref = useRef(fn);
  ref.current = fn;
  const timer = useRef<number | null>(null);
  useEffect(() => () => {
    if (timer.current !== null) window.clearTimeout(timer.current);
  }, []);
  return useCallback(() => {
    if (timer.current !== null) return;
    timer.current = window.setTimeout(() => {
      timer.current = null;
      ref.current();
    }, ms);
  }, [ms]);
}

/** The height left in the window below `ref`'s top edge, less `margin`. */
export function useAvailableHeight(ref: React.RefObject<HTMLElement | null>, margin: number, min = 240): number {
  const [height, setHeight] = useState(480);
  useLayoutEffect(() => {
    const measure = () => {
      const top = ref.current?.getBoundingClientRect().top ?? 200;
      setHeight(Math.max(min, window.innerHeight - top - margin));
    };
    measure();
    window.addEventListener('resize', measure);
    const id = window.setTimeout(measure, 50);
    return () => {
      window.removeEventListener('resize', measure);
      window.clearTimeout(id);
    };
  }, [ref, margin, min]);
  return height;
}

/** Whether the page is visible (not a background tab or a minimised window). */
export function usePageVisible(): boolean {
  const [visible, setVisible] = useState(() => typeof document === 'undefined' || document.visibilityState !== 'hidden');
  useEffect(() => {
    const onChange = () => setVisible(document.visibilityState !== 'hidden');
    document.addEventListener('visibilitychange', onChange);
    return () => document.removeEventListener('visibilitychange', onChange);
  }, []);
  return visible;
}

/** Calls `fn` every `ms` milliseconds while the page is visible, and at once when it shows again. */
export function useVisibleInterval(fn: () => void, ms: number | null): void {
  const visible = usePageVisible();
  const ref = useRef(fn);
  ref.current = fn;
  const wasHidden = useRef(false);
  useEffect(() => {
    if (!visible) {
      wasHidden.current = true;
      return;
    }
    if (wasHidden.current) {
      wasHidden.current = false;
      ref.current();
    }
  }, [visible]);
  useInterval(() => ref.current(), visible ? ms : null);
}
