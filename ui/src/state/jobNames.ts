// Job names by id, for screens that only have ids (events, run lists). Looked up once each,
// a few at a time, and remembered.

import { useEffect, useSyncExternalStore } from 'react';
import { api } from '../api';

const names = new Map<string, string | null>();
const queue: string[] = [];
let active = 0;
let version = 0;
const listeners = new Set<() => void>();
const MAX_ACTIVE = 4;
const MAX_CACHED = 5000;

function pump() {
  while (active < MAX_ACTIVE && queue.length) {
    const id = queue.shift()!;
    active += 1;
    api
      .getJob(id)
      .then(
        (job) => names.set(id, job.name),
        () => names.set(id, null),
      )
      .finally(() => {
        active -= 1;
        version += 1;
        for (const l of [...listeners]) l();
        pump();
      });
  }
}

/** Asks for the names of these jobs (those not known or asked for yet). */
export function requestNames(ids: Iterable<string>): void {
  for (const id of ids) {
    if (names.has(id)) continue;
    if (names.size > MAX_CACHED) names.clear();
    names.set(id, null);
    queue.push(id);
  }
  pump();
}

/** Remembers a name the caller already knows. */
export function rememberName(id: string, name: string): void {
  names.set(id, name);
}

/** The name of a job, or undefined while unknown (or when the job is gone). */
export function jobName(id: string): string | undefined {
  return names.get(id) ?? undefined;
}

/** Re-renders when names arrive; looks up `ids`. */
export function useJobNames(ids: string[]): (id: string) => string | undefined {
  const key = ids.join('\u0000');
  useEffect(() => {
    requestNames(ids);
    // `key` stands for `ids`.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => version,
  );
  return jobName;
}
