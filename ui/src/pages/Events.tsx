// The live event stream, filterable by type and job.

import { useMemo, useRef, useState } from 'react';
import { Link } from 'react-router-dom';
import { Badge, Button, Card, Empty, Flex, Select, Space, Switch, Table, Tag, Tooltip, Typography, theme } from 'antd';
import type { TableProps } from 'antd';
import { ClearOutlined, PauseCircleOutlined } from '@ant-design/icons';
import { EVENT_TYPES, eventJobId, type EventType } from '../api/types';
import { PageHeader } from '../components/common';
import { StepTag } from '../components/tags';
import { clearEventLog, useEventLog, useStreamStatus, type LoggedEvent } from '../state/eventLog';
import { useJobNames } from '../state/jobNames';
import { usePrefs } from '../state/prefs';
import { dayjs } from '../util/format';
import { useAvailableHeight } from '../util/hooks';

const TYPE_COLOR: Partial<Record<EventType, string>> = {
  run_succeeded: 'success',
  run_failed: 'error',
  run_timed_out: 'orange',
  run_missed: 'warning',
  run_skipped: 'cyan',
  run_abandoned: 'purple',
  run_started: 'processing',
  run_submitted: 'default',
  run_cancelled: 'default',
  job_added: 'blue',
  job_modified: 'geekblue',
  job_removed: 'magenta',
  scheduler_paused: 'warning',
  scheduler_resumed: 'success',
  clock_jumped: 'gold',
};

export function StreamBadge() {
  const { t } = usePrefs();
  const status = useStreamStatus();
  return (
    <Badge
      data-testid="stream-status"
      status={status === 'open' ? 'success' : status === 'connecting' ? 'warning' : 'error'}
      text={t(`stream.${status}`)}
    />
  );
}

