import { Tag, Tooltip } from 'antd';
import {
  ApartmentOutlined,
  ApiOutlined,
  CheckCircleOutlined,
  ClockCircleOutlined,
  CloseCircleOutlined,
  CodeOutlined,
  DashboardOutlined,
  ExclamationCircleOutlined,
  FieldTimeOutlined,
  FunctionOutlined,
  MinusCircleOutlined,
  PauseCircleOutlined,
  PlayCircleOutlined,
  StopOutlined,
  SyncOutlined,
  WarningOutlined,
} from '@ant-design/icons';
import type { ReactNode } from 'react';
import type { ActionKind, RunState } from '../api/types';
import { useT } from '../state/prefs';

export const STATE_COLORS: Record<RunState, string> = {
  submitted: '#8c8c8c',
  running: '#1677ff',
  succeeded: '#52c41a',
  failed: '#ff4d4f',
  timed_out: '#fa8c16',
  cancelled: '#bfbfbf',
  missed: '#faad14',
  skipped: '#13c2c2',
  abandoned: '#722ed1',
};

const STATE_TAG: Record<RunState, { color: string; icon: ReactNode }> = {
  submitted: { color: 'default', icon: <ClockCircleOutlined /> },
  running: { color: 'processing', icon: <SyncOutlined spin /> },
  succeeded: { color: 'success', icon: <CheckCircleOutlined /> },
  failed: { color: 'error', icon: <CloseCircleOutlined /> },
  timed_out: { color: 'orange', icon: <FieldTimeOutlined /> },
  cancelled: { color: 'default', icon: <StopOutlined /> },
  missed: { color: 'warning', icon: <ExclamationCircleOutlined /> },
  skipped: { color: 'cyan', icon: <MinusCircleOutlined /> },
  abandoned: { color: 'purple', icon: <WarningOutlined /> },
};

export function StateTag({ state, title }: { state: RunState; title?: string }) {
  const t = useT();
  const tag = (
    <Tag color={STATE_TAG[state].color} icon={STATE_TAG[state].icon} data-state={state} style={{ marginInlineEnd: 0 }}>
      {t(`state.${state}`)}
    </Tag>
  );
  // An abandoned run carries no error of its own: say what happened.
  const tip = title ?? (state === 'abandoned' ? t('state.abandonedHelp') : undefined);
  return tip ? <Tooltip title={tip}>{tag}</Tooltip> : tag;
}

const KIND_ICON: Record<ActionKind, ReactNode> = {
  shell: <CodeOutlined />,
  http: <ApiOutlined />,
  monitor: <DashboardOutlined />,
  function: <FunctionOutlined />,
  workflow: <ApartmentOutlined />,
};

export function KindTag({ kind }: { kind: ActionKind }) {
  const t = useT();
  return (
    <Tag icon={KIND_ICON[kind]} bordered={false} style={{ marginInlineEnd: 0 }}>
      {t(`kind.${kind}`)}
    </Tag>
  );
}

export function KindIcon({ kind }: { kind: ActionKind }) {
  return <>{KIND_ICON[kind]}</>;
}

/** Marks the run of a workflow's step (`upstream`: the workflow's run), so it is not taken for a
 * run of the whole workflow in a job's history. */
export function StepTag({ step, upstream }: { step: string; upstream?: number | null }) {
  const t = useT();
  const tag = (
    <Tag icon={<ApartmentOutlined />} bordered={false} color="geekblue" data-testid="step-run" data-step={step} style={{ marginInlineEnd: 0 }}>
      {t('workflow.stepTag', { step })}
    </Tag>
  );
  return upstream != null ? <Tooltip title={t('workflow.stepTagHelp', { step, id: upstream })}>{tag}</Tooltip> : tag;
}

export function PausedTag({ paused }: { paused: boolean }) {
  const t = useT();
  return paused ? (
    <Tag icon={<PauseCircleOutlined />} color="warning" style={{ marginInlineEnd: 0 }}>
      {t('job.paused')}
    </Tag>
  ) : (
    <Tag icon={<PlayCircleOutlined />} color="success" style={{ marginInlineEnd: 0 }}>
      {t('job.active')}
    </Tag>
  );
}
