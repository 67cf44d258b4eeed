// The app's one API client, on the transport of wherever the page runs.

import { getToken, markRejected } from '../state/auth';
import { KairosClient } from './client';
import { pickTransport } from './transport';

export const api = new KairosClient({
  transport: pickTransport(),
  getToken,
  onUnauthorized: markRejected,
});

export { ApiError } from './client';
export type * from './types';
