// Every job's runs, newest first: filtered by job, state, time, node and duration, with the last day's
// failures one click away, and each run's details and output a click further.

import { useEffect, useMemo, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { App, Button, Card, DatePicker, Flex, InputNumber, Select, Table, Typography } from 'antd';
import type { TableProps } from 'antd';
import { AlertOutlined, HistoryOutlined, ReloadOutlined } from '@ant-design/icons';
import type { Dayjs } from 'dayjs';
import { api } from '../api';
import { FAILURE_STATES, RUN_STATES, type RunRecord, type RunState } from '../api/types';
import { ErrorAlert, PageHeader, errorText } from '../components/common';
import { RunViewer, runColumns } from '../components/runs';
import { useJobNames } from '../state/jobNames';
import { usePrefs } from '../state/prefs';
import { dayjs } from '../util/format';
import { useAsync, useDebounced } from '../util/hooks';
import { shortNodeId } from '../util/nodes';

/** Runs fetched per page ("Load more" fetches the next, older ones). */
const PAGE = 100;

/** The filters, as the address bar holds them (`/runs?job=…&state=failed,timed_out&from=…`). */
interface Filters {
  job?: string;
  states: RunState[];
  from?: string;
  to?: string;
  /** The node that claimed the run. */
  node?: string;
  /** Runs that took at least this many seconds. */
  minSeconds?: number;
}

function readFilters(params: URLSearchParams): Filters {
  const states = (params.get('state') ?? '').split(',').filter((s): s is RunState => (RUN_STATES as string[]).includes(s));
  return {
    job: params.get('job') || undefined,
    states,
    from: params.get('from') || undefined,
    to: params.get('to') || undefined,
    node: params.get('node') || undefined,
    minSeconds: Number(params.get('min_s')) > 0 ? Number(params.get('min_s')) : undefined,
  };
}

function writeFilters(f: Filters): URLSearchParams {
  const params = new URLSearchParams();
  if (f.job) params.set('job', f.job);
  if (f.states.length) params.set('state', f.states.join(','));
  if (f.from) params.set('from', f.from);
  if (f.to) params.set('to', f.to);
  if (f.node) params.set('node', f.node);
  if (f.minSeconds) params.set('min_s', String(f.minSeconds));
  return params;
}

/** The address of the last 24 hours' failures (for links from other screens). */
export function failuresLink(): string {
  return `/runs?${writeFilters({ states: FAILURE_STATES, from: dayjs().subtract(24, 'hour').startOf('minute').toISOString() })}`;
}

export function RunsPage() {
  const { t, lang } = usePrefs();
  const { message } = App.useApp();
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => readFilters(params), [params]);
  const set = (change: Partial<Filters>) => setParams(writeFilters({ ...filters, ...change }), { replace: true });
  const [openRun, setOpenRun] = useState<number | null>(null);
  // Older pages, appended below the first.
  const [older, setOlder] = useState<RunRecord[]>([]);
  const [exhausted, setExhausted] = useState(false);
  const [loadingMore, setLoadingMore] = useState(false);

  const query = useMemo(
    () => ({
      job_id: filters.job,
      state: filters.states,
      from: filters.from,
      to: filters.to,
      node: filters.node,
      min_duration_ms: filters.minSeconds ? Math.round(filters.minSeconds * 1000) : undefined,
      limit: PAGE,
    }),
    [filters],
  );
  const first = useAsync((signal) => api.listRuns(query, signal), [query]);
  // Older pages belong to one first page: a new query or a refresh starts again.
  const generation = useRef(0);
  const restart = () => {
    generation.current += 1;
    setOlder([]);
    setExhausted(false);
    setLoadingMore(false);
  };
  useEffect(restart, [query]);
  const runs = useMemo(() => [...(first.data ?? []), ...older], [first.data, older]);
  const more = async () => {
    const last = runs[runs.length - 1];
    if (!last) return;
    const mine = generation.current;
    setLoadingMore(true);
    try {
      const page = await api.listRuns({ ...query, before_id: last.id });
      if (generation.current !== mine) return;
      setOlder((o) => [...o, ...page]);
      setExhausted(page.length < PAGE);
    } catch (e) {
      if (generation.current === mine) message.error(errorText(e));
    } finally {
      if (generation.current === mine) setLoadingMore(false);
    }
  };

  // Jobs to pick from: a search over the store's job query.
  const [jobSearch, setJobSearch] = useState('');
  const search = useDebounced(jobSearch, 250);
  const jobOptions = useAsync((signal) => api.listJobs({ q: search || undefined, limit: 20 }, signal), [search]);
  // Nodes to pick from: every node the store still lists, gone ones included.
  const nodes = useAsync((signal) => api.listNodes(signal).catch(() => undefined), []);
  const nameOf = useJobNames(useMemo(() => [...new Set(runs.map((r) => r.job_id))].slice(0, 500), [runs]));

  const columns: TableProps<RunRecord>['columns'] = [
    {
      title: t('runs.job'),
      dataIndex: 'job_id',
      width: 170,
      ellipsis: true,
      render: (id: string) => (
        <Link to={`/jobs/${encodeURIComponent(id)}`} onClick={(e) => e.stopPropagation()} data-testid="run-job">
          {nameOf(id) ?? id}
        </Link>
      ),
    },
    // The run's number and attempt matter within one job; here the job does, and the
    // narrower state and node leave the error room to be read.
    ...runColumns(t, lang)
      .filter((c) => !('dataIndex' in c) || !['id', 'attempt'].includes(String(c.dataIndex)))
      .map((c) => ('dataIndex' in c && c.dataIndex === 'state' ? { ...c, width: 170 } : 'dataIndex' in c && c.dataIndex === 'node' ? { ...c, width: 120 } : c)),
  ];
  const failuresOnly =
    filters.states.length === FAILURE_STATES.length && FAILURE_STATES.every((s) => filters.states.includes(s)) && !!filters.from;

  return (
    <>
      <PageHeader
        title={<><HistoryOutlined /> {t('runs.title')}</>}
        subtitle={t('runs.subtitle')}
        extra={
          <>
            <Button
              icon={<AlertOutlined />}
              type={failuresOnly ? 'primary' : 'default'}
              danger={failuresOnly}
              href={failuresLink()}
              onClick={(e) => {
                e.preventDefault();
                setParams(new URL(failuresLink(), window.location.origin).searchParams, { replace: true });
              }}
              data-testid="runs-failures"
            >
              {t('runs.failures24h')}
            </Button>
            <Button
              icon={<ReloadOutlined />}
              onClick={() => {
                restart();
                first.reload();
              }}
            >
              {t('common.refresh')}
            </Button>
          </>
        }
      />
      <Card styles={{ body: { padding: 12 } }}>
        <Flex gap={8} wrap="wrap" style={{ marginBottom: 12 }}>
          <Select
            allowClear
            showSearch
            filterOption={false}
            style={{ width: 260 }}
            placeholder={t('runs.anyJob')}
            value={filters.job}
            onSearch={setJobSearch}
            onChange={(job?: string) => set({ job })}
            options={[
              ...(filters.job && !jobOptions.data?.items.some((j) => j.id === filters.job)
                ? [{ value: filters.job, label: nameOf(filters.job) ?? filters.job }]
                : []),
              ...(jobOptions.data?.items ?? []).map((j) => ({ value: j.id ?? '', label: j.name })),
            ]}
            data-testid="runs-job"
          />
          <Select
            mode="multiple"
            allowClear
            style={{ minWidth: 260 }}
            placeholder={t('runs.anyState')}
            value={filters.states}
            onChange={(states: RunState[]) => set({ states })}
            options={RUN_STATES.map((s) => ({ value: s, label: t(`state.${s}`) }))}
            data-testid="runs-state"
          />
          <DatePicker.RangePicker
            showTime
            allowEmpty={[true, true]}
            value={[filters.from ? dayjs(filters.from) : null, filters.to ? dayjs(filters.to) : null]}
            onChange={(range) => {
              const [from, to] = (range ?? [null, null]) as [Dayjs | null, Dayjs | null];
              set({ from: from?.toISOString(), to: to?.toISOString() });
            }}
            placeholder={[t('runs.from'), t('runs.to')]}
            data-testid="runs-time-range"
          />
          <Select
            allowClear
            style={{ width: 200 }}
            placeholder={t('runs.anyNode')}
            value={filters.node}
            onChange={(node?: string) => set({ node })}
            options={[
              ...(filters.node && !nodes.data?.items.some((n) => n.id === filters.node) ? [{ value: filters.node, label: filters.node }] : []),
              ...(nodes.data?.items ?? []).map((n) => ({ value: n.id, label: `${n.host} · ${shortNodeId(n.id)}` })),
            ]}
            data-testid="runs-node"
          />
          <InputNumber
            min={0}
            style={{ width: 190 }}
            addonBefore={t('runs.longerThan')}
            addonAfter={t('unit.s')}
            value={filters.minSeconds ?? null}
            onChange={(v) => set({ minSeconds: typeof v === 'number' && v > 0 ? v : undefined })}
            data-testid="runs-min-duration"
          />
        </Flex>
        {first.error ? (
          <ErrorAlert error={first.error} onRetry={() => first.reload()} />
        ) : (
          <Table<RunRecord>
            rowKey="id"
            size="small"
            loading={first.loading}
            columns={columns}
            dataSource={runs}
            pagination={false}
            scroll={{ x: 1180 }}
            onRow={(r) => ({ onClick: () => setOpenRun(r.id), style: { cursor: 'pointer' } })}
            locale={{ emptyText: t('runs.none') }}
            data-testid="runs-table"
            footer={() => (
              <Flex justify="space-between" align="center">
                <Typography.Text type="secondary">{t('runs.shown', { n: runs.length })}</Typography.Text>
                {!exhausted && (first.data?.length ?? 0) === PAGE && (
                  <Button onClick={more} loading={loadingMore} data-testid="runs-more">
                    {t('runs.more')}
                  </Button>
                )}
              </Flex>
            )}
          />
        )}
      </Card>
      <RunViewer runId={openRun} onClose={() => setOpenRun(null)} onOpenRun={setOpenRun} />
    </>
  );
}
