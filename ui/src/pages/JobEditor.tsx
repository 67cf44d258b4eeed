// Create or edit a job: what it runs, when, and how. Nothing is saved until the form is valid;
// the server's field errors land on the field they name.

import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useNavigate, useParams, useSearchParams } from 'react-router-dom';
import {
  Alert,
  App,
  Button,
  Card,
  Col,
  DatePicker,
  Flex,
  Form,
  Input,
  InputNumber,
  Radio,
  Row,
  Segmented,
  Select,
  Skeleton,
  Space,
  Switch,
  TimePicker,
  Typography,
  theme,
} from 'antd';
import type { FormInstance } from 'antd';
import {
  ApartmentOutlined,
  ApiOutlined,
  BranchesOutlined,
  CalendarOutlined,
  ClockCircleOutlined,
  ClusterOutlined,
  CodeOutlined,
  DashboardOutlined,
  FieldTimeOutlined,
  FunctionOutlined,
  NotificationOutlined,
  SaveOutlined,
  ScheduleOutlined,
  SettingOutlined,
  ThunderboltOutlined,
} from '@ant-design/icons';
import { api } from '../api';
import { ApiError } from '../api/client';
import type { Job, Settings, Trigger } from '../api/types';
import { AlertRules } from '../components/AlertRules';
import { ChainList } from '../components/ChainList';
import { KeyValueList } from '../components/KeyValueList';
import { CronBuilder } from '../components/CronBuilder';
import { CronPreview } from '../components/CronPreview';
import { TriggerPreview } from '../components/TriggerPreview';
import { TimezoneSelect } from '../components/TimezoneSelect';
import { WorkflowEditor, problemKeys, workflowProblemText, workflowServerError } from '../components/WorkflowEditor';
import { ErrorAlert, PageHeader } from '../components/common';
import { useT } from '../state/prefs';
import { useAsync, useInterval } from '../util/hooks';
import { knownLabels, nodesWithLabels } from '../util/nodes';
import { checkDraft, emptyDraft, type WorkflowDraft } from '../util/workflow';
import {
  TriggerJsonError,
  errorTarget,
  formToJob,
  formTrigger,
  jobToForm,
  newJobForm,
  type FormValues,
  type TriggerMode,
} from './jobForm';

/** How often the editor re-reads the nodes (for the node-label warning). */
const NODES_REFRESH_MS = 5000;

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

/** A trigger's fields on the left, the engine's preview of them on the right. */
function WithPreview({ draft, children }: { draft: Parameters<typeof TriggerPreview>[0]['draft']; children: ReactNode }) {
  return (
    <Row gutter={24}>
      <Col xs={24} lg={14}>
        {children}
      </Col>
      <Col xs={24} lg={10}>
        <TriggerPreview draft={draft} />
      </Col>
    </Row>
  );
}

