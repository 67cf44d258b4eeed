// Settings: appearance and language (this browser), and the scheduler's job defaults,
// executor pools and history retention (the server's).

import { useEffect, useRef, useState } from 'react';
import {
  Alert,
  App,
  Button,
  Card,
  Col,
  Descriptions,
  Flex,
  Form,
  Input,
  InputNumber,
  Row,
  Segmented,
  Select,
  Skeleton,
  Space,
  Typography,
  Upload,
} from 'antd';
import type { FormInstance } from 'antd';
import {
  BgColorsOutlined,
  CloudDownloadOutlined,
  CloudUploadOutlined,
  DeleteOutlined,
  DesktopOutlined,
  KeyOutlined,
  LogoutOutlined,
  MoonOutlined,
  PlusOutlined,
  SaveOutlined,
  SunOutlined,
  TranslationOutlined,
} from '@ant-design/icons';
import { api } from '../api';
import { ApiError } from '../api/client';
import type { ExportDoc, Settings } from '../api/types';
import { AlertRules } from '../components/AlertRules';
import { ChannelsCard } from '../components/Channels';
import { DatabaseCard } from '../components/DatabaseCard';
import { ErrorAlert, PageHeader, errorText } from '../components/common';
import { clearToken, getToken } from '../state/auth';
import { usePrefs, type ThemePref } from '../state/prefs';
import { useAsync } from '../util/hooks';

interface SettingsForm {
  defaults: Settings['defaults'];
  pools: { name: string; size: number }[];
}

function toForm(s: Settings): SettingsForm {
  return {
    defaults: { ...s.defaults, retries: { ...s.defaults.retries }, retention: { ...s.defaults.retention } },
    pools: Object.entries(s.pools).map(([name, size]) => ({ name, size })),
  };
}

/** The settings to save: the form's, plus what the form does not show (the cluster timing,
 * which an absent member would reset to its defaults). */
function fromForm(f: SettingsForm, keep: Settings): Settings {
  return {
    ...(keep.cluster ? { cluster: keep.cluster } : {}),
    defaults: {
      ...f.defaults,
      misfire_grace_time_s: f.defaults.misfire_grace_time_s ?? null,
      timeout_s: f.defaults.timeout_s ?? null,
    },
    pools: Object.fromEntries(f.pools.filter((p) => p.name?.trim()).map((p) => [p.name.trim(), p.size])),
  };
}

function AppearanceCard() {
  const { t, theme, setTheme, lang, setLang } = usePrefs();
  return (
    <Card title={<><BgColorsOutlined /> {t('settings.appearance')}</>} style={{ height: '100%' }}>
      <Flex vertical gap={20}>
        <div>
          <Typography.Text strong style={{ display: 'block', marginBottom: 8 }}>
            <TranslationOutlined /> {t('settings.language')}
          </Typography.Text>
          <Segmented
            data-testid="language-switch"
            value={lang}
            onChange={(v) => setLang(v as 'en' | 'zh')}
            options={[
              { value: 'en', label: 'English' },
              { value: 'zh', label: '简体中文' },
            ]}
          />
        </div>
        <div>
          <Typography.Text strong style={{ display: 'block', marginBottom: 8 }}>
            {t('settings.theme')}
          </Typography.Text>
          <Segmented
            data-testid="theme-switch"
            value={theme}
            onChange={(v) => setTheme(v as ThemePref)}
            options={[
              { value: 'light', label: t('settings.themeLight'), icon: <SunOutlined /> },
              { value: 'dark', label: t('settings.themeDark'), icon: <MoonOutlined /> },
              { value: 'system', label: t('settings.themeSystem'), icon: <DesktopOutlined /> },
            ]}
          />
        </div>
        <Typography.Text type="secondary">{t('settings.appearanceHelp')}</Typography.Text>
      </Flex>
    </Card>
  );
}

