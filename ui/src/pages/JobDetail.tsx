// One job: its definition, run history, duration and resource charts, success rate, and each
// run's output; runs by hand, with parameters or not.

import { useEffect, useMemo, useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import {
  App,
  Button,
  Card,
  Col,
  Descriptions,
  Empty,
  Flex,
  Progress,
  Result,
  Row,
  Skeleton,
  Space,
  Statistic,
  Table,
  Tag,
  Tooltip,
  Typography,
  theme,
} from 'antd';
import {
  ArrowLeftOutlined,
  CaretRightOutlined,
  CopyOutlined,
  DeleteOutlined,
  EditOutlined,
  PauseOutlined,
  ReloadOutlined,
  SlidersOutlined,
} from '@ant-design/icons';
import { api } from '../api';
import { ApiError } from '../api/client';
import { eventJobId, isFinal, type Job, type RunRecord } from '../api/types';
import { Chart } from '../components/Chart';
import { ErrorAlert, PageHeader, errorText } from '../components/common';
import { RunParamsModal } from '../components/RunParamsModal';
import { KindTag, PausedTag, StateTag } from '../components/tags';
import { usePrefs } from '../state/prefs';
import { formatDateTime, formatDuration, fromNow, localZone } from '../util/format';
import { useAsync, useInterval, useLiveEvents, useThrottled } from '../util/hooks';
import { takesParams } from '../util/runParams';
import { triggerRaw, triggerSummary } from '../util/trigger';
import { RunViewer, runColumns } from '../components/runs';
import type { Translate } from '../i18n';
import { durationChart, usageChart } from './jobCharts';

const RUN_PAGE = 100;

function describeAction(job: Job, t: Translate): string {
  const a = job.action;
  switch (a.kind) {
    case 'shell':
      return a.command;
    case 'http':
      return `${a.method ?? 'GET'} ${a.url}`;
    case 'function':
      return a.name;
    case 'monitor':
      return '';
    case 'workflow':
      return `${a.steps.length === 1 ? t('workflow.stepCountOne') : t('workflow.stepCount', { n: a.steps.length })}: ${a.steps.map((s) => s.id).join(', ')}`;
  }
}

export function JobDetailPage() {
  const { id = '' } = useParams();
  const { t, lang } = usePrefs();
  const { token } = theme.useToken();
  const { message, modal } = App.useApp();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const openRun = params.get('run') ? Number(params.get('run')) : null;
  const [older, setOlder] = useState<RunRecord[]>([]);
  const [noMore, setNoMore] = useState(false);
  const [paramsOpen, setParamsOpen] = useState(false);

  const job = useAsync((signal) => api.getJob(id, signal), [id]);
  const runs = useAsync((signal) => api.listRuns({ job_id: id, limit: RUN_PAGE }, signal), [id]);
  const stats = useAsync((signal) => api.durationStats({ job_id: id }, signal), [id]);

  useEffect(() => {
    setOlder([]);
    setNoMore(false);
  }, [id]);
  useEffect(() => {
    if (job.data) document.title = `${job.data.name} · Kairos`;
  }, [job.data]);

  const reloadAll = useThrottled(() => {
    job.reload(true);
    runs.reload(true);
    stats.reload(true);
  }, 700);
  useLiveEvents((e) => {
    if (eventJobId(e) === id) reloadAll();
  });
  // Keep relative times and in-flight runs fresh even without events.
  useInterval(() => runs.reload(true), 15000);

  const allRuns = useMemo(() => {
    const head = runs.data ?? [];
    const lowest = head.length ? head[head.length - 1].id : Infinity;
    return [...head, ...older.filter((r) => r.id < lowest)];
  }, [runs.data, older]);

  const loadOlder = async () => {
    const last = allRuns[allRuns.length - 1];
    if (!last) return;
    const more = await api.listRuns({ job_id: id, before_id: last.id, limit: RUN_PAGE });
    setOlder((o) => [...o, ...more]);
    if (more.length < RUN_PAGE) setNoMore(true);
  };

  const setOpenRun = (runId: number | null) => {
    const next = new URLSearchParams(params);
    if (runId === null) next.delete('run');
    else next.set('run', String(runId));
    setParams(next, { replace: true });
  };

  // A workflow's health is its own runs' (its steps' runs are listed, not counted).
  const finished = allRuns.filter((r) => isFinal(r.state) && r.step == null);
  const succeeded = finished.filter((r) => r.state === 'succeeded').length;
  const successRate = finished.length ? Math.round((succeeded / finished.length) * 1000) / 10 : null;
  const durations = stats.data?.[0];

  const chartOption = useMemo(() => durationChart(allRuns, t), [allRuns, t]);
  const usageOption = useMemo(() => usageChart(allRuns, t), [allRuns, t]);
  const anyUsage = allRuns.some((r) => r.usage != null);

  if (job.error) {
    if (job.error instanceof ApiError && job.error.status === 404) {
      return (
        <Result
          status="404"
          title={t('detail.notFound')}
          subTitle={t('detail.notFoundHelp', { id })}
          extra={<Button onClick={() => navigate('/jobs')}>{t('detail.backToJobs')}</Button>}
        />
      );
    }
    return <ErrorAlert error={job.error} onRetry={() => job.reload()} />;
  }
  if (!job.data) return <Card><Skeleton active paragraph={{ rows: 10 }} /></Card>;
  const j = job.data;
  // The server always sends these; the schema has them optional (defaults on input).
  const jobId = j.id ?? '';
  const tags = j.tags ?? [];
  const jobZone = 'timezone' in j.trigger ? j.trigger.timezone : undefined;
  // Only shell runs record their resource use: the chart is for shell jobs, and any job whose
  // runs have some (a workflow's shell steps).
  const showUsage = j.kind === 'shell' || anyUsage;

  // A run by hand started: say so and open it.
  const started = (runId: number) => {
    message.success(t('jobs.runStarted', { name: j.name }));
    setOpenRun(runId);
    runs.reload(true);
  };
  const runNow = async () => {
    try {
      started(await api.runJob(jobId));
    } catch (e) {
      message.error(errorText(e));
    }
  };
  const togglePause = async () => {
    try {
      if (j.paused) await api.resumeJob(jobId);
      else await api.pauseJob(jobId);
      job.reload(true);
    } catch (e) {
      message.error(errorText(e));
    }
  };
  const remove = () =>
    modal.confirm({
      title: t('jobs.deleteOne', { name: j.name }),
      content: t('jobs.deleteHelp'),
      okText: t('common.delete'),
      okButtonProps: { danger: true },
      cancelText: t('common.cancel'),
      onOk: async () => {
        try {
          await api.deleteJob(jobId);
          message.success(t('jobs.deletedOne', { name: j.name }));
          navigate('/jobs');
        } catch (e) {
          message.error(errorText(e));
        }
      },
    });

  const columns = runColumns(t, lang);

  return (
    <>
      <PageHeader
        title={
          <Space size={12} wrap>
            <Link to="/jobs" aria-label={t('detail.backToJobs')}>
              <ArrowLeftOutlined />
            </Link>
            <span data-testid="job-title">{j.name}</span>
            <KindTag kind={j.kind} />
            <PausedTag paused={!!j.paused} />
          </Space>
        }
        subtitle={j.description || undefined}
        extra={
          <>
            <Button type="primary" icon={<CaretRightOutlined />} onClick={runNow} data-testid="detail-run-now">
              {t('jobs.runNow')}
            </Button>
            <Tooltip title={takesParams(j.kind) ? undefined : t('params.notTaken')}>
              <Button
                icon={<SlidersOutlined />}
                onClick={() => setParamsOpen(true)}
                disabled={!takesParams(j.kind)}
                data-testid="detail-run-with-params"
              >
                {t('params.open')}
              </Button>
            </Tooltip>
            <Button icon={j.paused ? <ReloadOutlined /> : <PauseOutlined />} onClick={togglePause}>
              {j.paused ? t('jobs.resume') : t('jobs.pause')}
            </Button>
            <Button icon={<EditOutlined />} onClick={() => navigate(`/jobs/${encodeURIComponent(jobId)}/edit`)}>
              {t('common.edit')}
            </Button>
            <Button icon={<CopyOutlined />} onClick={() => navigate(`/jobs/new?copy=${encodeURIComponent(jobId)}`)}>
              {t('jobs.duplicate')}
            </Button>
            <Button danger icon={<DeleteOutlined />} onClick={remove}>
              {t('common.delete')}
            </Button>
          </>
        }
      />
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={14}>
          <Card title={t('detail.definition')} style={{ height: '100%' }}>
            <Descriptions column={{ xs: 1, sm: 1, md: 2, lg: 2, xl: 2, xxl: 2 }} size="small">
              <Descriptions.Item label={t('job.id')}>
                <Typography.Text copyable code>{j.id}</Typography.Text>
              </Descriptions.Item>
              <Descriptions.Item label={t('job.pool')}>{j.pool}</Descriptions.Item>
              <Descriptions.Item label={t('job.schedule')} span={2}>
                <Space direction="vertical" size={0}>
                  <span data-testid="detail-schedule">{triggerSummary(j.trigger, t, lang)}</span>
                  <Typography.Text type="secondary" code>{triggerRaw(j.trigger)}</Typography.Text>
                </Space>
              </Descriptions.Item>
              <Descriptions.Item label={t('job.nextRun')}>
                {j.paused ? (
                  t('job.paused')
                ) : j.next_run ? (
                  <Space direction="vertical" size={0}>
                    <span>
                      {formatDateTime(j.next_run)} ({fromNow(j.next_run)})
                    </span>
                    {jobZone && jobZone !== localZone() && (
                      <Typography.Text type="secondary">
                        {formatDateTime(j.next_run, jobZone)} {jobZone}
                      </Typography.Text>
                    )}
                  </Space>
                ) : (
                  t('jobs.never')
                )}
              </Descriptions.Item>
              <Descriptions.Item label={t('job.lastRun')}>
                {j.last_run ? (
                  <Space>
                    <StateTag state={j.last_run.state} />
                    {fromNow(j.last_run.finished ?? j.last_run.scheduled)}
                  </Space>
                ) : (
                  '—'
                )}
              </Descriptions.Item>
              {j.kind !== 'monitor' && (
                <Descriptions.Item label={t('detail.action')} span={2}>
                  <Typography.Text code style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>
                    {describeAction(j, t)}
                  </Typography.Text>
                </Descriptions.Item>
              )}
              {(j.node_labels?.length ?? 0) > 0 && (
                <Descriptions.Item label={t('job.nodeLabels')} span={2}>
                  <Flex gap={4} wrap="wrap" data-testid="detail-node-labels">
                    {j.node_labels?.map((l) => (
                      <Link key={l} to="/nodes">
                        <Tag color="blue" bordered={false}>{l}</Tag>
                      </Link>
                    ))}
                  </Flex>
                </Descriptions.Item>
              )}
              {tags.length > 0 && (
                <Descriptions.Item label={t('job.tags')} span={2}>
                  <Flex gap={4} wrap="wrap">
                    {tags.map((tg) => (
                      <Link key={tg} to={`/jobs?tag=${encodeURIComponent(tg)}`}>
                        <Tag>{tg}</Tag>
                      </Link>
                    ))}
                  </Flex>
                </Descriptions.Item>
              )}
            </Descriptions>
          </Card>
        </Col>
        <Col xs={24} xl={10}>
          <Card title={t('detail.health')} style={{ height: '100%' }}>
            <Row gutter={16} align="middle">
              <Col span={10} style={{ textAlign: 'center' }}>
                <Progress
                  type="dashboard"
                  percent={successRate ?? 0}
                  format={() => (successRate === null ? '—' : `${successRate}%`)}
                  strokeColor={successRate === null ? token.colorTextQuaternary : successRate >= 95 ? token.colorSuccess : successRate >= 80 ? token.colorWarning : token.colorError}
                  size={128}
                />
                <div>
                  <Typography.Text type="secondary">{t('detail.successRate', { n: finished.length })}</Typography.Text>
                </div>
              </Col>
              <Col span={14}>
                <Row gutter={[8, 16]}>
                  <Col span={12}><Statistic title={t('detail.p50')} value={durations ? formatDuration(durations.p50_ms) : '—'} /></Col>
                  <Col span={12}><Statistic title={t('detail.p90')} value={durations ? formatDuration(durations.p90_ms) : '—'} /></Col>
                  <Col span={12}><Statistic title={t('detail.max')} value={durations ? formatDuration(durations.max_ms) : '—'} /></Col>
                  <Col span={12}><Statistic title={t('detail.runs7d')} value={durations?.count ?? 0} /></Col>
                </Row>
              </Col>
            </Row>
          </Card>
        </Col>
        <Col xs={24} xl={showUsage ? 12 : 24}>
          <Card title={t('detail.durations')} style={{ height: '100%' }}>
            {allRuns.some((r) => r.started && r.finished) ? (
              <Chart option={chartOption} name="durations" style={{ height: 220 }} />
            ) : (
              <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('detail.noRuns')} />
            )}
          </Card>
        </Col>
        {showUsage && (
          <Col xs={24} xl={12}>
            <Card title={t('detail.usage')} style={{ height: '100%' }} data-testid="usage-chart">
              {anyUsage ? (
                <Chart option={usageOption} name="usage" style={{ height: 220 }} />
              ) : (
                <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('detail.noUsage')} />
              )}
            </Card>
          </Col>
        )}
        <Col span={24}>
          <Card
            title={t('detail.history')}
            extra={
              <Button size="small" icon={<ReloadOutlined />} onClick={() => runs.reload()}>
                {t('common.refresh')}
              </Button>
            }
            styles={{ body: { padding: 0 } }}
          >
            {runs.error && <div style={{ padding: 12 }}><ErrorAlert error={runs.error} onRetry={() => runs.reload()} /></div>}
            <Table<RunRecord>
              rowKey="id"
              size="middle"
              columns={columns}
              dataSource={allRuns}
              loading={runs.loading}
              pagination={false}
              scroll={{ x: 1100 }}
              data-testid="run-history"
              onRow={(r) => ({ onClick: () => setOpenRun(r.id), style: { cursor: 'pointer' } })}
              locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('detail.noRunsYet')} /> }}
              footer={
                allRuns.length >= RUN_PAGE && !noMore
                  ? () => (
                      <Flex justify="center">
                        <Button onClick={loadOlder}>{t('detail.loadOlder')}</Button>
                      </Flex>
                    )
                  : undefined
              }
            />
          </Card>
        </Col>
      </Row>
      <RunViewer runId={openRun} onClose={() => setOpenRun(null)} onOpenRun={setOpenRun} job={j} />
      <RunParamsModal
        job={j}
        open={paramsOpen}
        onClose={() => setParamsOpen(false)}
        onStarted={(runId) => {
          setParamsOpen(false);
          started(runId);
        }}
      />
    </>
  );
}
