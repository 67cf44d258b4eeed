// What the monitor's samples say over time, beyond each sample: rates from its counters.

import type { MetricSample } from '../api/types';

/** Network throughput between two samples, in bytes per second. */
export interface NetworkRate {
  /** When the later sample was taken (epoch ms). */
  at: number;
  /** Bytes received per second. */
  rx: number;
  /** Bytes sent per second. */
  tx: number;
}

/** The received and sent rates between consecutive samples (their counters count since boot);
 * a counter that went back (a reboot) or samples at the same instant give no rate. */
export function networkRates(items: MetricSample[]): NetworkRate[] {
  const rates: NetworkRate[] = [];
  for (let i = 1; i < items.length; i += 1) {
    const [a, b] = [items[i - 1], items[i]];
    const seconds = (new Date(b.at).getTime() - new Date(a.at).getTime()) / 1000;
    const rx = b.net_rx_bytes - a.net_rx_bytes;
    const tx = b.net_tx_bytes - a.net_tx_bytes;
    if (seconds <= 0 || rx < 0 || tx < 0) continue;
    rates.push({ at: new Date(b.at).getTime(), rx: rx / seconds, tx: tx / seconds });
  }
  return rates;
}
