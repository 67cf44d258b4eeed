// The nodes: the processes sharing this database, their heartbeats, clocks and running runs.

import { useState, type CSSProperties } from 'react';
import { useSearchParams } from 'react-router-dom';
import { Alert, Button, Card, Empty, Flex, Table, Tag, Tooltip, Typography, theme } from 'antd';
import type { TableProps } from 'antd';
import { QuestionCircleOutlined, ReloadOutlined } from '@ant-design/icons';
import { api } from '../api';
import type { NodeInfo, NodeList } from '../api/types';
import { ErrorAlert, PageHeader } from '../components/common';
import { NodeStateTag, ThisNodeTag } from '../components/nodes';
import { usePrefs } from '../state/prefs';
import { formatDateTime } from '../util/format';
import { useAsync, useLiveEvents, useThrottled, useVisibleInterval } from '../util/hooks';
import {
  DEFAULT_MAX_SKEW_MS,
  clockOffset,
  formatAge,
  formatUptime,
  heartbeatAge,
  nodeSummary,
  shortNodeId,
  skewLevel,
  sortNodes,
} from '../util/nodes';

/** How often the list is fetched again while the page is visible. */
const REFRESH_S = 3;
const INTRO_KEY = 'kairos.nodesIntro';

interface Loaded {
  list: NodeList;
  /** This browser's clock when the list arrived. */
  fetchedAt: number;
  /** Add to this browser's clock to get the answering node's. */
  offset: number;
}

function HelpTitle({ title, help }: { title: string; help: string }) {
  return (
    <Tooltip title={help}>
      <span style={{ whiteSpace: 'nowrap' }}>
        {title} <QuestionCircleOutlined style={{ opacity: 0.55 }} />
      </span>
    </Tooltip>
  );
}

