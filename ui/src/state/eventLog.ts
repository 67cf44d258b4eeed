// The live event stream, kept from app start so the Events screen shows what happened while
// another screen was open. Newest first, bounded.

import { useSyncExternalStore } from 'react';
import { api } from '../api';
import type { KairosEvent } from '../api/types';

export type LoggedEvent = KairosEvent & { seq: number };

const MAX = 2000;
let events: LoggedEvent[] = [];
let seq = 0;
let stop: (() => void) | null = null;
let scheduled = false;
const listeners = new Set<() => void>();

function notify() {
  if (scheduled) return;
  scheduled = true;
  // Batch bursts of events into one render.
  setTimeout(() => {
    scheduled = false;
    for (const l of [...listeners]) l();
  }, 100);
}

export function startEventLog(): void {
  if (stop) return;
  stop = api.subscribe((event) => {
    seq += 1;
    events = [{ ...event, seq }, ...events];
    if (events.length > MAX) events = events.slice(0, MAX);
    notify();
  });
}

export function stopEventLog(): void {
  stop?.();
  stop = null;
}

export function clearEventLog(): void {
  events = [];
  notify();
}

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useEventLog(): LoggedEvent[] {
  return useSyncExternalStore(subscribe, () => events);
}

export function useStreamStatus() {
  return useSyncExternalStore(
    (l) => api.onStreamStatus(l),
    () => api.streamStatus,
  );
}
