// The job detail page's charts of its runs: how long each took, and what each used.

import type { RunRecord } from '../api/types';
import type { ChartOption } from '../components/Chart';
import { STATE_COLORS } from '../components/tags';
import type { Translate } from '../i18n';
import { dayjs, durationMs, formatBytes, formatDateTime, formatDuration } from '../util/format';

/** How many runs a chart shows at most. */
const MAX_POINTS = 200;

/** The newest of `runs` (newest first) that `keep` takes, oldest first. */
function points(runs: RunRecord[], keep: (r: RunRecord) => boolean): RunRecord[] {
  return runs.filter(keep).slice(0, MAX_POINTS).reverse();
}

/** The category axis of `runs` (oldest first): their fire times, labelled as finely as they
 * are close (seconds within an hour, minutes within a day). */
function timeAxis(runs: RunRecord[]): ChartOption['xAxis'] {
  const span = runs.length ? dayjs(runs[runs.length - 1].scheduled).diff(runs[0].scheduled) : 0;
  const labelFormat = span < 3_600_000 ? 'HH:mm:ss' : span < 86_400_000 ? 'HH:mm' : 'MM-DD HH:mm';
  return {
    type: 'category',
    data: runs.map((r) => dayjs(r.scheduled).format(labelFormat)),
    axisLabel: { hideOverlap: true },
  };
}

/** A tooltip over `runs` (the chart's points): the run's id, state and fire time, then `lines`. */
function runTooltip(runs: RunRecord[], t: Translate, lines: (r: RunRecord) => string[]): ChartOption['tooltip'] {
  return {
    trigger: 'axis',
    formatter: (items: unknown) => {
      const list = items as { dataIndex: number }[];
      const r = runs[list[0]?.dataIndex ?? 0];
      if (!r) return '';
      return [`#${r.id} · ${t(`state.${r.state}`)}`, formatDateTime(r.scheduled), ...lines(r)].join('<br/>');
    },
  };
}

/** Each ended run's duration, as bars in its state's color (a workflow's steps left out). */
export function durationChart(runs: RunRecord[], t: Translate): ChartOption {
  const shown = points(runs, (r) => !!r.started && !!r.finished && r.step == null);
  return {
    grid: { left: 56, right: 16, top: 24, bottom: 40 },
    tooltip: runTooltip(shown, t, (r) => [formatDuration(durationMs(r.started, r.finished))]),
    xAxis: timeAxis(shown),
    yAxis: {
      type: 'value',
      minInterval: 1,
      axisLabel: { formatter: (v: number) => formatDuration(v) },
    },
    series: [
      {
        type: 'bar',
        barMaxWidth: 18,
        data: shown.map((r) => ({
          value: durationMs(r.started, r.finished) ?? 0,
          itemStyle: { color: STATE_COLORS[r.state] },
        })),
      },
    ],
  };
}

/** Each run's CPU time (bars, left axis) and peak memory (line, right axis, in bytes). */
export function usageChart(runs: RunRecord[], t: Translate): ChartOption {
  const shown = points(runs, (r) => r.usage != null);
  const cpu = t('detail.cpu');
  const memory = t('detail.peakMemory');
  return {
    grid: { left: 64, right: 72, top: 40, bottom: 40 },
    legend: { data: [cpu, memory], top: 0 },
    tooltip: runTooltip(shown, t, (r) => [
      `${cpu}: ${formatDuration(r.usage?.cpu_ms)}`,
      `${memory}: ${r.usage ? formatBytes(r.usage.peak_rss_kib * 1024) : '—'}`,
    ]),
    xAxis: timeAxis(shown),
    yAxis: [
      { type: 'value', name: cpu, minInterval: 1, axisLabel: { formatter: (v: number) => formatDuration(v) } },
      { type: 'value', name: memory, splitLine: { show: false }, axisLabel: { formatter: (v: number) => formatBytes(v) } },
    ],
    series: [
      { name: cpu, type: 'bar', barMaxWidth: 18, data: shown.map((r) => r.usage?.cpu_ms ?? 0) },
      { name: memory, type: 'line', yAxisIndex: 1, showSymbol: shown.length <= 60, data: shown.map((r) => (r.usage?.peak_rss_kib ?? 0) * 1024) },
    ],
  };
}