export function NodesPage() {
  const { t } = usePrefs();
  const { token } = theme.useToken();
  const [params] = useSearchParams();
  const focus = params.get('node');
  const [introHidden, setIntroHidden] = useState(() => localStorage.getItem(INTRO_KEY) === 'hidden');
  const [now, setNow] = useState(() => Date.now());

  const nodes = useAsync<Loaded>(async (signal) => {
    const list = await api.listNodes(signal);
    const fetchedAt = Date.now();
    return { list, fetchedAt, offset: clockOffset(list, fetchedAt) };
  }, []);
  const settings = useAsync(() => api.getSettings().catch(() => undefined), []);
  const maxSkew = settings.data?.cluster?.max_skew_ms ?? DEFAULT_MAX_SKEW_MS;

  useVisibleInterval(() => nodes.reload(true), REFRESH_S * 1000);
  // Heartbeat ages and uptimes tick between fetches.
  useVisibleInterval(() => setNow(Date.now()), 1000);
  const refresh = useThrottled(() => nodes.reload(true), 500);
  useLiveEvents((e) => {
    if (e.type === 'scheduler_started' || e.type === 'scheduler_shutdown' || e.type === 'run_abandoned') refresh();
  });

  const data = nodes.data;
  const lease = data?.list.lease_s ?? 0;
  const serverNow = now + (data?.offset ?? 0);
  /** Seconds elapsed since the list was fetched, for values that grow while a node lives. */
  const sinceFetch = data ? Math.max(0, (now - data.fetchedAt) / 1000) : 0;
  const items = data ? sortNodes(data.list.items) : [];
  const code: CSSProperties = { fontFamily: token.fontFamilyCode, fontSize: 12.5 };

  const columns: TableProps<NodeInfo>['columns'] = [
    {
      title: t('nodes.id'),
      dataIndex: 'id',
      width: 220,
      render: (id: string, n) => (
        <Flex gap={8} align="center">
          <Typography.Text copyable={{ text: id }} style={code} data-testid="node-id">
            {shortNodeId(id)}
          </Typography.Text>
          {n.this && <ThisNodeTag />}
        </Flex>
      ),
    },
    { title: t('nodes.host'), dataIndex: 'host', ellipsis: true },
    { title: t('nodes.pid'), dataIndex: 'pid', width: 75, render: (pid: number) => <span style={code} data-testid="node-pid">{pid}</span> },
    {
      title: t('nodes.labels'),
      dataIndex: 'labels',
      width: 130,
      render: (labels: string[]) =>
        labels.length ? (
          <Flex gap={4} wrap="wrap">
            {labels.map((l) => (
              <Tag key={l} style={{ marginInlineEnd: 0 }}>
                {l}
              </Tag>
            ))}
          </Flex>
        ) : (
          <Typography.Text type="secondary">—</Typography.Text>
        ),
    },
    { title: t('nodes.version'), dataIndex: 'version', width: 80 },
    {
      title: t('nodes.state'),
      dataIndex: 'state',
      width: 110,
      render: (_, n) => <NodeStateTag state={n.state} lease={lease} />,
    },
    {
      title: t('nodes.uptime'),
      dataIndex: 'uptime_s',
      width: 95,
      render: (s: number, n) => (
        <Tooltip
          title={
            <>
              {t('nodes.startedAt', { time: formatDateTime(n.started) })}
              {n.left && (
                <>
                  <br />
                  {t('nodes.leftAt', { time: formatDateTime(n.left) })}
                </>
              )}
            </>
          }
        >
          <span>{formatUptime(n.left ? s : s + sinceFetch, t)}</span>
        </Tooltip>
      ),
    },
    {
      title: t('nodes.heartbeat'),
      dataIndex: 'heartbeat',
      width: 120,
      render: (v: string, n) => (
        <Tooltip title={formatDateTime(v)}>
          <span data-testid="node-heartbeat">{formatAge(heartbeatAge(n, serverNow), t)}</span>
        </Tooltip>
      ),
    },
    {
      title: <HelpTitle title={t('nodes.skew')} help={t('nodes.skewHelp', { max: maxSkew })} />,
      dataIndex: 'clock_skew_ms',
      width: 110,
      render: (ms: number) => {
        const text = `${ms.toLocaleString()} ms`;
        const level = skewLevel(ms, maxSkew);
        if (level === 'error') {
          return (
            <Tooltip title={t('nodes.skewTooFar', { max: maxSkew })}>
              <Tag color="error" style={{ marginInlineEnd: 0 }} data-skew="error">
                {text}
              </Tag>
            </Tooltip>
          );
        }
        return (
          <Typography.Text type={level === 'warn' ? 'warning' : undefined} strong={level === 'warn'} data-skew={level}>
            {text}
          </Typography.Text>
        );
      },
    },
    {
      title: <HelpTitle title={t('nodes.running')} help={t('nodes.runningHelp')} />,
      dataIndex: 'running',
      width: 95,
      align: 'right',
      render: (n: number) => (n > 0 ? <Typography.Text strong>{n}</Typography.Text> : <Typography.Text type="secondary">0</Typography.Text>),
    },
  ];

  return (
    <>
      <PageHeader
        title={t('nav.nodes')}
        subtitle={data ? <span data-testid="nodes-summary">{nodeSummary(data.list, t)}</span> : undefined}
        extra={
          <Flex align="center" gap={12}>
            <Typography.Text type="secondary">{t('nodes.autoRefresh', { n: REFRESH_S })}</Typography.Text>
            <Button icon={<ReloadOutlined />} onClick={() => nodes.reload()}>
              {t('common.refresh')}
            </Button>
          </Flex>
        }
      />
      {!introHidden && (
        <Alert
          type="info"
          showIcon
          closable
          message={t('nodes.intro')}
          data-testid="nodes-intro"
          style={{ marginBottom: 16 }}
          afterClose={() => {
            localStorage.setItem(INTRO_KEY, 'hidden');
            setIntroHidden(true);
          }}
        />
      )}
      {nodes.error && <ErrorAlert error={nodes.error} onRetry={() => nodes.reload()} />}
      {focus && data && !items.some((n) => n.id === focus) && (
        <Alert type="warning" showIcon message={t('nodes.notListed', { id: focus })} style={{ marginBottom: 16 }} />
      )}
      <Card styles={{ body: { padding: 0 } }}>
        <Table<NodeInfo>
          rowKey="id"
          size="middle"
          columns={columns}
          dataSource={items}
          loading={nodes.loading && !data}
          pagination={false}
          scroll={{ x: 1100 }}
          data-testid="node-table"
          rowClassName={(n) => [n.id === focus ? 'kairos-row-focus' : '', n.state === 'gone' ? 'kairos-row-gone' : ''].join(' ')}
          style={{ '--kairos-focus-bg': token.controlItemBgActive } as CSSProperties}
          locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('nodes.empty')} /> }}
        />
      </Card>
    </>
  );
}
