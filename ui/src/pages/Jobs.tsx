// The job list: search, filters, server-side sorting, bulk actions, and a virtual table that
// loads pages as it scrolls.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import {
  App,
  Button,
  Card,
  Dropdown,
  Empty,
  Flex,
  Input,
  Select,
  Skeleton,
  Space,
  Table,
  Tag,
  Tooltip,
  Typography,
  theme,
} from 'antd';
import type { TableProps } from 'antd';
import {
  CaretRightOutlined,
  CopyOutlined,
  DeleteOutlined,
  EditOutlined,
  MoreOutlined,
  PauseOutlined,
  PlayCircleOutlined,
  PlusOutlined,
  ReloadOutlined,
  SearchOutlined,
} from '@ant-design/icons';
import { api } from '../api';
import { eventJobId, type ActionKind, type Job, type JobSort } from '../api/types';
import { KindTag, StateTag } from '../components/tags';
import { ErrorAlert, PageHeader, errorText } from '../components/common';
import { usePrefs } from '../state/prefs';
import { formatDateTime, fromNow } from '../util/format';
import { useAsync, useAvailableHeight, useDebounced, useLiveEvents, useThrottled } from '../util/hooks';
import { triggerRaw, triggerSummary } from '../util/trigger';
import { useJobPages, type Row } from './useJobPages';

