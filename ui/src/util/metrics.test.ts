import { describe, expect, it } from 'vitest';
import type { MetricSample } from '../api/types';
import { networkRates } from './metrics';

function sample(at: string, rx: number, tx: number): MetricSample {
  return {
    at,
    cpu_percent: 0,
    memory_used: 0,
    memory_total: 1,
    swap_used: 0,
    swap_total: 0,
    disk_used: 0,
    disk_total: 1,
    net_rx_bytes: rx,
    net_tx_bytes: tx,
    load_1: 0,
    load_5: 0,
    load_15: 0,
  };
}

describe('networkRates', () => {
  it('divides what each counter moved by the time between samples', () => {
    const rates = networkRates([
      sample('2026-01-01T00:00:00Z', 1000, 500),
      sample('2026-01-01T00:00:10Z', 11000, 700),
      sample('2026-01-01T00:00:12Z', 11000, 900),
    ]);
    expect(rates).toEqual([
      { at: Date.parse('2026-01-01T00:00:10Z'), rx: 1000, tx: 20 },
      { at: Date.parse('2026-01-01T00:00:12Z'), rx: 0, tx: 100 },
    ]);
  });

  it('skips a counter that went back (a reboot) and samples at the same instant', () => {
    const rates = networkRates([
      sample('2026-01-01T00:00:00Z', 5000, 5000),
      sample('2026-01-01T00:00:10Z', 100, 100),
      sample('2026-01-01T00:00:10Z', 200, 200),
      sample('2026-01-01T00:00:20Z', 1200, 300),
    ]);
    expect(rates).toEqual([{ at: Date.parse('2026-01-01T00:00:20Z'), rx: 100, tx: 10 }]);
  });
});
