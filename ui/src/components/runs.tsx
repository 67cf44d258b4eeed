// Runs as every screen shows them: the history table's columns, and the viewer of one run's
// details, parameters, resource use and output (for a workflow's run, its steps' graph; for a
// step's run, its retry).

import { useEffect, useRef, useState } from 'react';
import { Alert, App, Button, Descriptions, Drawer, Empty, Flex, Popconfirm, Skeleton, Space, Tabs, Tag, Tooltip, Typography, theme } from 'antd';
import type { TableProps } from 'antd';
import { RedoOutlined, ReloadOutlined, StopOutlined } from '@ant-design/icons';
import { api } from '../api';
import { isFinal, type Job, type RunParams, type RunRecord, type RunUsage, type Workflow } from '../api/types';
import { ErrorAlert, errorText } from './common';
import { ManualTag, NodeRef } from './nodes';
import { StateTag, StepTag } from './tags';
import { WorkflowRunGraph } from './WorkflowRunGraph';
import type { Lang, Translate } from '../i18n';
import { runError } from '../i18n/problems';
import { usePrefs } from '../state/prefs';
import { durationMs, formatBytes, formatDateTime, formatDuration, fromNow } from '../util/format';
import { useAsync, useInterval, type AsyncState } from '../util/hooks';
import { hasParams } from '../util/runParams';
import { canRetryState } from '../util/workflow';

function OutputBlock({ text, empty, testId = 'run-output', maxHeight = '60vh' }: { text: string | undefined; empty: string; testId?: string; maxHeight?: string }) {
  const { token } = theme.useToken();
  if (!text) return <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={empty} />;
  return (
    <pre
      data-testid={testId}
      style={{
        margin: 0,
        padding: 12,
        maxHeight,
        overflow: 'auto',
        background: token.colorFillQuaternary,
        border: `1px solid ${token.colorBorderSecondary}`,
        borderRadius: token.borderRadius,
        fontFamily: token.fontFamilyCode,
        fontSize: 12.5,
        lineHeight: 1.5,
        whiteSpace: 'pre-wrap',
        wordBreak: 'break-all',
      }}
    >
      {text}
    </pre>
  );
}

/** A run's parameters: variables as NAME=VALUE, arguments in order as $1, $2, …, the body. */
function ParamsView({ params }: { params: RunParams }) {
  const { t } = usePrefs();
  // The server leaves out the empty parts.
  const env = Object.entries(params.env ?? {});
  const args = params.args ?? [];
  const code = (text: string, key: string | number) => (
    <Typography.Text code key={key} style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>
      {text}
    </Typography.Text>
  );
  return (
    <Flex vertical gap={6} data-testid="run-params">
      {env.length > 0 && (
        <div data-testid="run-params-env">
          <Typography.Text type="secondary">{t('action.env')}: </Typography.Text>
          {env.map(([name, value]) => code(`${name}=${value}`, name))}
        </div>
      )}
      {args.length > 0 && (
        <div data-testid="run-params-args">
          <Typography.Text type="secondary">{t('params.args')}: </Typography.Text>
          {args.map((arg, i) => (
            <span key={i} style={{ marginRight: 8 }}>
              <Typography.Text type="secondary">${i + 1}</Typography.Text> {code(arg, i)}
            </span>
          ))}
        </div>
      )}
      {params.body != null && (
        <div>
          <Typography.Text type="secondary">{t('action.body')}:</Typography.Text>
          <OutputBlock text={params.body} empty={t('params.emptyBody')} testId="run-params-body" maxHeight="30vh" />
        </div>
      )}
    </Flex>
  );
}

/** A shell run's CPU time and peak memory. */
function UsageView({ usage }: { usage: RunUsage }) {
  const { t } = usePrefs();
  return (
    <span data-testid="run-usage">
      {t('run.usageValue', { cpu: formatDuration(usage.cpu_ms), memory: formatBytes(usage.peak_rss_kib * 1024) })}
    </span>
  );
}