/** `text` with its first letter upper-case (unit names double as labels and in sentences). */
function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function EditorForm({ job, prefill, settings }: { job?: Job; prefill?: Job; settings?: Settings }) {
  const t = useT();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const [form] = Form.useForm<FormValues>();
  const [saving, setSaving] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  // The workflow is checked from the first save on (not while its first step is being typed),
  // and the steps found wrong are outlined on the canvas.
  const [workflowChecked, setWorkflowChecked] = useState(false);
  const [flaggedSteps, setFlaggedSteps] = useState<string[]>([]);
  /** The engine's verdict on the expression and zone it last previewed. */
  const preview = useRef<{ error: ApiError | null; expression: string; timezone: string } | null>(null);
  const initial = useMemo(() => {
    if (job) return jobToForm(job);
    if (prefill) return { ...jobToForm(prefill), id: undefined };
    return newJobForm(settings?.pools.default !== undefined ? 'default' : (Object.keys(settings?.pools ?? {})[0] ?? 'default'));
  }, [job, prefill, settings]);

  const kind = Form.useWatch('kind', form) ?? initial.kind;
  const mode = (Form.useWatch('triggerMode', form) ?? initial.triggerMode) as TriggerMode | undefined;
  const { token } = theme.useToken();
  // What the form's trigger is now, for the engine's preview (cron has its own).
  const triggerValues = Form.useWatch('trigger', form);
  const draft = useMemo((): { trigger: Trigger } | { error: string } | null => {
    if (!mode || mode === 'cron' || !triggerValues) return null;
    if (mode === 'date' && !triggerValues.at) return null;
    if (mode === 'calendar_interval' && !triggerValues.start_date) return null;
    // Nothing typed into the period yet: nothing to say.
    const { weeks, days, hours, minutes, seconds } = triggerValues;
    if (mode === 'interval' && ![weeks, days, hours, minutes, seconds].some((v) => v)) return null;
    try {
      return { trigger: formTrigger({ ...(form.getFieldsValue(true) as FormValues), triggerMode: mode, trigger: triggerValues }) };
    } catch (e) {
      return { error: e instanceof Error ? e.message : String(e) };
    }
  }, [mode, triggerValues, form]);
  const expression = Form.useWatch(['trigger', 'expression'], form) ?? '';
  const timezone = Form.useWatch(['trigger', 'timezone'], form) ?? 'UTC';
  const defaults = settings?.defaults;
  const nodeLabels = (Form.useWatch('node_labels', form) ?? initial.node_labels) as string[];
  // Which labels the nodes have: suggestions, and a warning when no alive node matches.
  const nodes = useAsync((signal) => api.listNodes(signal).catch(() => undefined), []);
  // Nodes come and go while a job is edited: keep the warning true to the cluster.
  useInterval(() => nodes.reload(true), NODES_REFRESH_MS);
  const labelOptions = useMemo(
    () => [...new Set([...knownLabels(nodes.data?.items ?? []), ...initial.node_labels])].sort().map((l) => ({ value: l, label: l })),
    [nodes.data, initial.node_labels],
  );
  const noMatchingNode = !!nodes.data && nodeLabels.length > 0 && nodesWithLabels(nodes.data.items, nodeLabels).length === 0;

  const onPreview = useCallback(
    (error: ApiError | null, input: { expression: string; timezone: string }) => {
      preview.current = { error, ...input };
      // Re-run the validators that read the preview's verdict.
      const touched = [['trigger', 'expression'], ['trigger', 'timezone']];
      form.validateFields(touched).catch(() => undefined);
    },
    [form],
  );

  const previewRule = (field: 'expression' | 'timezone') => ({
    validator: async () => {
      const verdict = preview.current;
      const err = verdict?.error;
      if (!verdict || !err || err.isNetwork) return;
      // Only a verdict on what the form holds now counts.
      const expression = String(form.getFieldValue(['trigger', 'expression']) ?? '').trim();
      const zone = String(form.getFieldValue(['trigger', 'timezone']) ?? '') || 'UTC';
      if (verdict.expression !== expression || (verdict.timezone || 'UTC') !== zone) return;
      const target = err.field === 'timezone' ? 'timezone' : 'expression';
      if (target === field) throw new Error(err.message);
    },
  });

  const switchMode = (next: TriggerMode) => {
    if (next === 'json') {
      try {
        form.setFieldValue(['trigger', 'json'], JSON.stringify(formTrigger(form.getFieldsValue(true) as FormValues), null, 2));
      } catch {
        // keep the old text
      }
    }
    form.setFieldValue('triggerMode', next);
  };

  const save = async () => {
    setFormError(null);
    let values: FormValues;
    try {
      await form.validateFields();
      values = form.getFieldsValue(true) as FormValues;
    } catch (e) {
      setWorkflowChecked(true);
      message.error(t('editor.fixErrors'));
      // Take the user to the first field that needs them.
      const first = (e as { errorFields?: { name: (string | number)[] }[] }).errorFields?.[0];
      if (first) form.scrollToField(first.name, { block: 'center', focus: true });
      return;
    }
    let body;
    try {
      body = formToJob(values, job);
    } catch (e) {
      if (e instanceof TriggerJsonError) {
        form.setFields([{ name: ['trigger', 'json'], errors: [e.message] }]);
        return;
      }
      // Wall-clock times cannot be read in a zone that does not exist: say so on the zone.
      if (!(e instanceof RangeError)) throw e;
      form.setFields([{ name: ['trigger', 'timezone'], errors: [t('tz.unknown', { zone: String(values.trigger.timezone ?? '') })] }]);
      form.scrollToField(['trigger', 'timezone'], { block: 'center' });
      return;
    }
    setSaving(true);
    try {
      const saved = job ? await api.updateJob(job.id ?? '', body) : await api.createJob(body);
      message.success(job ? t('editor.saved', { name: saved.name }) : t('editor.created', { name: saved.name }));
      navigate(`/jobs/${encodeURIComponent(saved.id ?? '')}`);
    } catch (e) {
      if (e instanceof ApiError) {
        const target = errorTarget(e.field, e.message, values);
        if (target) {
          if (target[1] === 'period') setFormError(e.message);
          else if (target[0] === 'workflow') {
            // Said with the step's id (the server counts steps by index), the step outlined.
            const said = workflowServerError(e.field, e.message, values.workflow ?? emptyDraft(), t);
            setFlaggedSteps(said.keys);
            setWorkflowChecked(true);
            form.setFields([{ name: ['workflow'], errors: [said.text] }]);
          } else (form as FormInstance).setFields([{ name: target, errors: [e.message] }]);
          form.scrollToField(target, { block: 'center' });
        } else setFormError(e.field ? `${e.field}: ${e.message}` : e.message);
      } else setFormError(String(e));
    } finally {
      setSaving(false);
    }
  };

  const optionalSeconds = (def: number | null | undefined) =>
    def === null || def === undefined ? t('editor.defaultNone') : t('editor.defaultValue', { value: def });

  const zoneItem = (
    <Form.Item
      name={['trigger', 'timezone']}
      label={t('editor.timezone')}
      rules={mode === 'cron' ? [previewRule('timezone')] : []}
      tooltip={t('editor.timezoneHelp')}
    >
      <TimezoneSelect />
    </Form.Item>
  );
  const boundsRow = (
    <Row gutter={16}>
      <Col xs={24} md={12}>
        <Form.Item name={['trigger', 'start']} label={t('editor.start')} tooltip={t('editor.startHelp')}>
          <DatePicker showTime style={{ width: '100%' }} placeholder={t('editor.optional')} />
        </Form.Item>
      </Col>
      <Col xs={24} md={12}>
        <Form.Item name={['trigger', 'end']} label={t('editor.end')}>
          <DatePicker showTime style={{ width: '100%' }} placeholder={t('editor.optional')} />
        </Form.Item>
      </Col>
    </Row>
  );

  return (
    <Form
      form={form}
      layout="vertical"
      initialValues={initial}
      scrollToFirstError={{ block: 'center' }}
      onValuesChange={() => formError && setFormError(null)}
      data-testid="job-editor"
    >
      {/* The header, with Save, stays in view however long the form (below the app bar). */}
      <div
        style={{ position: 'sticky', top: 56, zIndex: 9, background: token.colorBgLayout, marginInline: -4, paddingInline: 4, paddingTop: 8 }}
        data-testid="editor-header"
      >
      <PageHeader
        title={job ? t('editor.editTitle', { name: job.name }) : t('editor.newTitle')}
        subtitle={job ? <Typography.Text type="secondary" copyable>{job.id}</Typography.Text> : t('editor.newSubtitle')}
        extra={
          <>
            <Button onClick={() => navigate(-1)}>{t('common.cancel')}</Button>
            <Button type="primary" icon={<SaveOutlined />} loading={saving} onClick={save} data-testid="save-job">
              {job ? t('common.save') : t('editor.create')}
            </Button>
          </>
        }
      />
      </div>
      {formError && (
        <Alert type="error" showIcon message={t('editor.serverRefused')} description={formError} style={{ marginBottom: 16 }} data-testid="form-error" />
      )}
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={8}>
          <Card title={<><SettingOutlined /> {t('editor.general')}</>} style={{ height: '100%' }}>
            <Form.Item name="name" label={t('job.name')} rules={[{ required: true, whitespace: true, message: t('editor.nameRequired') }]}>
              <Input placeholder={t('editor.namePlaceholder')} maxLength={200} data-testid="job-name" />
            </Form.Item>
            {!job && (
              <Form.Item name="id" label={t('job.id')} tooltip={t('editor.idHelp')}
                rules={[{ pattern: /^[^/\s][^/]{0,127}$/, message: t('editor.idInvalid') }]}>
                <Input placeholder={t('editor.idPlaceholder')} spellCheck={false} />
              </Form.Item>
            )}
            <Form.Item name="description" label={t('job.description')}>
              <Input.TextArea autoSize={{ minRows: 2, maxRows: 6 }} />
            </Form.Item>
            <Form.Item name="tags" label={t('job.tags')}>
              <Select mode="tags" tokenSeparators={[',', ' ']} placeholder={t('editor.tagsPlaceholder')} open={false} suffixIcon={null} />
            </Form.Item>
            <Row gutter={16}>
              <Col span={14}>
                <Form.Item name="pool" label={t('job.pool')} tooltip={t('editor.poolHelp')}>
                  <Select options={Object.entries(settings?.pools ?? { default: 10 }).map(([name, size]) => ({ value: name, label: `${name} (${size})` }))} />
                </Form.Item>
              </Col>
              <Col span={10}>
                <Form.Item name="paused" label={t('job.paused')} valuePropName="checked">
                  <Switch />
                </Form.Item>
              </Col>
            </Row>
          </Card>
        </Col>

        <Col xs={24} xl={16}>
          <Card title={<><ThunderboltOutlined /> {t('editor.what')}</>} style={{ height: '100%' }}>
            <Form.Item name="kind" label={t('job.kind')}>
              <Segmented
                options={[
                  { value: 'shell', label: t('kind.shell'), icon: <CodeOutlined /> },
                  { value: 'http', label: t('kind.http'), icon: <ApiOutlined /> },
                  { value: 'monitor', label: t('kind.monitor'), icon: <DashboardOutlined /> },
                  ...(initial.kind === 'function' ? [{ value: 'function', label: t('kind.function'), icon: <FunctionOutlined /> }] : []),
                  { value: 'workflow', label: t('kind.workflow'), icon: <ApartmentOutlined /> },
                ]}
                data-testid="job-kind"
              />
            </Form.Item>
            {kind === 'workflow' && (
              <Alert type="info" showIcon icon={<ApartmentOutlined />} message={t('kind.workflow')} description={t('workflow.below')} />
            )}
            {kind === 'shell' && (
              <>
                <Form.Item name={['action', 'command']} label={t('action.command')} rules={[{ required: true, whitespace: true, message: t('editor.commandRequired') }]}>
                  <Input.TextArea autoSize={{ minRows: 2, maxRows: 10 }} placeholder="echo hello" spellCheck={false} style={{ fontFamily: 'monospace' }} data-testid="shell-command" />
                </Form.Item>
                <Row gutter={16}>
                  <Col xs={24} md={8}>
                    <Form.Item name={['action', 'shell']} label={t('action.shell')} rules={[{ required: true, whitespace: true }]}>
                      <Input placeholder="sh" spellCheck={false} />
                    </Form.Item>
                  </Col>
                  <Col xs={24} md={16}>
                    <Form.Item name={['action', 'cwd']} label={t('action.cwd')}>
                      <Input placeholder={t('action.cwdPlaceholder')} spellCheck={false} />
                    </Form.Item>
                  </Col>
                </Row>
                <Form.Item name={['action', 'env']} label={t('action.env')} style={{ marginBottom: 0 }}>
                  <KeyValueList name={['action', 'env']} keyLabel={t('action.envName')} valueLabel={t('action.envValue')} />
                </Form.Item>
              </>
            )}
            {kind === 'http' && (
              <>
                <Flex gap={8} align="start">
                  <Form.Item name={['action', 'method']} label={t('action.method')} style={{ width: 130 }}>
                    <Select options={METHODS.map((m) => ({ value: m, label: m }))} />
                  </Form.Item>
                  <Form.Item
                    name={['action', 'url']}
                    label={t('action.url')}
                    style={{ flex: 1 }}
                    rules={[
                      { required: true, message: t('editor.urlRequired') },
                      { pattern: /^https?:\/\/\S+$/i, message: t('editor.urlInvalid') },
                    ]}
                  >
                    <Input placeholder="https://example.com/health" spellCheck={false} />
                  </Form.Item>
                </Flex>
                <Form.Item name={['action', 'headers']} label={t('action.headers')}>
                  <KeyValueList name={['action', 'headers']} keyLabel={t('action.headerName')} valueLabel={t('action.headerValue')} />
                </Form.Item>
                <Form.Item name={['action', 'body']} label={t('action.body')}>
                  <Input.TextArea autoSize={{ minRows: 2, maxRows: 10 }} spellCheck={false} style={{ fontFamily: 'monospace' }} />
                </Form.Item>
                <Flex gap={16} wrap="wrap">
                  <Form.Item label={t('action.expectStatus')} tooltip={t('action.expectStatusHelp')} required>
                    <Space.Compact>
                      <Form.Item name={['action', 'expect_status', 0]} noStyle rules={[{ required: true }]}>
                        <InputNumber min={100} max={599} style={{ width: 90 }} />
                      </Form.Item>
                      <Input style={{ width: 36, pointerEvents: 'none', textAlign: 'center' }} placeholder="–" disabled />
                      <Form.Item name={['action', 'expect_status', 1]} noStyle rules={[{ required: true }]}>
                        <InputNumber min={100} max={599} style={{ width: 90 }} />
                      </Form.Item>
                    </Space.Compact>
                  </Form.Item>
                  <Form.Item name={['action', 'timeout_s']} label={t('action.requestTimeout')}>
                    <InputNumber min={1} addonAfter={t('unit.s')} placeholder={t('editor.optional')} style={{ width: 160 }} />
                  </Form.Item>
                </Flex>
              </>
            )}
            {kind === 'monitor' && (
              <Alert type="info" showIcon icon={<DashboardOutlined />} message={t('action.monitorTitle')} description={t('action.monitorHelp')} />
            )}
            {kind === 'function' && (
              <Form.Item name={['action', 'name']} label={t('action.functionName')} rules={[{ required: true }]}>
                <Input spellCheck={false} />
              </Form.Item>
            )}
          </Card>
        </Col>

        {kind === 'workflow' && (
          <Col span={24}>
            <Card title={<><ApartmentOutlined /> {t('workflow.title')}</>}>
              <Form.Item
                name="workflow"
                style={{ marginBottom: 0 }}
                validateTrigger={workflowChecked ? 'onChange' : false}
                rules={[
                  {
                    validator: async (_, value: WorkflowDraft | undefined) => {
                      const problem = checkDraft(value ?? emptyDraft());
                      setFlaggedSteps(problemKeys(problem));
                      if (problem) throw new Error(workflowProblemText(problem, t));
                    },
                  },
                ]}
              >
                <WorkflowEditor self={job?.id} flagged={flaggedSteps} />
              </Form.Item>
            </Card>
          </Col>
        )}

        <Col span={24}>
          <Card title={<><ScheduleOutlined /> {t('editor.when')}</>}>
            <Form.Item
              name="triggerMode"
              label={t('editor.triggerType')}
              rules={[{ required: true, message: t('editor.triggerRequired') }]}
              extra={!mode && t('editor.triggerChoose')}
            >
              <Radio.Group
                optionType="button"
                buttonStyle="solid"
                onChange={(e) => switchMode(e.target.value as TriggerMode)}
                data-testid="trigger-mode"
                options={[
                  { value: 'cron', label: <><ScheduleOutlined /> {t('trigger.cron')}</> },
                  { value: 'interval', label: <><FieldTimeOutlined /> {t('trigger.interval')}</> },
                  { value: 'date', label: <><ClockCircleOutlined /> {t('trigger.date')}</> },
                  { value: 'calendar_interval', label: <><CalendarOutlined /> {t('trigger.calendar_interval')}</> },
                  { value: 'json', label: <><CodeOutlined /> {t('trigger.json')}</> },
                ]}
              />
            </Form.Item>
            {mode === 'cron' && (
              <Row gutter={24}>
                <Col xs={24} lg={14}>
                  <Form.Item
                    name={['trigger', 'expression']}
                    label={t('editor.expression')}
                    validateTrigger={['onChange', 'onBlur']}
                    rules={[{ required: true, whitespace: true, message: t('editor.expressionRequired') }, previewRule('expression')]}
                  >
                    <CronBuilder />
                  </Form.Item>
                  {boundsRow}
                </Col>
                <Col xs={24} lg={10}>
                  {zoneItem}
                  <CronPreview expression={expression} timezone={timezone} onResult={onPreview} />
                </Col>
              </Row>
            )}
            {mode === 'interval' && (
              <>
                <Typography.Paragraph type="secondary">{t('editor.intervalHelp')}</Typography.Paragraph>
                <Flex gap={12} wrap="wrap">
                  {(['weeks', 'days', 'hours', 'minutes', 'seconds'] as const).map((unit) => (
                    <Form.Item key={unit} name={['trigger', unit]} label={capitalized(t(`unit.${unit}`))}>
                      <InputNumber min={0} step={unit === 'seconds' ? 0.5 : 1} style={{ width: 110 }} />
                    </Form.Item>
                  ))}
                </Flex>
                <WithPreview draft={draft}>
                  {zoneItem}
                  {boundsRow}
                </WithPreview>
              </>
            )}
            {mode === 'date' && (
              <WithPreview draft={draft}>
                <Form.Item name={['trigger', 'at']} label={t('editor.at')} rules={[{ required: true, message: t('editor.atRequired') }]}>
                  <DatePicker showTime style={{ width: '100%' }} />
                </Form.Item>
                {zoneItem}
              </WithPreview>
            )}
            {mode === 'calendar_interval' && (
              <>
                <Flex gap={12} wrap="wrap" align="start">
                  <Form.Item name={['trigger', 'every']} label={t('editor.every')} rules={[{ required: true }]}>
                    <InputNumber min={1} style={{ width: 100 }} />
                  </Form.Item>
                  <Form.Item name={['trigger', 'unit']} label={t('editor.unit')}>
                    <Select style={{ width: 140 }} options={(['days', 'weeks', 'months', 'years'] as const).map((u) => ({ value: u, label: t(`unit.${u}`) }))} />
                  </Form.Item>
                  <Form.Item name={['trigger', 'start_date']} label={t('editor.startDate')} rules={[{ required: true }]}>
                    <DatePicker />
                  </Form.Item>
                  <Form.Item name={['trigger', 'time']} label={t('editor.time')}>
                    <TimePicker />
                  </Form.Item>
                </Flex>
                <WithPreview draft={draft}>
                  {zoneItem}
                  <Form.Item name={['trigger', 'end']} label={t('editor.end')}>
                    <DatePicker showTime style={{ width: '100%' }} placeholder={t('editor.optional')} />
                  </Form.Item>
                </WithPreview>
              </>
            )}
            {mode === 'json' && (
              <WithPreview draft={draft}>
                <Form.Item name={['trigger', 'json']} label={t('editor.triggerJson')} tooltip={t('editor.triggerJsonHelp')} rules={[{ required: true }]}>
                  <Input.TextArea autoSize={{ minRows: 6, maxRows: 20 }} spellCheck={false} style={{ fontFamily: 'monospace' }} data-testid="trigger-json" />
                </Form.Item>
              </WithPreview>
            )}
          </Card>
        </Col>

        <Col span={24}>
          <Card title={<><FieldTimeOutlined /> {t('editor.options')}</>} extra={<Typography.Text type="secondary">{t('editor.optionsHelp')}</Typography.Text>}>
            <Row gutter={16}>
              <Col xs={24} sm={12} lg={6}>
                <Form.Item name={['options', 'coalesce']} label={t('option.coalesce')} tooltip={t('option.coalesceHelp')}>
                  <Select
                    allowClear
                    placeholder={t('editor.defaultValue', { value: t(`coalesce.${defaults?.coalesce ?? 'latest'}`) })}
                    options={(['latest', 'earliest', 'all'] as const).map((c) => ({ value: c, label: t(`coalesce.${c}`) }))}
                  />
                </Form.Item>
              </Col>
              <Col xs={24} sm={12} lg={6}>
                <Form.Item name={['options', 'max_instances']} label={t('option.maxInstances')} tooltip={t('option.maxInstancesHelp')}>
                  <InputNumber min={1} style={{ width: '100%' }} placeholder={t('editor.defaultValue', { value: defaults?.max_instances ?? 1 })} />
                </Form.Item>
              </Col>
              <Col xs={24} sm={12} lg={6}>
                <Form.Item name={['options', 'misfire_grace_time_s']} label={t('option.misfireGrace')} tooltip={t('option.misfireGraceHelp')}>
                  <InputNumber min={0} style={{ width: '100%' }} addonAfter={t('unit.s')} placeholder={optionalSeconds(defaults?.misfire_grace_time_s)} />
                </Form.Item>
              </Col>
              <Col xs={24} sm={12} lg={6}>
                <Form.Item name={['options', 'jitter_s']} label={t('option.jitter')} tooltip={t('option.jitterHelp')}>
                  <InputNumber min={0} style={{ width: '100%' }} addonAfter={t('unit.s')} placeholder={optionalSeconds(defaults?.jitter_s)} />
                </Form.Item>
              </Col>
              <Col xs={24} sm={12} lg={6}>
                <Form.Item name={['options', 'timeout_s']} label={t('option.timeout')} tooltip={t('option.timeoutHelp')}>
                  <InputNumber min={1} style={{ width: '100%' }} addonAfter={t('unit.s')} placeholder={optionalSeconds(defaults?.timeout_s)} />
                </Form.Item>
              </Col>
              <Col xs={24} sm={12} lg={6}>
                <Form.Item name={['options', 'retries', 'count']} label={t('option.retries')} tooltip={t('option.retriesHelp')}>
                  <InputNumber min={0} max={100} style={{ width: '100%' }} placeholder={t('editor.defaultValue', { value: defaults?.retries.count ?? 0 })} />
                </Form.Item>
              </Col>
              <Col xs={24} sm={12} lg={6}>
                <Form.Item name={['options', 'retries', 'backoff_s']} label={t('option.backoff')} tooltip={t('option.backoffHelp')}>
                  <InputNumber min={0} step={0.5} style={{ width: '100%' }} addonAfter={t('unit.s')} placeholder={t('editor.defaultValue', { value: defaults?.retries.backoff_s ?? 1 })} />
                </Form.Item>
              </Col>
              <Col xs={24} sm={12} lg={6}>
                <Form.Item name={['options', 'retries', 'factor']} label={t('option.factor')} tooltip={t('option.factorHelp')}>
                  <InputNumber min={1} step={0.5} style={{ width: '100%' }} addonAfter="×" placeholder={t('editor.defaultValue', { value: defaults?.retries.factor ?? 2 })} />
                </Form.Item>
              </Col>
              <Col xs={24} lg={12}>
                <Form.Item
                  name="node_labels"
                  label={
                    <>
                      <ClusterOutlined style={{ marginInlineEnd: 6 }} />
                      {t('editor.nodeLabels')}
                    </>
                  }
                  extra={
                    <>
                      {t('editor.nodeLabelsHelp')}
                      {noMatchingNode && (
                        <Typography.Text type="warning" style={{ display: 'block', marginTop: 4 }} data-testid="node-labels-unmatched">
                          {t('editor.nodeLabelsNone')}
                        </Typography.Text>
                      )}
                    </>
                  }
                >
                  <Select
                    mode="tags"
                    tokenSeparators={[',', ' ']}
                    placeholder={t('editor.nodeLabelsPlaceholder')}
                    options={labelOptions}
                    data-testid="node-labels"
                    allowClear
                  />
                </Form.Item>
              </Col>
            </Row>
          </Card>
        </Col>
        <Col span={24}>
          <Card title={<><NotificationOutlined /> {t('alerts.title')}</>} extra={<Typography.Text type="secondary">{t('alerts.help')}</Typography.Text>}>
            <AlertRules name="alerts" empty={job?.options?.alerts?.length === 0 ? t('alerts.noneAtAll') : t('alerts.none')} />
          </Card>
        </Col>
        <Col span={24}>
          <Card title={<><BranchesOutlined /> {t('chain.title')}</>} extra={<Typography.Text type="secondary">{t('chain.help')}</Typography.Text>}>
            <ChainList self={job?.id} />
          </Card>
        </Col>
      </Row>
    </Form>
  );
}

export function JobEditorPage() {
  const { id } = useParams();
  const [search] = useSearchParams();
  const copyOf = search.get('copy');
  const source = id ?? copyOf;
  const t = useT();
  const state = useAsync(
    async (signal) => {
      const [job, settings] = await Promise.all([
        source ? api.getJob(source, signal) : Promise.resolve(undefined),
        api.getSettings().catch(() => undefined),
      ]);
      if (job && !id) {
        // A copy: a new job with the same definition.
        return { job: undefined, copy: { ...job, name: t('editor.copyName', { name: job.name }) }, settings };
      }
      return { job, copy: undefined, settings };
    },
    [source, id],
  );
  useEffect(() => {
    document.title = `${id ? t('editor.editShort') : t('editor.newTitle')} · Kairos`;
  }, [id, t]);
  if (state.error) return <ErrorAlert error={state.error} onRetry={() => state.reload()} />;
  if (state.loading || !state.data) return <Card><Skeleton active paragraph={{ rows: 12 }} /></Card>;
  if (state.data.copy) return <EditorForm key="copy" prefill={state.data.copy} settings={state.data.settings} />;
  return <EditorForm key={state.data.job?.id ?? 'new'} job={state.data.job} settings={state.data.settings} />;
}
