// The overview: job counts, the next 24 hours, the last 7 days of runs, recent failures and
// the machine's load (when a monitor job samples it).

import { useMemo, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { App, Badge, Button, Card, Col, Empty, Flex, List, Row, Segmented, Skeleton, Space, Statistic, Tooltip, Typography, theme } from 'antd';
import {
  AlertOutlined,
  CheckCircleOutlined,
  ClusterOutlined,
  DashboardOutlined,
  PauseCircleOutlined,
  PlayCircleOutlined,
  PlusOutlined,
  ProfileOutlined,
  ScheduleOutlined,
} from '@ant-design/icons';
import { api } from '../api';
import { FAILURE_STATES, RUN_STATES, type Job, type MetricSample, type RunState } from '../api/types';
import { failuresLink } from './Runs';
import { Chart, type ChartOption } from '../components/Chart';
import { ErrorAlert, PageHeader, errorText } from '../components/common';
import { STATE_COLORS, StateTag, StepTag } from '../components/tags';
import { usePrefs } from '../state/prefs';
import { runError } from '../i18n/problems';
import { dayjs, formatBytes, formatDateTime, fromNow } from '../util/format';
import { useAsync, useInterval, useLiveEvents, useThrottled, useVisibleInterval } from '../util/hooks';
import { networkRates } from '../util/metrics';
import { countNodes } from '../util/nodes';

const DAY_MS = 24 * 3600 * 1000;

/** The runs chart's ranges: how far back, how wide a bar, and how its axis is labelled. */
const RUN_RANGES = {
  '1h': { span: 3600, bucket: 60, every: 9, format: 'HH:mm' },
  '24h': { span: 86_400, bucket: 3600, every: 2, format: 'HH:mm' },
  '7d': { span: 7 * 86_400, bucket: 6 * 3600, every: 3, format: 'MM-DD' },
} as const;
type RunRange = keyof typeof RUN_RANGES;
/** Most jobs on the timeline, and most cron previews fetched for it. */
const TIMELINE_JOBS = 15;
const PREVIEW_COUNT = 100;

interface Upcoming {
  jobs: Job[];
  /** [time ms, row index, job id] */
  points: [number, number, string][];
  /** Rows whose fire times are too many to draw one by one: [from ms, row index], to the day's end. */
  dense: [number, number][];
  truncated: boolean;
}

/** The next fire times of the jobs due within a day, each job's from its own trigger. */
async function loadUpcoming(signal: AbortSignal): Promise<Upcoming> {
  const now = Date.now();
  const page = await api.listJobs({ sort: 'next_run', paused: false, limit: 100 }, signal);
  const soon = page.items.filter((j) => j.next_run && new Date(j.next_run).getTime() < now + DAY_MS);
  const jobs = soon.slice(0, TIMELINE_JOBS);
  const after = new Date(now).toISOString();
  const times = await Promise.all(
    jobs.map(async (job) => {
      const first = [new Date(job.next_run!).getTime()];
      try {
        const preview = await api.triggerPreview({ trigger: job.trigger, count: PREVIEW_COUNT, after }, signal);
        const ms = preview.times.map((s) => new Date(s).getTime());
        return ms.length ? ms : first;
      } catch {
        return first;
      }
    }),
  );
  const points: [number, number, string][] = [];
  const dense: [number, number][] = [];
  times.forEach((list, row) => {
    const within = list.filter((t) => t < now + DAY_MS);
    within.forEach((t) => points.push([t, row, jobs[row].id ?? '']));
    // Every preview time falls within the day: there are more after them.
    if (list.length >= PREVIEW_COUNT && within.length === list.length) dense.push([within[within.length - 1], row]);
  });
  return { jobs, points, dense, truncated: soon.length > jobs.length };
}

function StatCard({
  title,
  value,
  suffix,
  icon,
  color,
  to,
  testId,
}: {
  title: string;
  value: number | string | undefined;
  suffix?: React.ReactNode;
  icon: React.ReactNode;
  color: string;
  to?: string;
  testId: string;
}) {
  const { token } = theme.useToken();
  const body = (
    <Card hoverable={!!to} styles={{ body: { padding: 20 } }} data-testid={testId}>
      <Flex align="center" gap={16}>
        <Flex align="center" justify="center" style={{ width: 48, height: 48, borderRadius: 12, background: `${color}1f`, color, fontSize: 22, flex: 'none' }}>
          {icon}
        </Flex>
        <Statistic title={title} value={value ?? '—'} suffix={suffix} valueStyle={{ fontWeight: 600, color: token.colorText }} />
      </Flex>
    </Card>
  );
  return to ? <Link to={to}>{body}</Link> : body;
}

/** `used` as a percentage of `total` (0 when the total is unknown). */
function share(used: number, total: number): number {
  return total ? (used / total) * 100 : 0;
}

/** A line of percentages of the monitor's samples, on the left axis. */
function percentSeries(name: string, items: MetricSample[], value: (m: MetricSample) => number) {
  return {
    type: 'line' as const,
    name,
    showSymbol: false,
    smooth: true,
    areaStyle: { opacity: 0.12 },
    tooltip: { valueFormatter: (v: unknown) => `${Number(v).toFixed(1)}%` },
    data: items.map((m) => [new Date(m.at).getTime(), Math.round(value(m) * 10) / 10]),
  };
}

export function DashboardPage() {
  const { t, lang } = usePrefs();
  const { token } = theme.useToken();
  const { message } = App.useApp();
  const navigate = useNavigate();

  // Job counts count every job (costly with very many): refreshed rarely. The rest is cheap.
  const jobCounts = useAsync(async (signal) => {
    const { total, paused, monitors } = await api.jobCounts(signal);
    return { total, paused, active: total - paused, monitors };
  }, []);
  const health = useAsync(async (signal) => {
    const dayAgo = new Date(Date.now() - DAY_MS).toISOString();
    const [day, status] = await Promise.all([api.runStats({ from: dayAgo, bucket_s: 86400 }, signal), api.scheduler()]);
    const failures = day.filter((b) => FAILURE_STATES.includes(b.state)).reduce((n, b) => n + b.count, 0);
    return { failures, status };
  }, []);
  const counts = {
    data: jobCounts.data && health.data ? { ...jobCounts.data, ...health.data } : undefined,
    error: jobCounts.error ?? health.error,
    reload: (quiet?: boolean) => {
      jobCounts.reload(quiet);
      health.reload(quiet);
    },
  };
  const upcoming = useAsync(loadUpcoming, []);
  const [range, setRange] = useState<RunRange>('24h');
  const week = useAsync(
    async (signal) => {
      const r = RUN_RANGES[range];
      // From the start of the oldest bar, so every bar is whole (the newest one runs to now).
      const last = Math.floor(Date.now() / (r.bucket * 1000)) * r.bucket * 1000;
      const from = new Date(last - (r.span - r.bucket) * 1000).toISOString();
      const buckets = await api.runStats({ from, bucket_s: r.bucket }, signal);
      // The counts travel with the range and bars they were asked for.
      return { buckets, range, last };
    },
    [range],
  );
  const failures = useAsync(async (signal) => {
    const runs = await api.listRuns({ state: FAILURE_STATES, limit: 8 }, signal);
    const names = new Map<string, string>();
    await Promise.all(
      [...new Set(runs.map((r) => r.job_id))].map((id) =>
        api.getJob(id, signal).then(
          (j) => names.set(id, j.name),
          () => undefined,
        ),
      ),
    );
    return runs.map((r) => ({ ...r, name: names.get(r.job_id) }));
  }, []);
  const nodes = useAsync(async (signal) => countNodes((await api.listNodes(signal)).items), []);
  useVisibleInterval(() => nodes.reload(true), 10000);
  const hasMonitor = (counts.data?.monitors ?? 0) > 0;
  const metrics = useAsync((signal) => (hasMonitor ? api.systemMetrics({ points: 360 }, signal) : Promise.resolve([])), [hasMonitor]);

  const refresh = useThrottled(() => {
    health.reload(true);
    week.reload(true);
    failures.reload(true);
  }, 5000);
  const refreshJobs = useThrottled(() => {
    jobCounts.reload(true);
    upcoming.reload(true);
  }, 30000);
  useLiveEvents((e) => {
    if (e.type.startsWith('run_') && e.type !== 'run_submitted' && e.type !== 'run_started') refresh();
    if (e.type.startsWith('job_') || e.type.startsWith('scheduler_')) {
      refresh();
      refreshJobs();
    }
  });
  useInterval(() => upcoming.reload(true), 60000);
  useInterval(() => metrics.reload(true), hasMonitor ? 5000 : null);

  const timelineOption = useMemo<ChartOption | null>(() => {
    const data = upcoming.data;
    if (!data || !data.jobs.length) return null;
    const now = Date.now();
    return {
      grid: { left: 8, right: 24, top: 16, bottom: 32, containLabel: true },
      tooltip: {
        trigger: 'item',
        formatter: (p: unknown) => {
          const v = (p as { value: [number, number] }).value;
          return `<b>${data.jobs[v[1]]?.name ?? ''}</b><br/>${formatDateTime(new Date(v[0]).toISOString())}`;
        },
      },
      xAxis: {
        type: 'time',
        min: now,
        max: now + DAY_MS,
        axisLabel: { formatter: (v: number) => dayjs(v).format('HH:mm') },
        splitLine: { show: true, lineStyle: { type: 'dashed', opacity: 0.4 } },
      },
      yAxis: {
        type: 'category',
        inverse: true,
        data: data.jobs.map((j) => (j.name.length > 22 ? `${j.name.slice(0, 21)}…` : j.name)),
        axisTick: { show: false },
      },
      series: [
        {
          type: 'scatter',
          symbol: 'roundRect',
          symbolSize: [6, 14],
          itemStyle: { color: token.colorPrimary },
          data: data.points.map(([time, row]) => [time, row]),
          large: true,
        },
        // A job firing too often to draw each time: a band from its last drawn tick to the day's end.
        ...data.dense.map(([from, row]) => ({
          type: 'line' as const,
          data: [
            [from, row],
            [now + DAY_MS, row],
          ],
          symbol: 'none',
          silent: true,
          lineStyle: { color: token.colorPrimary, width: 10, opacity: 0.45 },
        })),
      ],
    };
  }, [upcoming.data, token.colorPrimary]);

  const weekOption = useMemo<ChartOption | null>(() => {
    if (!week.data) return null;
    const { buckets, last } = week.data;
    const r = RUN_RANGES[week.data.range];
    const width = r.bucket * 1000;
    const count = r.span / r.bucket;
    const start = last - (count - 1) * width;
    const slots = Array.from({ length: count }, (_, i) => start + i * width);
    const present = RUN_STATES.filter((s) => buckets.some((b) => b.state === s));
    const series = present.map((state) => {
      const counts = new Array<number>(slots.length).fill(0);
      for (const b of buckets) {
        if (b.state !== state) continue;
        const i = Math.floor((new Date(b.start).getTime() - start) / width);
        if (i >= 0 && i < counts.length) counts[i] += b.count;
      }
      return { type: 'bar' as const, name: t(`state.${state}`), stack: 'runs', data: counts, itemStyle: { color: STATE_COLORS[state as RunState] }, barCategoryGap: '20%' };
    });
    return {
      grid: { left: 8, right: 16, top: 36, bottom: 24, containLabel: true },
      legend: { top: 0, icon: 'circle', itemWidth: 10, itemHeight: 10 },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      xAxis: {
        type: 'category',
        // The tooltip names the bar's start in full; the axis shows as much as the range needs.
        data: slots.map((s) => dayjs(s).format('YYYY-MM-DD HH:mm')),
        axisLabel: { interval: r.every, formatter: (v: string) => dayjs(v).format(r.format) },
        axisTick: { alignWithLabel: true, interval: r.every },
      },
      yAxis: { type: 'value', minInterval: 1 },
      series,
    };
  }, [week.data, t]);

  const metricsOption = useMemo<ChartOption | null>(() => {
    const items = metrics.data;
    if (!items || !items.length) return null;
    const last = items[items.length - 1];
    return {
      grid: { left: 8, right: 16, top: 36, bottom: 24, containLabel: true },
      legend: { top: 0, icon: 'circle', itemWidth: 10, itemHeight: 10 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'time', axisLabel: { hideOverlap: true } },
      // Shares on the left; the load average (runnable tasks, not a share) on the right.
      yAxis: [
        { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
        { type: 'value', min: 0, splitLine: { show: false } },
      ],
      series: [
        percentSeries(t('dash.cpu'), items, (m) => m.cpu_percent),
        percentSeries(t('dash.memory', { total: formatBytes(last.memory_total) }), items, (m) => share(m.memory_used, m.memory_total)),
        percentSeries(t('dash.disk', { total: formatBytes(last.disk_total) }), items, (m) => share(m.disk_used, m.disk_total)),
        {
          type: 'line',
          name: t('dash.load1'),
          yAxisIndex: 1,
          showSymbol: false,
          smooth: true,
          lineStyle: { type: 'dashed' },
          tooltip: { valueFormatter: (v: unknown) => Number(v).toFixed(2) },
          data: items.map((m) => [new Date(m.at).getTime(), m.load_1]),
        },
      ],
    };
  }, [metrics.data, t]);

  // The same samples as network throughput: what the counters moved per second.
  const [systemView, setSystemView] = useState<'usage' | 'network'>('usage');
  const networkOption = useMemo<ChartOption | null>(() => {
    const rates = networkRates(metrics.data ?? []);
    if (!rates.length) return null;
    const perSecond = (v: unknown) => `${formatBytes(Number(v))}/s`;
    const line = (name: string, value: (r: (typeof rates)[number]) => number) => ({
      type: 'line' as const,
      name,
      showSymbol: false,
      smooth: true,
      areaStyle: { opacity: 0.12 },
      tooltip: { valueFormatter: perSecond },
      data: rates.map((r) => [r.at, Math.round(value(r))]),
    });
    return {
      grid: { left: 8, right: 16, top: 36, bottom: 24, containLabel: true },
      legend: { top: 0, icon: 'circle', itemWidth: 10, itemHeight: 10 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'time', axisLabel: { hideOverlap: true } },
      yAxis: { type: 'value', min: 0, axisLabel: { formatter: perSecond } },
      series: [line(t('dash.netReceived'), (r) => r.rx), line(t('dash.netSent'), (r) => r.tx)],
    };
  }, [metrics.data, t]);

  const status = counts.data?.status;
  const toggleScheduler = async () => {
    try {
      if (status?.paused) await api.resumeScheduler();
      else await api.pauseScheduler();
      health.reload(true);
    } catch (e) {
      message.error(errorText(e));
    }
  };

  const schedulerBadge = status ? (
    <Badge status={!status.running ? 'error' : status.paused ? 'warning' : 'success'} text={!status.running ? t('dash.stopped') : status.paused ? t('dash.schedulerPaused') : t('dash.running')} />
  ) : null;

  return (
    <>
      <PageHeader
        title={t('nav.dashboard')}
        subtitle={
          status && (
            <Flex gap={16} wrap="wrap" component="span">
              {schedulerBadge}
              <span>{t('dash.activeRuns', { n: status.active_runs })}</span>
              {status.next_run && (
                <span>
                  {new Date(status.next_run).getTime() <= Date.now() + 1000
                    ? t('dash.nextFireNow')
                    : t('dash.nextFire', { when: fromNow(status.next_run) })}
                </span>
              )}
            </Flex>
          )
        }
        extra={
          <>
            {status && (
              <Button icon={status.paused ? <PlayCircleOutlined /> : <PauseCircleOutlined />} onClick={toggleScheduler}>
                {status.paused ? t('dash.resumeAll') : t('dash.pauseAll')}
              </Button>
            )}
            <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate('/jobs/new')}>
              {t('jobs.new')}
            </Button>
          </>
        }
      />
      {counts.error && <ErrorAlert error={counts.error} onRetry={() => counts.reload()} />}
      {status?.paused && (
        <Typography.Paragraph>
          <Badge status="warning" /> {t('dash.pausedBanner')}
        </Typography.Paragraph>
      )}
      <Row gutter={[16, 16]}>
        <Col xs={12} md={8} xl={{ flex: '20%' }}>
          <StatCard testId="stat-total" title={t('dash.totalJobs')} value={counts.data?.total.toLocaleString()} icon={<ProfileOutlined />} color={token.colorPrimary} to="/jobs" />
        </Col>
        <Col xs={12} md={8} xl={{ flex: '20%' }}>
          <StatCard testId="stat-active" title={t('dash.activeJobs')} value={counts.data?.active.toLocaleString()} icon={<CheckCircleOutlined />} color={token.colorSuccess} to="/jobs?status=active" />
        </Col>
        <Col xs={12} md={8} xl={{ flex: '20%' }}>
          <StatCard testId="stat-paused" title={t('dash.pausedJobs')} value={counts.data?.paused.toLocaleString()} icon={<PauseCircleOutlined />} color={token.colorWarning} to="/jobs?status=paused" />
        </Col>
        <Col xs={12} md={8} xl={{ flex: '20%' }}>
          <StatCard testId="stat-failures" title={t('dash.failures24h')} value={counts.data?.failures.toLocaleString()} icon={<AlertOutlined />} color={token.colorError} to={failuresLink()} />
        </Col>
        <Col xs={12} md={8} xl={{ flex: '20%' }}>
          <StatCard
            testId="stat-nodes"
            title={t('dash.nodesAlive')}
            value={nodes.data?.alive.toLocaleString()}
            suffix={
              nodes.data?.lapsed ? (
                <Typography.Text type="warning" style={{ fontSize: 14, fontWeight: 500 }} data-testid="stat-nodes-lapsed">
                  · {t('dash.nodesLapsed', { n: nodes.data.lapsed })}
                </Typography.Text>
              ) : undefined
            }
            icon={<ClusterOutlined />}
            color={token.colorInfo}
            to="/nodes"
          />
        </Col>

        <Col xs={24} xl={14}>
          <Card title={<><ScheduleOutlined /> {t('dash.upcoming')}</>} extra={upcoming.data?.truncated && <Typography.Text type="secondary">{t('dash.upcomingTruncated', { n: TIMELINE_JOBS })}</Typography.Text>} style={{ height: '100%' }}>
            {upcoming.error ? (
              <ErrorAlert error={upcoming.error} onRetry={() => upcoming.reload()} />
            ) : upcoming.loading && !upcoming.data ? (
              <Skeleton active />
            ) : timelineOption ? (
              <Chart option={timelineOption} name="upcoming" style={{ height: Math.max(160, 60 + (upcoming.data?.jobs.length ?? 0) * 28) }} />
            ) : (
              <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('dash.nothingUpcoming')} />
            )}
          </Card>
        </Col>
        <Col xs={24} xl={10}>
          <Card title={<><AlertOutlined /> {t('dash.recentFailures')}</>} style={{ height: '100%' }} styles={{ body: { paddingTop: 8, paddingBottom: 8 } }}>
            {failures.error ? (
              <ErrorAlert error={failures.error} onRetry={() => failures.reload()} />
            ) : (
              <List
                loading={failures.loading && !failures.data}
                dataSource={failures.data ?? []}
                data-testid="recent-failures"
                locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('dash.noFailures')} /> }}
                renderItem={(r) => (
                  <List.Item
                    style={{ cursor: 'pointer', paddingInline: 4 }}
                    onClick={() => navigate(`/jobs/${encodeURIComponent(r.job_id)}?run=${r.id}`)}
                    extra={
                      <Tooltip title={formatDateTime(r.scheduled)}>
                        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                          {fromNow(r.finished ?? r.scheduled)}
                        </Typography.Text>
                      </Tooltip>
                    }
                  >
                    <List.Item.Meta
                      avatar={<StateTag state={r.state} />}
                      title={
                        <Space size={6}>
                          {r.name ?? r.job_id}
                          {/* A workflow's failed step: its workflow's run is listed too. */}
                          {r.step != null && <StepTag step={r.step} upstream={r.upstream} />}
                        </Space>
                      }
                      description={
                        <Typography.Text type="secondary" ellipsis style={{ maxWidth: 320 }}>
                          {runError(lang, r) ?? (r.state === 'abandoned' ? t('state.abandonedHelp') : '—')}
                        </Typography.Text>
                      }
                    />
                  </List.Item>
                )}
              />
            )}
          </Card>
        </Col>

        <Col xs={24} xl={hasMonitor ? 14 : 24}>
          <Card
            title={<><CheckCircleOutlined /> {t('dash.runsChart')}</>}
            extra={
              <Segmented<RunRange>
                size="small"
                value={range}
                onChange={setRange}
                options={(Object.keys(RUN_RANGES) as RunRange[]).map((k) => ({ value: k, label: t(`dash.range.${k}`) }))}
                data-testid="runs-range"
              />
            }
          >
            {week.error ? (
              <ErrorAlert error={week.error} onRetry={() => week.reload()} />
            ) : !weekOption ? (
              <Skeleton active />
            ) : week.data?.buckets.length ? (
              <Chart option={weekOption} name="runs-per-hour" style={{ height: 280 }} />
            ) : (
              <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('dash.noRunsInRange')} />
            )}
          </Card>
        </Col>
        {hasMonitor && (
          <Col xs={24} xl={10}>
            <Card
              title={<><DashboardOutlined /> {t('dash.system')}</>}
              extra={
                <Space size={12}>
                  <Segmented<'usage' | 'network'>
                    size="small"
                    value={systemView}
                    onChange={setSystemView}
                    options={[
                      { value: 'usage', label: t('dash.usage') },
                      { value: 'network', label: t('dash.network') },
                    ]}
                    data-testid="system-view"
                  />
                  <Badge status="success" text={t('dash.live')} />
                </Space>
              }
            >
              {metrics.error ? (
                <ErrorAlert error={metrics.error} onRetry={() => metrics.reload()} />
              ) : systemView === 'network' && networkOption ? (
                <Chart option={networkOption} name="network" style={{ height: 280 }} />
              ) : metricsOption ? (
                <Chart option={metricsOption} name="system" style={{ height: 280 }} />
              ) : metrics.loading ? (
                <Skeleton active />
              ) : (
                <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('dash.noSamples')} />
              )}
            </Card>
          </Col>
        )}
      </Row>
    </>
  );
}