/** Runs `fn` over `items`, `limit` at a time; resolves with the failures. */
async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>) {
  const failures: { item: T; error: unknown }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next];
      next += 1;
      try {
        await fn(item);
      } catch (error) {
        failures.push({ item, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return failures;
}

/** A placeholder row (a page not loaded yet) cannot be selected. */
const checkboxProps = (row: Row) => ({ disabled: !!row.placeholder });

export function JobsPage() {
  const { t, lang } = usePrefs();
  const { token } = theme.useToken();
  const { message, modal } = App.useApp();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const [search, setSearch] = useState(params.get('q') ?? '');
  const q = useDebounced(search.trim(), 250);
  const kind = (params.get('kind') as ActionKind | null) ?? undefined;
  const status = params.get('status') ?? undefined;
  const tag = params.get('tag') ?? undefined;
  const sort = (params.get('sort') as JobSort | null) ?? 'name';
  const [selected, setSelected] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);

  const setParam = (key: string, value: string | undefined) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };

  useEffect(() => {
    if ((params.get('q') ?? '') !== q) setParam('q', q || undefined);
    // Only mirror the debounced search into the address.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [q]);

  const query = useMemo(
    () => ({
      q: q || undefined,
      kind,
      tag,
      paused: status === 'paused' ? true : status === 'active' ? false : undefined,
      sort,
    }),
    [q, kind, tag, status, sort],
  );
  const jobs = useJobPages(query);

  useEffect(() => setSelected([]), [query]);

  // Live: refresh the changed jobs that are in view, in place; reload the view (at most every
  // few seconds) when jobs come and go. With 100,000 jobs firing, this stays a handful of
  // small requests a second.
  const changed = useRef(new Set<string>());
  const visibleRows = useRef<[number, number]>([0, 30]);
  const reloadView = useThrottled(() => jobs.refresh(), 5000);
  const flush = useThrottled(() => {
    const [first, last] = visibleRows.current;
    const ids = jobs.idsIn(first, last + 1).filter((id) => changed.current.has(id));
    changed.current.clear();
    if (ids.length) void jobs.refreshJobs(ids);
  }, 1000);
  useLiveEvents((event) => {
    const jobId = eventJobId(event);
    if (!jobId) return;
    if (event.type === 'job_added' || event.type === 'job_removed') reloadView();
    else if (event.type === 'run_submitted') return;
    changed.current.add(jobId);
    flush();
  });

  const tableWrap = useRef<HTMLDivElement>(null);
  const height = useAvailableHeight(tableWrap, 120);
  const rowHeight = useRef(47);

  const onScroll = useCallback(
    (e: React.UIEvent<HTMLDivElement>) => {
      const el = e.currentTarget;
      if (jobs.rows.length && el.scrollHeight > el.clientHeight) {
        rowHeight.current = el.scrollHeight / jobs.rows.length;
      }
      const first = Math.floor(el.scrollTop / rowHeight.current);
      const visible = Math.ceil(el.clientHeight / rowHeight.current);
      visibleRows.current = [first, first + visible];
      jobs.ensureRange(Math.max(0, first - 100), first + visible + 200);
    },
    [jobs],
  );

  const act = async (label: string, ids: string[], fn: (id: string) => Promise<unknown>) => {
    setBusy(true);
    const failures = await forEachLimited(ids, 6, fn);
    setBusy(false);
    if (failures.length) {
      message.error(t('jobs.bulkFailed', { n: failures.length, error: errorText(failures[0].error) }));
    } else {
      message.success(t('jobs.bulkDone', { action: label, n: ids.length }));
    }
    await jobs.refreshJobs(ids);
  };

  const runNow = async (job: Job) => {
    const id = job.id ?? '';
    try {
      const runId = await api.runJob(id);
      message.success({
        content: (
          <span>
            {t('jobs.runStarted', { name: job.name })}{' '}
            <Link to={`/jobs/${encodeURIComponent(id)}?run=${runId}`}>{t('jobs.viewRun')}</Link>
          </span>
        ),
      });
    } catch (e) {
      message.error(errorText(e));
    }
  };

  const togglePause = async (job: Job) => {
    const id = job.id ?? '';
    try {
      if (job.paused) await api.resumeJob(id);
      else await api.pauseJob(id);
      await jobs.refreshJobs([id]);
    } catch (e) {
      message.error(errorText(e));
    }
  };

  // The tags, as groups: fetched when the group list opens (counting them reads every job).
  const [groupsWanted, setGroupsWanted] = useState(false);
  const groups = useAsync((signal) => (groupsWanted ? api.listTags(signal) : Promise.resolve(undefined)), [groupsWanted]);

  const setGroupPaused = (group: string, paused: boolean) => {
    modal.confirm({
      title: t(paused ? 'jobs.pauseGroupConfirm' : 'jobs.resumeGroupConfirm', { tag: group }),
      okText: t(paused ? 'jobs.pauseGroup' : 'jobs.resumeGroup'),
      cancelText: t('common.cancel'),
      onOk: async () => {
        setBusy(true);
        try {
          const { changed } = await api.setTagPaused(group, paused);
          message.success(t(paused ? 'jobs.groupPaused' : 'jobs.groupResumed', { n: changed, tag: group }));
          jobs.refresh();
          if (groupsWanted) groups.reload(true);
        } catch (e) {
          message.error(errorText(e));
        } finally {
          setBusy(false);
        }
      },
    });
  };

  const confirmDelete = (ids: string[], names: string) => {
    modal.confirm({
      title: ids.length === 1 ? t('jobs.deleteOne', { name: names }) : t('jobs.deleteMany', { n: ids.length }),
      content: t('jobs.deleteHelp'),
      okText: t('common.delete'),
      okButtonProps: { danger: true },
      cancelText: t('common.cancel'),
      onOk: async () => {
        await act(t('jobs.deleted'), ids, (id) => api.deleteJob(id));
        setSelected((s) => s.filter((id) => !ids.includes(id)));
      },
    });
  };

  const isJob = (row: Row): row is Job & { placeholder?: false } => !row.placeholder;
  const bar = <Skeleton.Input active size="small" style={{ width: 120, height: 16, minWidth: 60 }} />;

  // One object for as long as the selection holds: antd recomputes every row's checkbox
  // state (100,000 rows) whenever it or getCheckboxProps changes.
  const rowSelection = useMemo<TableProps<Row>['rowSelection']>(
    () => ({
      selectedRowKeys: selected,
      onChange: (keys) => setSelected(keys.map(String).filter((k) => !k.startsWith('\u0000'))),
      getCheckboxProps: checkboxProps,
      columnWidth: 48,
    }),
    [selected],
  );
  const columns: TableProps<Row>['columns'] = [
    {
      title: t('job.name'),
      dataIndex: 'name',
      key: 'name',
      width: 200,
      sorter: true,
      sortOrder: sort === 'name' ? 'ascend' : sort === '-name' ? 'descend' : null,
      ellipsis: true,
      render: (_, row) =>
        isJob(row) ? (
          <Flex gap={8} align="center" style={{ minWidth: 0 }}>
            <Link
              to={`/jobs/${encodeURIComponent(row.id ?? '')}`}
              style={{ fontWeight: 500, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}
              data-testid="job-link"
            >
              {row.name}
            </Link>
          </Flex>
        ) : (
          bar
        ),
    },
    {
      title: t('job.kind'),
      key: 'kind',
      width: 100,
      render: (_, row) => (isJob(row) ? <KindTag kind={row.kind} /> : null),
    },
    {
      title: t('job.schedule'),
      key: 'trigger',
      width: 190,
      ellipsis: { showTitle: false },
      render: (_, row) =>
        isJob(row) ? (
          <Tooltip title={<code>{triggerRaw(row.trigger)}</code>} placement="topLeft">
            <span>{triggerSummary(row.trigger, t, lang)}</span>
          </Tooltip>
        ) : (
          bar
        ),
    },
    {
      title: t('job.nextRun'),
      key: 'next_run',
      width: 130,
      ellipsis: true,
      sorter: true,
      sortOrder: sort === 'next_run' ? 'ascend' : sort === '-next_run' ? 'descend' : null,
      render: (_, row) => {
        if (!isJob(row)) return null;
        if (row.paused) {
          return (
            <Tag color="warning" icon={<PauseOutlined />} bordered={false}>
              {t('job.paused')}
            </Tag>
          );
        }
        if (!row.next_run) return <Typography.Text type="secondary">{t('jobs.never')}</Typography.Text>;
        const due = new Date(row.next_run).getTime() <= Date.now();
        return (
          <Tooltip title={formatDateTime(row.next_run)}>
            <span style={{ whiteSpace: 'nowrap' }}>{due ? t('jobs.dueNow') : fromNow(row.next_run)}</span>
          </Tooltip>
        );
      },
    },
    {
      title: t('job.lastRun'),
      key: 'last_run',
      width: 225,
      ellipsis: true,
      render: (_, row) => {
        if (!isJob(row)) return null;
        if (!row.last_run) return <Typography.Text type="secondary">—</Typography.Text>;
        const when = row.last_run.finished ?? row.last_run.scheduled;
        return (
          <Space size={6} style={{ whiteSpace: 'nowrap' }}>
            <StateTag state={row.last_run.state} />
            <Tooltip title={formatDateTime(when)}>
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {fromNow(when)}
              </Typography.Text>
            </Tooltip>
          </Space>
        );
      },
    },
    {
      title: t('job.tags'),
      key: 'tags',
      width: 130,
      ellipsis: true,
      render: (_, row) => {
        if (!isJob(row)) return null;
        const tags = row.tags ?? [];
        return (
          <Flex gap={4} style={{ overflow: 'hidden' }}>
            {tags.slice(0, 3).map((tg) => (
              <Tag key={tg} style={{ marginInlineEnd: 0, cursor: 'pointer' }} onClick={() => setParam('tag', tg)}>
                {tg}
              </Tag>
            ))}
            {tags.length > 3 && <Tag style={{ marginInlineEnd: 0 }}>+{tags.length - 3}</Tag>}
          </Flex>
        );
      },
    },
    {
      title: t('common.actions'),
      key: 'actions',
      width: 136,
      fixed: 'right',
      render: (_, row) =>
        isJob(row) ? (
          <Space size={2}>
            <Tooltip title={t('jobs.runNow')}>
              <Button type="text" size="small" icon={<CaretRightOutlined />} onClick={() => runNow(row)} aria-label={t('jobs.runNow')} data-testid="run-now" />
            </Tooltip>
            <Tooltip title={row.paused ? t('jobs.resume') : t('jobs.pause')}>
              <Button
                type="text"
                size="small"
                icon={row.paused ? <PlayCircleOutlined /> : <PauseOutlined />}
                onClick={() => togglePause(row)}
                aria-label={row.paused ? t('jobs.resume') : t('jobs.pause')}
              />
            </Tooltip>
            <Tooltip title={t('common.edit')}>
              <Button type="text" size="small" icon={<EditOutlined />} onClick={() => navigate(`/jobs/${encodeURIComponent(row.id ?? '')}/edit`)} aria-label={t('common.edit')} />
            </Tooltip>
            <Dropdown
              trigger={['click']}
              menu={{
                items: [
                  { key: 'copy', icon: <CopyOutlined />, label: t('jobs.duplicate') },
                  { type: 'divider' },
                  { key: 'delete', icon: <DeleteOutlined />, label: t('common.delete'), danger: true },
                ],
                onClick: ({ key }) => {
                  if (key === 'copy') navigate(`/jobs/new?copy=${encodeURIComponent(row.id ?? '')}`);
                  if (key === 'delete') confirmDelete([row.id ?? ''], row.name);
                },
              }}
            >
              <Button type="text" size="small" icon={<MoreOutlined />} aria-label={t('common.more')} />
            </Dropdown>
          </Space>
        ) : null,
    },
  ];

  const filtered = !!(q || kind || status || tag);
  const selectedJobs = selected.map((id) => jobs.get(id)).filter((j): j is Job => !!j);

  return (
    <>
      <PageHeader
        title={t('nav.jobs')}
        subtitle={
          jobs.total === null
            ? t('common.loading')
            : t(filtered ? 'jobs.countFiltered' : 'jobs.count', { n: jobs.total.toLocaleString() })
        }
        extra={
          <>
            <Button icon={<ReloadOutlined />} onClick={() => jobs.refresh()}>
              {t('common.refresh')}
            </Button>
            <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate('/jobs/new')} data-testid="new-job">
              {t('jobs.new')}
            </Button>
          </>
        }
      />
      <Card styles={{ body: { padding: 0 } }}>
        <Flex gap={8} wrap="wrap" align="center" style={{ padding: 12, borderBottom: `1px solid ${token.colorBorderSecondary}` }}>
          <Input
            allowClear
            prefix={<SearchOutlined />}
            placeholder={t('jobs.search')}
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            style={{ width: 280 }}
            data-testid="job-search"
          />
          <Select
            allowClear
            placeholder={t('job.kind')}
            value={kind}
            onChange={(v) => setParam('kind', v)}
            style={{ width: 140 }}
            options={(['shell', 'http', 'monitor', 'function', 'workflow'] as const).map((k) => ({ value: k, label: t(`kind.${k}`) }))}
          />
          <Select
            allowClear
            placeholder={t('job.status')}
            value={status}
            onChange={(v) => setParam('status', v)}
            style={{ width: 140 }}
            options={[
              { value: 'active', label: t('job.active') },
              { value: 'paused', label: t('job.paused') },
            ]}
          />
          <Select
            allowClear
            showSearch
            placeholder={t('jobs.group')}
            value={tag}
            onChange={(v?: string) => setParam('tag', v)}
            onDropdownVisibleChange={(open) => open && (groupsWanted ? groups.reload(true) : setGroupsWanted(true))}
            loading={groupsWanted && groups.loading}
            style={{ width: 200 }}
            options={[
              ...(tag && !groups.data?.some((g) => g.tag.toLowerCase() === tag.toLowerCase()) ? [{ value: tag, label: tag }] : []),
              ...(groups.data ?? []).map((g) => ({
                value: g.tag,
                label: `${g.tag} (${g.paused ? t('jobs.groupCountPaused', { n: g.jobs, paused: g.paused }) : g.jobs})`,
              })),
            ]}
            data-testid="job-group"
          />
          {tag && selected.length === 0 && (
            <Space size={4} data-testid="group-bar">
              <Button size="small" icon={<PauseOutlined />} loading={busy} onClick={() => setGroupPaused(tag, true)} data-testid="group-pause">
                {t('jobs.pauseGroup')}
              </Button>
              <Button size="small" icon={<PlayCircleOutlined />} loading={busy} onClick={() => setGroupPaused(tag, false)} data-testid="group-resume">
                {t('jobs.resumeGroup')}
              </Button>
            </Space>
          )}
          <div style={{ flex: 1 }} />
          {selected.length > 0 ? (
            <Space wrap data-testid="bulk-bar">
              <Typography.Text strong>{t('jobs.selected', { n: selected.length })}</Typography.Text>
              <Button size="small" icon={<PauseOutlined />} loading={busy}
                onClick={() => act(t('jobs.paused'), selected, (id) => api.pauseJob(id))}>
                {t('jobs.pause')}
              </Button>
              <Button size="small" icon={<CaretRightOutlined />} loading={busy}
                onClick={() => act(t('jobs.resumed'), selected, (id) => api.resumeJob(id))}>
                {t('jobs.resume')}
              </Button>
              <Button size="small" danger icon={<DeleteOutlined />} loading={busy}
                onClick={() => confirmDelete(selected, selectedJobs[0]?.name ?? '')}>
                {t('common.delete')}
              </Button>
              <Button size="small" type="link" onClick={() => setSelected([])}>
                {t('jobs.clearSelection')}
              </Button>
            </Space>
          ) : (
            jobs.total !== null &&
            jobs.total > 0 && (
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {t('jobs.loaded', { loaded: jobs.loadedCount.toLocaleString(), total: jobs.total.toLocaleString() })}
              </Typography.Text>
            )
          )}
        </Flex>
        {jobs.error && (
          <div style={{ padding: 12 }}>
            <ErrorAlert error={jobs.error} onRetry={() => jobs.refresh()} />
          </div>
        )}
        <div ref={tableWrap}>
          <Table<Row>
            virtual
            size="middle"
            rowKey="id"
            columns={columns}
            dataSource={jobs.rows}
            pagination={false}
            loading={jobs.total === null && !jobs.error}
            scroll={{ x: 1164, y: height }}
            onScroll={onScroll}
            showSorterTooltip={false}
            data-testid="jobs-table"
            rowSelection={rowSelection}
            onChange={(_p, _f, sorter) => {
              const s = Array.isArray(sorter) ? sorter[0] : sorter;
              const key = s?.columnKey === 'next_run' ? 'next_run' : 'name';
              const next: JobSort = s?.order === 'descend' ? (`-${key}` as JobSort) : s?.order === 'ascend' ? key : 'name';
              setParam('sort', next === 'name' ? undefined : next);
            }}
            locale={{
              emptyText: (
                <Empty
                  image={Empty.PRESENTED_IMAGE_SIMPLE}
                  description={filtered ? t('jobs.noMatch') : t('jobs.empty')}
                  style={{ padding: 32 }}
                >
                  {!filtered && (
                    <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate('/jobs/new')}>
                      {t('jobs.createFirst')}
                    </Button>
                  )}
                </Empty>
              ),
            }}
          />
        </div>
      </Card>
    </>
  );
}