function ConnectionCard() {
  const { t } = usePrefs();
  const { message, modal } = App.useApp();
  const token = getToken() ?? '';
  const [busy, setBusy] = useState(false);

  const exportJobs = async () => {
    try {
      const doc = await api.exportJobs();
      const blob = new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' });
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `kairos-jobs-${new Date().toISOString().slice(0, 10)}.json`;
      a.click();
      URL.revokeObjectURL(url);
      message.success(t('settings.exported', { n: doc.jobs.length }));
    } catch (e) {
      message.error(errorText(e));
    }
  };
  const importFile = async (file: File) => {
    setBusy(true);
    try {
      const doc = JSON.parse(await file.text()) as ExportDoc;
      const n = await api.importJobs(doc);
      message.success(t('settings.imported', { n }));
    } catch (e) {
      modal.error({ title: t('settings.importFailed'), content: errorText(e) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title={<><KeyOutlined /> {t('settings.connection')}</>} style={{ height: '100%' }}>
      <Descriptions column={1} size="small" style={{ marginBottom: 16 }}>
        <Descriptions.Item label={t('settings.server')}>{api.transportName === 'http' ? window.location.host : api.transportName}</Descriptions.Item>
        <Descriptions.Item label={t('settings.token')}>
          <Typography.Text code>{token ? `${token.slice(0, 6)}…${token.slice(-4)}` : '—'}</Typography.Text>
        </Descriptions.Item>
      </Descriptions>
      <Space wrap>
        <Button icon={<CloudDownloadOutlined />} onClick={exportJobs}>
          {t('settings.export')}
        </Button>
        <Upload accept="application/json,.json" showUploadList={false} beforeUpload={(file) => { void importFile(file); return false; }}>
          <Button icon={<CloudUploadOutlined />} loading={busy}>
            {t('settings.import')}
          </Button>
        </Upload>
        <Button danger icon={<LogoutOutlined />} onClick={() => { clearToken(); }}>
          {t('settings.signOut')}
        </Button>
      </Space>
    </Card>
  );
}

function SchedulerSettings({ settings, onSaved }: { settings: Settings; onSaved: (s: Settings) => void }) {
  const { t } = usePrefs();
  const { message } = App.useApp();
  const [form] = Form.useForm<SettingsForm>();
  const [saving, setSaving] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const initial = useRef(toForm(settings));

  useEffect(() => {
    form.setFieldsValue(toForm(settings));
  }, [settings, form]);

  const save = async () => {
    setFormError(null);
    let values: SettingsForm;
    try {
      values = await form.validateFields();
      values = form.getFieldsValue(true) as SettingsForm;
    } catch {
      return;
    }
    setSaving(true);
    try {
      const saved = await api.putSettings(fromForm(values, settings));
      message.success(t('settings.saved'));
      onSaved(saved);
    } catch (e) {
      if (e instanceof ApiError && e.field) {
        const parts = e.field.split('.');
        if (parts[0] === 'pools' && parts[1]) {
          const i = values.pools.findIndex((p) => p.name.trim() === parts[1]);
          if (i >= 0) {
            form.setFields([{ name: ['pools', i, 'size'], errors: [e.message] }]);
            return;
          }
        }
        if (parts[0] === 'defaults') {
          (form as FormInstance).setFields([{ name: parts, errors: [e.message] }]);
          return;
        }
      }
      setFormError(errorText(e));
    } finally {
      setSaving(false);
    }
  };

  const seconds = t('unit.s');
  return (
    <Form form={form} layout="vertical" initialValues={initial.current} requiredMark={false} data-testid="settings-form">
      {formError && <Alert type="error" showIcon message={formError} style={{ marginBottom: 16 }} />}
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={16}>
          <Card
            title={t('settings.defaults')}
            extra={<Typography.Text type="secondary">{t('settings.defaultsHelp')}</Typography.Text>}
            style={{ height: '100%' }}
          >
            <Row gutter={16}>
              <Col xs={24} md={8}>
                <Form.Item name={['defaults', 'coalesce']} label={t('option.coalesce')} tooltip={t('option.coalesceHelp')}>
                  <Select options={(['latest', 'earliest', 'all'] as const).map((c) => ({ value: c, label: t(`coalesce.${c}`) }))} />
                </Form.Item>
              </Col>
              <Col xs={24} md={8}>
                <Form.Item name={['defaults', 'max_instances']} label={t('option.maxInstances')} rules={[{ required: true }]}>
                  <InputNumber min={1} style={{ width: '100%' }} />
                </Form.Item>
              </Col>
              <Col xs={24} md={8}>
                <Form.Item name={['defaults', 'misfire_grace_time_s']} label={t('option.misfireGrace')} tooltip={t('settings.misfireNone')}>
                  <InputNumber min={0} style={{ width: '100%' }} addonAfter={seconds} placeholder={t('settings.unlimited')} />
                </Form.Item>
              </Col>
              <Col xs={24} md={8}>
                <Form.Item name={['defaults', 'jitter_s']} label={t('option.jitter')} rules={[{ required: true }]}>
                  <InputNumber min={0} style={{ width: '100%' }} addonAfter={seconds} />
                </Form.Item>
              </Col>
              <Col xs={24} md={8}>
                <Form.Item name={['defaults', 'timeout_s']} label={t('option.timeout')}>
                  <InputNumber min={1} style={{ width: '100%' }} addonAfter={seconds} placeholder={t('settings.unlimited')} />
                </Form.Item>
              </Col>
              <Col xs={24} md={8}>
                <Form.Item name={['defaults', 'retries', 'count']} label={t('option.retries')} rules={[{ required: true }]}>
                  <InputNumber min={0} style={{ width: '100%' }} />
                </Form.Item>
              </Col>
              <Col xs={24} md={8}>
                <Form.Item name={['defaults', 'retries', 'backoff_s']} label={t('option.backoff')} rules={[{ required: true }]}>
                  <InputNumber min={0} step={0.5} style={{ width: '100%' }} addonAfter={seconds} />
                </Form.Item>
              </Col>
              <Col xs={24} md={8}>
                <Form.Item name={['defaults', 'retries', 'factor']} label={t('option.factor')} rules={[{ required: true }]}>
                  <InputNumber min={1} step={0.5} style={{ width: '100%' }} addonAfter="×" />
                </Form.Item>
              </Col>
            </Row>
            <Typography.Title level={5} style={{ marginTop: 8 }}>
              {t('settings.retention')}
            </Typography.Title>
            <Row gutter={16}>
              <Col xs={24} md={8}>
                <Form.Item name={['defaults', 'retention', 'max_runs']} label={t('settings.maxRuns')} rules={[{ required: true }]}>
                  <InputNumber min={1} style={{ width: '100%' }} />
                </Form.Item>
              </Col>
              <Col xs={24} md={8}>
                <Form.Item name={['defaults', 'retention', 'max_age_days']} label={t('settings.maxAge')} rules={[{ required: true }]}>
                  <InputNumber min={1} style={{ width: '100%' }} addonAfter={t('unit.days')} />
                </Form.Item>
              </Col>
            </Row>
            <Typography.Title level={5} style={{ marginTop: 8 }}>
              {t('settings.defaultAlerts')}
            </Typography.Title>
            <AlertRules name={['defaults', 'alerts']} empty={t('settings.noDefaultAlerts')} />
          </Card>
        </Col>
        <Col xs={24} xl={8}>
          <Card title={t('settings.pools')} extra={<Typography.Text type="secondary">{t('settings.poolsHelp')}</Typography.Text>} style={{ height: '100%' }}>
            <Form.List name="pools">
              {(fields, { add, remove }) => (
                <Flex vertical gap={8}>
                  {fields.map((field) => (
                    <Flex key={field.key} gap={8} align="start">
                      <Form.Item name={[field.name, 'name']} rules={[{ required: true, whitespace: true, message: t('settings.poolName') }]} style={{ flex: 1, marginBottom: 0 }}>
                        <Input placeholder={t('settings.poolName')} />
                      </Form.Item>
                      <Form.Item name={[field.name, 'size']} rules={[{ required: true }]} style={{ marginBottom: 0 }}>
                        <InputNumber min={1} placeholder={t('settings.poolSize')} style={{ width: 110 }} addonAfter="⇉" />
                      </Form.Item>
                      <Button icon={<DeleteOutlined />} onClick={() => remove(field.name)} disabled={fields.length <= 1} aria-label={t('common.remove')} />
                    </Flex>
                  ))}
                  <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({ name: '', size: 4 })}>
                    {t('settings.addPool')}
                  </Button>
                </Flex>
              )}
            </Form.List>
          </Card>
        </Col>
      </Row>
      <Flex justify="end" style={{ marginTop: 16 }}>
        <Button type="primary" icon={<SaveOutlined />} loading={saving} onClick={save} data-testid="save-settings">
          {t('settings.save')}
        </Button>
      </Flex>
    </Form>
  );
}

export function SettingsPage() {
  const { t } = usePrefs();
  const settings = useAsync(() => api.getSettings(), []);
  const [saved, setSaved] = useState<Settings | null>(null);
  return (
    <>
      <PageHeader title={t('nav.settings')} subtitle={t('settings.subtitle')} />
      <Row gutter={[16, 16]} style={{ marginBottom: 16 }}>
        <Col xs={24} lg={12}>
          <AppearanceCard />
        </Col>
        <Col xs={24} lg={12}>
          <ConnectionCard />
        </Col>
        <Col xs={24}>
          <DatabaseCard />
        </Col>
      </Row>
      {settings.error ? (
        <ErrorAlert error={settings.error} onRetry={() => settings.reload()} />
      ) : settings.data ? (
        <>
          <SchedulerSettings settings={saved ?? settings.data} onSaved={setSaved} />
          <ChannelsCard />
        </>
      ) : (
        <Card>
          <Skeleton active paragraph={{ rows: 8 }} />
        </Card>
      )}
    </>
  );
}
