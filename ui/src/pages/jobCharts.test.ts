import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../api/types';
import { durationChart, usageChart } from './jobCharts';

const t = (key: string) => key;

/** Run `id`, newest first as the API lists them; a shell run's usage when given. */
function run(id: number, usage?: RunRecord['usage'], step: string | null = null): RunRecord {
  const start = Date.UTC(2026, 11, 2, 9, 0, id);
  return {
    id,
    job_id: 'sh',
    attempt: 1,
    state: 'succeeded',
    scheduled: new Date(start).toISOString(),
    started: new Date(start).toISOString(),
    finished: new Date(start + 250).toISOString(),
    step,
    usage,
  };
}

type Series = { data: unknown[] }[];
type Tooltip = { formatter: (items: unknown) => string };

describe('the job’s run charts', () => {
  const runs = [run(3, { cpu_ms: 40, peak_rss_kib: 2048 }), run(2), run(1, { cpu_ms: 10, peak_rss_kib: 1024 }, 'extract')];

  it('chart the durations of the job’s own runs, oldest first', () => {
    const option = durationChart(runs, t);
    expect((option.series as Series)[0].data).toEqual([
      { value: 250, itemStyle: { color: '#52c41a' } },
      { value: 250, itemStyle: { color: '#52c41a' } },
    ]);
  });

  it('chart CPU time and peak memory (in bytes) of the runs that recorded them', () => {
    const option = usageChart(runs, t);
    const [cpu, memory] = option.series as Series;
    expect(cpu.data).toEqual([10, 40]);
    expect(memory.data).toEqual([1024 * 1024, 2048 * 1024]);
    const tip = (option.tooltip as Tooltip).formatter([{ dataIndex: 1 }]);
    expect(tip).toMatch(/^#3 · state\.succeeded<br\/>/);
    expect(tip).toContain('detail.cpu: 40 ms');
    expect(tip).toContain('detail.peakMemory: 2.0 MiB');
  });
});