/** Cancels an unfinished run after asking; `compact` is an icon for table rows. */
export function CancelRunButton({ run, compact, onDone }: { run: RunRecord; compact?: boolean; onDone?: () => void }) {
  const { t } = usePrefs();
  const { message } = App.useApp();
  const [busy, setBusy] = useState(false);
  const cancel = async () => {
    setBusy(true);
    try {
      await api.cancelRun(run.id);
      message.info(t('run.cancelRequested', { id: run.id }));
      onDone?.();
    } catch (e) {
      message.error(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    // Inside a clickable table row: a click here is not a click on the row.
    <span onClick={(e) => e.stopPropagation()}>
      <Popconfirm
        title={t('run.cancelConfirm', { id: run.id })}
        description={t('run.cancelHelp')}
        okText={t('run.cancel')}
        okButtonProps={{ danger: true }}
        cancelText={t('run.keep')}
        onConfirm={cancel}
      >
        <Tooltip title={compact ? t('run.cancel') : undefined}>
          <Button
            danger
            size={compact ? 'small' : 'middle'}
            type={compact ? 'text' : 'default'}
            icon={<StopOutlined />}
            loading={busy}
            data-testid={`cancel-run-${run.id}`}
            aria-label={t('run.cancel')}
          >
            {compact ? null : t('run.cancel')}
          </Button>
        </Tooltip>
      </Popconfirm>
    </span>
  );
}

/** What useStepContext knows, about run `run`. */
type StepContext = AsyncState<{ run: number; workflowEnded: boolean; cancelled: boolean; newest: boolean } | null>;

/** Where a step's run stands in its workflow run: whether that has ended (and was not
 * cancelled), and whether this is the step's newest run (only that one may be retried). `run`
 * is null when there is nothing to ask (no retry to offer). Read again when the run's state
 * moves, on `reload`, and every 2 s while `active` and the workflow run has not ended (the
 * retry becomes possible when it ends). */
function useStepContext(run: RunRecord | null, active: boolean): StepContext {
  const upstream = run?.step != null ? run.upstream : null;
  const context = useAsync(
    async (signal) => {
      if (!run || upstream == null) return null;
      const [workflowRun, siblings] = await Promise.all([
        api.getRun(upstream, signal),
        api.listRuns({ upstream, limit: 1000 }, signal),
      ]);
      const newest = siblings.filter((r) => r.step === run.step).reduce((max, r) => Math.max(max, r.id), run.id);
      return { run: run.id, workflowEnded: isFinal(workflowRun.state), cancelled: workflowRun.state === 'cancelled', newest: newest === run.id };
    },
    [run?.id, upstream, run?.state],
  );
  const waiting = active && upstream != null && !(context.data?.run === run?.id && context.data?.workflowEnded);
  useInterval(() => context.reload(true), waiting ? 2000 : null);
  return context;
}

/** Runs a failed step again, and the steps after it; then shows the workflow run, live again.
 * `context` is useStepContext's, for this run. */
function RetryStepButton({ run, context, onOpenRun }: { run: RunRecord; context: StepContext; onOpenRun: (id: number) => void }) {
  const { t } = usePrefs();
  const { message } = App.useApp();
  const [busy, setBusy] = useState(false);
  const step = run.step ?? '';
  // What is known about this run (not the one shown before, while this one's is read).
  const known = context.data?.run === run.id ? context.data : null;
  const blocked = !known
    ? null
    : !known.workflowEnded
      ? t('workflow.retryWhenEnded')
      : known.cancelled
        ? t('workflow.retryCancelled')
        : !known.newest
          ? t('workflow.retryNotNewest')
          : null;
  const retry = async () => {
    setBusy(true);
    try {
      const workflowRun = await api.retryStep(run.id);
      message.success(t('workflow.retried', { step }));
      onOpenRun(workflowRun.id);
    } catch (e) {
      message.error(errorText(e));
      context.reload(true);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Tooltip title={blocked ?? t('workflow.retryHelp', { id: run.upstream ?? '' })}>
      <Button
        icon={<RedoOutlined />}
        onClick={retry}
        loading={busy}
        // Enabled once it is known the server would take it.
        disabled={!known || blocked !== null}
        data-testid="retry-step"
      >
        {t('workflow.retry')}
      </Button>
    </Tooltip>
  );
}

/** The job a workflow run belongs to, when that job is a workflow: its steps and edges. `known`
 * is the job the caller has already, if any. */
function useRunWorkflow(run: RunRecord | null, known?: Job): Workflow | null {
  const jobId = run && run.step == null && known?.id !== run.job_id ? run.job_id : null;
  const fetched = useAsync(
    (signal) => (jobId ? api.getJob(jobId, signal).catch(() => undefined) : Promise.resolve(undefined)),
    [jobId],
  );
  if (!run || run.step != null) return null;
  const job = known?.id === run.job_id ? known : fetched.data?.id === run.job_id ? fetched.data : undefined;
  return job?.action.kind === 'workflow' ? job.action : null;
}

/** A run's details and output; polls while the run is in flight. `onOpenRun` shows another
 * run (the one that started this one through a chain, a workflow's step, or a step's
 * workflow). `job`, when given, is the job of the runs shown (saves looking it up). */
export function RunViewer({
  runId,
  onClose,
  onOpenRun,
  job,
}: {
  runId: number | null;
  onClose: () => void;
  onOpenRun: (id: number) => void;
  job?: Job;
}) {
  const { t, lang } = usePrefs();
  const [run, setRun] = useState<RunRecord | null>(null);
  const [error, setError] = useState<unknown>(null);
  // The drawer keeps showing the last run while it slides away.
  const [shownId, setShownId] = useState<number | null>(runId);
  if (runId !== null && runId !== shownId) setShownId(runId);

  useEffect(() => {
    if (runId === null) return;
    setRun(null);
    setError(null);
  }, [runId]);

  // The run asked for last: an answer about another one (clicked away from) is dropped.
  const wanted = useRef(runId);
  wanted.current = runId;
  const load = () => {
    if (runId === null) return;
    api.getRun(runId).then(
      (r) => {
        if (wanted.current !== r.id) return;
        setRun(r);
        setError(null);
      },
      (e: unknown) => {
        if (wanted.current === runId) setError(e);
      },
    );
  };
  useEffect(load, [runId]);
  const live = runId !== null && (!run || !isFinal(run.state));
  useInterval(load, live ? 1000 : null);

  const open = runId !== null;
  // A step's run that may be retried: where it stands in its workflow run (read while open).
  const retryable = run?.step != null && isFinal(run.state) && canRetryState(run.state) ? run : null;
  const stepContext = useStepContext(retryable, open);
  const refresh = () => {
    load();
    if (retryable) stepContext.reload(true);
  };

  const duration = run ? durationMs(run.started, run.finished) : null;
  const workflow = useRunWorkflow(run, job);
  // A workflow's own run rarely says anything on its streams: its steps' runs do.
  const quietWorkflow = workflow !== null && !run?.stdout && !run?.stderr;
  return (
    <Drawer
      open={open}
      onClose={onClose}
      width={760}
      title={
        <Space>
          {t('run.title', { id: shownId ?? '' })}
          {run && <StateTag state={run.state} />}
          {run?.step != null ? <StepTag step={run.step} upstream={run.upstream} /> : run?.manual && <ManualTag upstream={run.upstream} />}
        </Space>
      }
      data-testid="run-viewer"
      extra={
        <Space>
          {retryable && <RetryStepButton run={retryable} context={stepContext} onOpenRun={onOpenRun} />}
          {run && !isFinal(run.state) && <CancelRunButton run={run} onDone={load} />}
          <Button icon={<ReloadOutlined />} onClick={refresh}>
            {t('common.refresh')}
          </Button>
        </Space>
      }
    >
      {error ? <ErrorAlert error={error} onRetry={load} /> : null}
      {!run && !error && <Skeleton active />}
      {run && (
        <Flex vertical gap={16}>
          {/* What went wrong comes first: the error and the exit code or HTTP status. */}
          {run.error && (
            <Alert
              type="error"
              showIcon
              data-testid="run-error"
              message={
                run.http_status != null
                  ? t('run.errorWithStatus', { code: run.http_status })
                  : run.exit_code != null
                    ? t('run.errorWithExit', { code: run.exit_code })
                    : t('run.error')
              }
              description={<span style={{ whiteSpace: 'pre-wrap' }}>{runError(lang, run)}</span>}
            />
          )}
          <Descriptions size="small" column={2} bordered>
            <Descriptions.Item label={t('run.scheduled')}>{formatDateTime(run.scheduled)}</Descriptions.Item>
            <Descriptions.Item label={t('run.started')}>{formatDateTime(run.started)}</Descriptions.Item>
            <Descriptions.Item label={t('run.finished')}>{formatDateTime(run.finished)}</Descriptions.Item>
            <Descriptions.Item label={t('run.duration')}>
              {duration !== null ? formatDuration(duration) : run.started ? t('run.stillRunning') : '—'}
            </Descriptions.Item>
            <Descriptions.Item label={t('run.attempt')}>{run.attempt}</Descriptions.Item>
            <Descriptions.Item label={run.http_status != null ? t('run.httpStatus') : t('run.exitCode')}>
              {run.http_status ?? run.exit_code ?? '—'}
            </Descriptions.Item>
            <Descriptions.Item label={t('run.node')}>
              <NodeRef id={run.node} />
            </Descriptions.Item>
            <Descriptions.Item label={t('run.startedBy')}>
              <span data-testid="run-started-by">
                {run.upstream != null && run.step != null ? (
                  <Typography.Link onClick={() => onOpenRun(run.upstream!)}>{t('workflow.byWorkflow', { id: run.upstream, step: run.step })}</Typography.Link>
                ) : run.upstream != null ? (
                  <Typography.Link onClick={() => onOpenRun(run.upstream!)}>{t('run.byChain', { id: run.upstream })}</Typography.Link>
                ) : run.manual ? (
                  t('run.byManual')
                ) : (
                  t('run.bySchedule')
                )}
              </span>
            </Descriptions.Item>
            {run.usage && (
              <Descriptions.Item label={t('run.usage')} span={2}>
                <UsageView usage={run.usage} />
              </Descriptions.Item>
            )}
            {hasParams(run.params) && (
              <Descriptions.Item label={t('run.params')} span={2}>
                <ParamsView params={run.params} />
              </Descriptions.Item>
            )}
          </Descriptions>
          {run.state === 'abandoned' && (
            <Alert
              type="warning"
              showIcon
              data-testid="run-abandoned"
              message={t('state.abandonedTitle')}
              description={t('state.abandonedDetail')}
            />
          )}
          {live && <Alert type="info" showIcon message={workflow ? t('workflow.live') : t('run.live')} />}
          {/* Kept while the drawer slides away, but no longer polling. */}
          {workflow && <WorkflowRunGraph run={run} workflow={workflow} onOpenRun={onOpenRun} active={open} />}
          {!quietWorkflow && (
            <Tabs
              // A failed run opens on the stream that explains it; re-chosen when the state moves.
              key={run.state}
              defaultActiveKey={failedState(run.state) && run.stderr ? 'stderr' : 'stdout'}
              items={[
                {
                  key: 'stdout',
                  label: `${t('run.stdout')}${run.stdout ? ` (${run.stdout.length.toLocaleString()})` : ''}`,
                  children: <OutputBlock text={run.stdout} empty={t('run.noOutput')} />,
                },
                {
                  key: 'stderr',
                  label: `${t('run.stderr')}${run.stderr ? ` (${run.stderr.length.toLocaleString()})` : ''}`,
                  children: <OutputBlock text={run.stderr} empty={t('run.noOutput')} />,
                },
              ]}
            />
          )}
        </Flex>
      )}
    </Drawer>
  );
}

/** Whether a run in `state` ended badly with output worth reading. */
function failedState(state: RunRecord['state']): boolean {
  return state === 'failed' || state === 'timed_out' || state === 'cancelled';
}

/** The run history table's columns (id, state, times, result, node, error), in `t`'s language. */
export function runColumns(t: Translate, lang: Lang): NonNullable<TableProps<RunRecord>['columns']> {
  return [
    { title: '#', dataIndex: 'id', width: 70, render: (v: number) => <Typography.Text type="secondary">{v}</Typography.Text> },
    {
      title: t('run.state'),
      dataIndex: 'state',
      width: 205,
      render: (_, r) => (
        <Flex gap={6} align="center" wrap="wrap">
          <StateTag state={r.state} title={runError(lang, r)} />
          {r.step != null ? <StepTag step={r.step} upstream={r.upstream} /> : r.manual && <ManualTag upstream={r.upstream} />}
        </Flex>
      ),
    },
    {
      title: t('run.scheduled'),
      dataIndex: 'scheduled',
      width: 180,
      render: (v: string) => <Tooltip title={fromNow(v)}>{formatDateTime(v)}</Tooltip>,
    },
    {
      title: t('run.started'),
      dataIndex: 'started',
      width: 110,
      render: (v: string | null, r) => {
        if (!v) return '—';
        const late = durationMs(r.scheduled, v);
        return (
          <Tooltip title={formatDateTime(v)}>
            <span>
              {late !== null && late >= 0 ? `+${formatDuration(late)}` : formatDateTime(v).slice(11)}
            </span>
          </Tooltip>
        );
      },
    },
    {
      title: t('run.duration'),
      key: 'duration',
      width: 140,
      render: (_, r) =>
        isFinal(r.state) ? (
          formatDuration(durationMs(r.started, r.finished))
        ) : (
          <Flex gap={2} align="center">
            <Tag color="processing">{r.started ? t('run.running') : t('run.queued')}</Tag>
            <CancelRunButton run={r} compact />
          </Flex>
        ),
    },
    {
      title: t('run.result'),
      key: 'code',
      width: 110,
      render: (_, r) =>
        r.http_status != null ? (
          <Tag bordered={false}>HTTP {r.http_status}</Tag>
        ) : r.exit_code != null ? (
          <Tag bordered={false} color={r.exit_code === 0 ? 'success' : 'error'}>
            {t('run.exit', { code: r.exit_code })}
          </Tag>
        ) : (
          '—'
        ),
    },
    { title: t('run.attempt'), dataIndex: 'attempt', width: 80 },
    { title: t('run.node'), dataIndex: 'node', width: 140, render: (v: string | null) => <NodeRef id={v} /> },
    {
      title: t('run.error'),
      dataIndex: 'error',
      ellipsis: true,
      render: (_, r) => (r.error ? <Typography.Text type="danger">{runError(lang, r)}</Typography.Text> : null),
    },
  ];
}