export function EventsPage() {
  const { t } = usePrefs();
  const { token } = theme.useToken();
  const live = useEventLog();
  const [frozen, setFrozen] = useState<LoggedEvent[] | null>(null);
  const [types, setTypes] = useState<EventType[]>([]);
  const [job, setJob] = useState<string | undefined>(undefined);
  const events = frozen ?? live;
  const tableWrap = useRef<HTMLDivElement>(null);
  const height = useAvailableHeight(tableWrap, 90);

  const jobIds = useMemo(() => [...new Set(live.map(eventJobId).filter((id): id is string => !!id))].slice(0, 500), [live]);
  const nameOf = useJobNames(jobIds);
  const shown = useMemo(
    () => events.filter((e) => (types.length === 0 || types.includes(e.type)) && (!job || eventJobId(e) === job)),
    [events, types, job],
  );

  const groups = [
    { label: t('events.group.runs'), prefix: 'run_' },
    { label: t('events.group.jobs'), prefix: 'job_' },
    { label: t('events.group.scheduler'), prefix: '' },
  ];
  const typeOptions = groups.map((g) => ({
    label: g.label,
    options: EVENT_TYPES.filter((ty) => (g.prefix ? ty.startsWith(g.prefix) : !ty.startsWith('run_') && !ty.startsWith('job_'))).map((ty) => ({
      value: ty,
      label: t(`event.${ty}`),
    })),
  }));

  const columns: TableProps<LoggedEvent>['columns'] = [
    {
      title: t('events.time'),
      dataIndex: 'at',
      width: 190,
      render: (v: string) => (
        <Tooltip title={dayjs(v).format('YYYY-MM-DD HH:mm:ss.SSS Z')}>
          <Typography.Text style={{ fontFamily: token.fontFamilyCode, fontSize: 12.5 }}>{dayjs(v).format('MM-DD HH:mm:ss.SSS')}</Typography.Text>
        </Tooltip>
      ),
    },
    {
      title: t('events.type'),
      dataIndex: 'type',
      width: 170,
      render: (v: EventType) => (
        <Tag color={TYPE_COLOR[v] ?? 'default'} style={{ marginInlineEnd: 0 }}>
          {t(`event.${v}`)}
        </Tag>
      ),
    },
    {
      title: t('events.job'),
      dataIndex: 'job_id',
      width: 220,
      ellipsis: true,
      render: (v: string | undefined) =>
        v ? (
          <Tooltip title={v}>
            <Link to={`/jobs/${encodeURIComponent(v)}`}>{nameOf(v) ?? v}</Link>
          </Tooltip>
        ) : (
          '—'
        ),
    },
    {
      title: t('events.run'),
      dataIndex: 'run_id',
      width: 170,
      render: (v: number | undefined, e) => {
        const jobId = eventJobId(e);
        if (!v || !jobId) return '—';
        const link = <Link to={`/jobs/${encodeURIComponent(jobId)}?run=${v}`}>#{v}</Link>;
        // A workflow step's run: say which step (the workflow's own run has events too).
        return 'step' in e && e.step ? <Space size={4}>{link}<StepTag step={e.step} /></Space> : link;
      },
    },
    {
      title: t('events.details'),
      key: 'details',
      ellipsis: true,
      render: (_, e) =>
        'error' in e && e.error ? (
          <Typography.Text type="danger">{e.error}</Typography.Text>
        ) : 'by_ms' in e ? (
          t(e.suspended ? 'events.resumed' : 'events.clockJumped', { ms: e.by_ms })
        ) : 'scheduled' in e && e.scheduled ? (
          <Typography.Text type="secondary">{t('events.firedFor', { time: dayjs(e.scheduled).format('YYYY-MM-DD HH:mm:ss') })}</Typography.Text>
        ) : null,
    },
  ];

  return (
    <>
      <PageHeader
        title={t('nav.events')}
        subtitle={
          <Flex gap={16} component="span" wrap="wrap">
            <StreamBadge />
            <span>{t('events.count', { shown: shown.length, total: events.length })}</span>
          </Flex>
        }
        extra={
          <>
            <Flex align="center" gap={8}>
              <PauseCircleOutlined />
              <Typography.Text>{t('events.freeze')}</Typography.Text>
              <Switch checked={frozen !== null} onChange={(on) => setFrozen(on ? live : null)} />
            </Flex>
            <Button icon={<ClearOutlined />} onClick={() => { clearEventLog(); setFrozen(null); }}>
              {t('events.clear')}
            </Button>
          </>
        }
      />
      <Card styles={{ body: { padding: 0 } }}>
        <Flex gap={8} wrap="wrap" style={{ padding: 12, borderBottom: `1px solid ${token.colorBorderSecondary}` }}>
          <Select
            mode="multiple"
            allowClear
            placeholder={t('events.filterTypes')}
            value={types}
            onChange={setTypes}
            options={typeOptions}
            style={{ minWidth: 320, maxWidth: 640 }}
            maxTagCount="responsive"
            data-testid="event-type-filter"
          />
          <Select
            allowClear
            showSearch
            placeholder={t('events.filterJob')}
            value={job}
            onChange={setJob}
            optionFilterProp="label"
            options={jobIds.map((id) => ({ value: id, label: nameOf(id) ? `${nameOf(id)} (${id})` : id }))}
            style={{ width: 260 }}
            notFoundContent={t('events.noJobsYet')}
          />
        </Flex>
        <div ref={tableWrap}>
        <Table<LoggedEvent>
          virtual
          rowKey="seq"
          size="small"
          columns={columns}
          dataSource={shown}
          pagination={false}
          scroll={{ y: height, x: 900 }}
          data-testid="events-table"
          locale={{
            emptyText: (
              <Empty
                image={Empty.PRESENTED_IMAGE_SIMPLE}
                description={events.length ? t('events.noMatch') : t('events.waiting')}
                style={{ padding: 32 }}
              />
            ),
          }}
        />
        </div>
      </Card>
    </>
  );
}
