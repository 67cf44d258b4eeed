// The API token: taken from `?token=` on the first visit, kept in localStorage, and dropped
// from the address bar so it does not linger in history or screenshots.

import { useSyncExternalStore } from 'react';

const KEY = 'kairos.token';

export type AuthState = 'none' | 'present' | 'rejected';

let state: AuthState = 'none';
const listeners = new Set<() => void>();

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

function set(next: AuthState) {
  if (next === state) return;
  state = next;
  for (const l of [...listeners]) l();
}

export function getToken(): string | null {
  return storage()?.getItem(KEY) || null;
}

export function setToken(token: string): void {
  storage()?.setItem(KEY, token.trim());
  state = 'none';
  set('present');
}

export function clearToken(): void {
  storage()?.removeItem(KEY);
  set('none');
}

/** The server refused the token we hold. */
export function markRejected(): void {
  if (getToken()) set('rejected');
}

/** Reads a token from what a person pasted: the token itself or the whole URL. */
export function tokenFromInput(text: string): string {
  const trimmed = text.trim();
  const match = /[?&#]token=([^&#\s]+)/.exec(trimmed);
  if (match) return decodeURIComponent(match[1]);
  return trimmed;
}

/** Stores `?token=` from the address bar (if any) and strips it. Call once at start-up. */
export function captureTokenFromUrl(): void {
  if (typeof window === 'undefined') return;
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token');
  if (token) {
    storage()?.setItem(KEY, token);
    url.searchParams.delete('token');
    window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
  }
  state = getToken() ? 'present' : 'none';
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useAuth(): AuthState {
  return useSyncExternalStore(subscribe, () => state);
}
