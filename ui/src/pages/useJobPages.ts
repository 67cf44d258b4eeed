// Jobs loaded page by page as the table scrolls: the list knows every job's slot (from the
// server's total) but fetches a page (≤ 1000, the API's limit) only when its rows come near
// the viewport, so a list of 100,000 jobs opens as fast as one of 10.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { api } from '../api';
import type { Job, JobQuery } from '../api/types';

export const PAGE_SIZE = 500;
/** At most this many page requests at once. */
const PARALLEL = 2;

export interface Placeholder {
  id: string;
  placeholder: true;
  index: number;
}

export type Row = (Job & { placeholder?: false }) | Placeholder;

export interface JobPages {
  rows: Row[];
  total: number | null;
  loadedCount: number;
  loading: boolean;
  error: Error | undefined;
  /** Makes sure the rows from `start` to `end` are (being) loaded. */
  ensureRange: (start: number, end: number) => void;
  /** Drops everything and loads again from the rows in view. */
  refresh: () => void;
  /** Reloads these jobs in place (removing those that no longer exist). */
  refreshJobs: (ids: string[]) => Promise<void>;
  /** The loaded job with this id. */
  get: (id: string) => Job | undefined;
  /** Ids of the loaded jobs in rows `start` to `end`. */
  idsIn: (start: number, end: number) => string[];
}

export function useJobPages(query: Omit<JobQuery, 'offset' | 'limit'>): JobPages {
  const pages = useRef(new Map<number, Job[]>());
  const inflight = useRef(new Set<number>());
  /** Pages still shown but due for a reload. */
  const stale = useRef(new Set<number>());
  const wanted = useRef<[number, number]>([0, PAGE_SIZE]);
  const generation = useRef(0);
  const [total, setTotal] = useState<number | null>(null);
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<Error | undefined>(undefined);
  const queryKey = JSON.stringify(query);
  const queryRef = useRef(query);
  queryRef.current = query;

  const pump = useCallback(() => {
    const [start, end] = wanted.current;
    const first = Math.max(0, Math.floor(start / PAGE_SIZE));
    const last = Math.max(first, Math.floor(Math.max(start, end - 1) / PAGE_SIZE));
    for (let page = first; page <= last; page += 1) {
      if (inflight.current.size >= PARALLEL) return;
      if ((pages.current.has(page) && !stale.current.has(page)) || inflight.current.has(page)) continue;
      if (total !== null && page * PAGE_SIZE >= total && page > 0) continue;
      const gen = generation.current;
      inflight.current.add(page);
      api
        .listJobs({ ...queryRef.current, offset: page * PAGE_SIZE, limit: PAGE_SIZE })
        .then(
          (result) => {
            if (gen !== generation.current) return;
            pages.current.set(page, result.items);
            stale.current.delete(page);
            setTotal(result.total);
            setError(undefined);
          },
          (e: unknown) => {
            if (gen !== generation.current) return;
            setError(e instanceof Error ? e : new Error(String(e)));
          },
        )
        .finally(() => {
          if (gen !== generation.current) return;
          inflight.current.delete(page);
          setVersion((v) => v + 1);
        });
    }
  }, [total]);

  const reset = useCallback(() => {
    generation.current += 1;
    pages.current = new Map();
    stale.current = new Set();
    inflight.current = new Set();
    setVersion((v) => v + 1);
  }, []);

  /** Reloads the pages in view while still showing them. */
  const softRefresh = useCallback(() => {
    generation.current += 1;
    stale.current = new Set(pages.current.keys());
    inflight.current = new Set();
    setVersion((v) => v + 1);
  }, []);

  // A new query starts from the top.
  useEffect(() => {
    reset();
    setTotal(null);
    wanted.current = [0, PAGE_SIZE];
  }, [queryKey, reset]);

  // Keep fetching what is wanted whenever a request ends or the range moves.
  useEffect(() => {
    pump();
  }, [version, pump]);

  const ensureRange = useCallback(
    (start: number, end: number) => {
      wanted.current = [start, end];
      pump();
    },
    [pump],
  );

  const rows = useMemo<Row[]>(() => {
    const count = total ?? 0;
    const out: Row[] = new Array(count);
    for (let i = 0; i < count; i += 1) {
      const page = pages.current.get(Math.floor(i / PAGE_SIZE));
      const job = page?.[i % PAGE_SIZE];
      out[i] = job ?? { id: `\u0000placeholder-${i}`, placeholder: true, index: i };
    }
    return out;
    // `version` marks changes inside the page map.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [total, version]);

  const loadedCount = useMemo(() => {
    let n = 0;
    for (const p of pages.current.values()) n += p.length;
    return n;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [version]);

  const get = useCallback((id: string) => {
    for (const page of pages.current.values()) {
      const job = page.find((j) => j.id === id);
      if (job) return job;
    }
    return undefined;
  }, []);

  const idsIn = useCallback((start: number, end: number) => {
    const ids: string[] = [];
    for (let i = start; i < end; i += 1) {
      const job = pages.current.get(Math.floor(i / PAGE_SIZE))?.[i % PAGE_SIZE];
      if (job?.id) ids.push(job.id);
    }
    return ids;
  }, []);

  const refreshJobs = useCallback(async (ids: string[]) => {
    const gen = generation.current;
    const results = await Promise.all(
      ids.map((id) =>
        api.getJob(id).then(
          (job) => ({ id, job }),
          () => ({ id, job: undefined }),
        ),
      ),
    );
    if (gen !== generation.current) return;
    let removed = 0;
    for (const { id, job } of results) {
      for (const [n, page] of pages.current) {
        const i = page.findIndex((j) => j.id === id);
        if (i < 0) continue;
        const copy = [...page];
        if (job) copy[i] = job;
        else {
          copy.splice(i, 1);
          removed += 1;
        }
        pages.current.set(n, copy);
      }
    }
    setVersion((v) => v + 1);
    // Pages after a removal shift; reload them rather than guess.
    if (removed) softRefresh();
  }, [softRefresh]);

  return {
    rows,
    total,
    loadedCount,
    loading: total === null || inflight.current.size > 0,
    error,
    ensureRange,
    refresh: softRefresh,
    refreshJobs,
    get,
    idsIn,
  };
}
