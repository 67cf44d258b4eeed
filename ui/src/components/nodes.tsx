// Nodes in other screens: a node's state tag, the "this node" marker, a link to a node, and the
// "manual" tag of runs started with "Run now".

import { Link } from 'react-router-dom';
import { Tag, Tooltip, Typography, theme } from 'antd';
import { BranchesOutlined, CheckCircleOutlined, ClusterOutlined, ExclamationCircleOutlined, HomeOutlined, MinusCircleOutlined, ThunderboltOutlined } from '@ant-design/icons';
import type { ReactNode } from 'react';
import type { NodeState } from '../api/types';
import { useT } from '../state/prefs';
import { shortNodeId } from '../util/nodes';

const NODE_TAG: Record<NodeState, { color: string; icon: ReactNode }> = {
  alive: { color: 'success', icon: <CheckCircleOutlined /> },
  lapsed: { color: 'orange', icon: <ExclamationCircleOutlined /> },
  gone: { color: 'default', icon: <MinusCircleOutlined /> },
};

export function NodeStateTag({ state, lease }: { state: NodeState; lease: number }) {
  const t = useT();
  return (
    <Tooltip title={t(`nodeState.${state}Help`, { lease })}>
      <Tag color={NODE_TAG[state].color} icon={NODE_TAG[state].icon} data-node-state={state} style={{ marginInlineEnd: 0 }}>
        {t(`nodeState.${state}`)}
      </Tag>
    </Tooltip>
  );
}

export function ThisNodeTag() {
  const t = useT();
  return (
    <Tooltip title={t('nodes.thisHelp')}>
      <Tag color="blue" icon={<HomeOutlined />} bordered={false} data-testid="this-node" style={{ marginInlineEnd: 0 }}>
        {t('nodes.this')}
      </Tag>
    </Tooltip>
  );
}

/** A node's short id in monospace, linking to it on the Nodes screen ("—" without one). */
export function NodeRef({ id }: { id: string | null | undefined }) {
  const t = useT();
  const { token } = theme.useToken();
  if (!id) {
    return (
      <Tooltip title={t('run.noNode')}>
        <Typography.Text type="secondary">—</Typography.Text>
      </Tooltip>
    );
  }
  return (
    <Tooltip title={t('run.nodeHelp', { id })}>
      <Link
        to={`/nodes?node=${encodeURIComponent(id)}`}
        onClick={(e) => e.stopPropagation()}
        data-testid="run-node"
        data-node={id}
        style={{ fontFamily: token.fontFamilyCode, fontSize: 12.5, whiteSpace: 'nowrap' }}
      >
        <ClusterOutlined style={{ marginInlineEnd: 4 }} />
        {shortNodeId(id)}
      </Link>
    </Tooltip>
  );
}

/** Marks a run started outside the schedule: with "Run now", or by the run `upstream` (a chain). */
export function ManualTag({ upstream }: { upstream?: number | null }) {
  const t = useT();
  const chained = upstream != null;
  return (
    <Tooltip title={chained ? t('run.chainedHelp', { id: upstream }) : t('run.manualHelp')}>
      <Tag
        icon={chained ? <BranchesOutlined /> : <ThunderboltOutlined />}
        bordered={false}
        color={chained ? 'purple' : 'geekblue'}
        data-testid={chained ? 'chained-run' : 'manual-run'}
        style={{ marginInlineEnd: 0 }}
      >
        {chained ? t('run.chained') : t('run.manual')}
      </Tag>
    </Tooltip>
  );
}
