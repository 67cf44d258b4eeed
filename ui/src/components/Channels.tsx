// Settings → Alert channels: the channels (secrets masked by the server), an editor, a test
// send, and the log of every delivery attempt.

import { useState } from 'react';
import { App, Button, Card, Col, Flex, Form, Input, InputNumber, Modal, Popconfirm, Row, Select, Space, Switch, Table, Tag, Tooltip, Typography } from 'antd';
import { DeleteOutlined, EditOutlined, NotificationOutlined, PlusOutlined, ReloadOutlined, SendOutlined } from '@ant-design/icons';
import { api } from '../api';
import { ApiError } from '../api/client';
import type { AlertOn, Channel, ChannelKind, ChannelTarget, Delivery } from '../api/types';
import { ErrorAlert, errorText } from './common';
import { KeyValueList } from './KeyValueList';
import { useT } from '../state/prefs';
import { formatDateTime, fromNow } from '../util/format';
import { useAsync } from '../util/hooks';

const KINDS: ChannelKind[] = ['webhook', 'slack', 'dingtalk', 'feishu', 'wecom', 'email'];

/** The editor's values: the channel, with webhook headers as a list of pairs. */
interface ChannelForm {
  id?: string;
  name: string;
  enabled: boolean;
  language: Channel['language'];
  target: {
    kind: ChannelKind;
    url?: string;
    secret?: string;
    headers?: { key?: string; value?: string }[];
    template?: string;
    host?: string;
    port?: number;
    security?: 'starttls' | 'tls' | 'none';
    username?: string;
    password?: string;
    from?: string;
    to?: string[];
  };
}

function toForm(c?: Channel): ChannelForm {
  if (!c) return { name: '', enabled: true, language: 'en', target: { kind: 'slack', port: 587, security: 'starttls', to: [] } };
  const headers = c.target.kind === 'webhook' ? Object.entries(c.target.headers ?? {}).map(([key, value]) => ({ key, value })) : [];
  return { id: c.id, name: c.name, enabled: c.enabled ?? true, language: c.language ?? 'en', target: { port: 587, security: 'starttls', to: [], ...c.target, headers } as ChannelForm['target'] };
}

/** The channel JSON the form describes (only the chosen kind's fields). */
export function formToChannel(f: ChannelForm): Channel {
  const t = f.target;
  const blank = (s?: string) => (s && s.trim() ? s.trim() : undefined);
  let target: ChannelTarget;
  switch (t.kind) {
    case 'webhook': {
      const headers = Object.fromEntries((t.headers ?? []).filter((h) => h.key?.trim()).map((h) => [h.key!.trim(), h.value ?? '']));
      target = {
        kind: 'webhook',
        url: t.url?.trim() ?? '',
        ...(Object.keys(headers).length ? { headers } : {}),
        ...(blank(t.template) ? { template: t.template } : {}),
      };
      break;
    }
    case 'slack':
    case 'wecom':
      target = { kind: t.kind, url: t.url?.trim() ?? '' };
      break;
    case 'dingtalk':
    case 'feishu':
      target = { kind: t.kind, url: t.url?.trim() ?? '', ...(blank(t.secret) ? { secret: t.secret!.trim() } : {}) };
      break;
    case 'email':
      target = {
        kind: 'email',
        host: t.host?.trim() ?? '',
        port: t.port ?? 587,
        security: t.security ?? 'starttls',
        ...(blank(t.username) ? { username: t.username!.trim() } : {}),
        ...(blank(t.password) ? { password: t.password } : {}),
        from: t.from?.trim() ?? '',
        to: (t.to ?? []).map((a) => a.trim()).filter(Boolean),
      };
      break;
  }
  return { id: f.id ?? '', name: f.name.trim(), enabled: f.enabled, language: f.language, target };
}

/** Where a channel sends, in a few words. */
function targetSummary(c: Channel): string {
  const t = c.target;
  return t.kind === 'email' ? `${t.to.join(', ')} via ${t.host}:${t.port}` : t.url;
}

function ChannelEditor({ channel, open, onClose, onSaved }: { channel?: Channel; open: boolean; onClose: () => void; onSaved: () => void }) {
  const t = useT();
  const { message } = App.useApp();
  const [form] = Form.useForm<ChannelForm>();
  const kind = Form.useWatch(['target', 'kind'], form) as ChannelKind | undefined;
  const [saving, setSaving] = useState(false);
  const save = async () => {
    let values: ChannelForm;
    try {
      values = await form.validateFields();
    } catch {
      return;
    }
    setSaving(true);
    try {
      const body = formToChannel({ ...values, id: channel?.id });
      if (channel) await api.updateChannel(channel.id!, body);
      else await api.createChannel(body);
      message.success(t('channels.saved', { name: body.name }));
      onSaved();
    } catch (e) {
      if (e instanceof ApiError && e.field) {
        // The server names JSON paths (`target.url`, `target.to[1]`); the form's names mirror them
        // (a list's item lands on the list).
        const name = e.field.replace(/\[\d+\]$/, '').split('.') as Parameters<typeof form.setFields>[0][number]['name'];
        form.setFields([{ name, errors: [e.message] }]);
      } else {
        message.error(errorText(e));
      }
    } finally {
      setSaving(false);
    }
  };
  const secretHelp = channel ? t('channels.secretKept') : undefined;
  return (
    <Modal
      open={open}
      title={channel ? t('channels.edit', { name: channel.name }) : t('channels.new')}
      onCancel={onClose}
      onOk={save}
      okText={t('common.save')}
      cancelText={t('common.cancel')}
      confirmLoading={saving}
      width={640}
      destroyOnClose
      data-testid="channel-editor"
    >
      <Form form={form} layout="vertical" initialValues={toForm(channel)} preserve={false} requiredMark={false}>
        <Row gutter={12}>
          <Col span={14}>
            <Form.Item name="name" label={t('channels.name')} rules={[{ required: true, whitespace: true, message: t('channels.nameRequired') }]}>
              <Input placeholder={t('channels.namePlaceholder')} data-testid="channel-name" />
            </Form.Item>
          </Col>
          <Col span={10}>
            <Form.Item name={['target', 'kind']} label={t('channels.kind')}>
              <Select options={KINDS.map((k) => ({ value: k, label: t(`channels.kind.${k}`) }))} data-testid="channel-kind" disabled={!!channel} />
            </Form.Item>
          </Col>
        </Row>
        {kind !== 'email' && (
          <Form.Item name={['target', 'url']} label={t('channels.url')} extra={t(`channels.urlHelp.${kind ?? 'slack'}`)} rules={[{ required: true, message: t('channels.urlRequired') }]}>
            <Input placeholder="https://…" spellCheck={false} data-testid="channel-url" />
          </Form.Item>
        )}
        {(kind === 'dingtalk' || kind === 'feishu') && (
          <Form.Item name={['target', 'secret']} label={t('channels.secret')} extra={secretHelp ?? t('channels.secretHelp')}>
            <Input.Password placeholder={t('channels.optional')} autoComplete="new-password" />
          </Form.Item>
        )}
        {kind === 'webhook' && (
          <Form.Item label={t('channels.headers')} extra={channel ? t('channels.secretKept') : t('channels.headersHelp')}>
            <KeyValueList name={['target', 'headers']} keyLabel="Authorization" valueLabel="Bearer …" secret />
          </Form.Item>
        )}
        {kind === 'webhook' && (
          <Form.Item name={['target', 'template']} label={t('channels.template')} extra={t('channels.templateHelp')}>
            <Input.TextArea rows={3} spellCheck={false} placeholder='{"text": "{{text}}"}' style={{ fontFamily: 'monospace' }} />
          </Form.Item>
        )}
        {kind === 'email' && (
          <>
            <Row gutter={12}>
              <Col span={12}>
                <Form.Item name={['target', 'host']} label={t('channels.host')} rules={[{ required: true, message: t('channels.hostRequired') }]}>
                  <Input placeholder="smtp.example.com" spellCheck={false} />
                </Form.Item>
              </Col>
              <Col span={5}>
                <Form.Item name={['target', 'port']} label={t('channels.port')}>
                  <InputNumber min={1} max={65535} style={{ width: '100%' }} />
                </Form.Item>
              </Col>
              <Col span={7}>
                <Form.Item name={['target', 'security']} label={t('channels.security')}>
                  <Select options={(['starttls', 'tls', 'none'] as const).map((s) => ({ value: s, label: t(`channels.security.${s}`) }))} />
                </Form.Item>
              </Col>
            </Row>
            <Row gutter={12}>
              <Col span={12}>
                <Form.Item name={['target', 'username']} label={t('channels.username')}>
                  <Input placeholder={t('channels.optional')} autoComplete="off" />
                </Form.Item>
              </Col>
              <Col span={12}>
                <Form.Item name={['target', 'password']} label={t('channels.password')} extra={secretHelp}>
                  <Input.Password placeholder={t('channels.optional')} autoComplete="new-password" />
                </Form.Item>
              </Col>
            </Row>
            <Form.Item name={['target', 'from']} label={t('channels.from')} rules={[{ required: true, message: t('channels.fromRequired') }]}>
              <Input placeholder="Kairos <kairos@example.com>" />
            </Form.Item>
            <Form.Item name={['target', 'to']} label={t('channels.to')} rules={[{ required: true, type: 'array', min: 1, message: t('channels.toRequired') }]}>
              <Select mode="tags" tokenSeparators={[',', ' ']} placeholder="ops@example.com" open={false} suffixIcon={null} />
            </Form.Item>
          </>
        )}
        <Row gutter={12}>
          <Col span={12}>
            <Form.Item name="language" label={t('channels.language')}>
              <Select options={[{ value: 'en', label: 'English' }, { value: 'zh-CN', label: '简体中文' }]} />
            </Form.Item>
          </Col>
          <Col span={12}>
            <Form.Item name="enabled" label={t('channels.enabled')} valuePropName="checked">
              <Switch />
            </Form.Item>
          </Col>
        </Row>
      </Form>
    </Modal>
  );
}

/** A delivery's result: sent, or what the service said. */
function DeliveryResult({ d }: { d: Delivery }) {
  const t = useT();
  return d.ok ? (
    <Tag color="success">{t('channels.sent')}</Tag>
  ) : (
    <Space size={4}>
      <Tag color="error">{t('channels.notSent')}</Tag>
      <Typography.Text type="danger" ellipsis={{ tooltip: d.error }} style={{ maxWidth: 360 }}>
        {d.error}
      </Typography.Text>
    </Space>
  );
}

export function ChannelsCard() {
  const t = useT();
  const { message } = App.useApp();
  const channels = useAsync((signal) => api.listChannels(signal), []);
  const deliveries = useAsync((signal) => api.listDeliveries({ limit: 50 }, signal), []);
  const [editing, setEditing] = useState<Channel | 'new' | null>(null);
  const [testing, setTesting] = useState<string | null>(null);
  const names = new Map((channels.data ?? []).map((c) => [c.id, c.name]));
  const reload = () => {
    channels.reload(true);
    deliveries.reload(true);
  };
  const test = async (c: Channel) => {
    setTesting(c.id!);
    try {
      const d = await api.testChannel(c.id!);
      if (d.ok) message.success(t('channels.testSent', { name: c.name }));
      else message.error(t('channels.testFailed', { name: c.name, error: d.error ?? '' }), 8);
    } catch (e) {
      message.error(errorText(e));
    } finally {
      setTesting(null);
      deliveries.reload(true);
    }
  };
  const remove = async (c: Channel) => {
    try {
      await api.deleteChannel(c.id!);
      message.success(t('channels.deleted', { name: c.name }));
      reload();
    } catch (e) {
      message.error(errorText(e));
    }
  };
  const outcome = (o: AlertOn) => t(`alerts.on.${o}`);
  return (
    <Card
      title={<><NotificationOutlined /> {t('channels.title')}</>}
      extra={
        <Space>
          <Typography.Text type="secondary">{t('channels.help')}</Typography.Text>
          <Button type="primary" icon={<PlusOutlined />} onClick={() => setEditing('new')} data-testid="channel-add">
            {t('channels.add')}
          </Button>
        </Space>
      }
      style={{ marginTop: 16 }}
      data-testid="channels"
    >
      {channels.error ? <ErrorAlert error={channels.error} onRetry={() => channels.reload()} /> : null}
      <Table<Channel>
        rowKey={(c) => c.id!}
        size="small"
        loading={channels.loading}
        dataSource={channels.data ?? []}
        pagination={false}
        locale={{ emptyText: t('channels.none') }}
        columns={[
          { title: t('channels.name'), dataIndex: 'name', render: (v: string, c) => (c.enabled === false ? <Typography.Text type="secondary">{v} ({t('channels.off')})</Typography.Text> : v) },
          { title: t('channels.kind'), key: 'kind', width: 140, render: (_, c) => <Tag>{t(`channels.kind.${c.target.kind}`)}</Tag> },
          { title: t('channels.target'), key: 'target', ellipsis: true, render: (_, c) => <Typography.Text code>{targetSummary(c)}</Typography.Text> },
          { title: t('channels.language'), dataIndex: 'language', width: 100, render: (v: string) => (v === 'zh-CN' ? '简体中文' : 'English') },
          {
            title: '',
            key: 'actions',
            width: 250,
            render: (_, c) => (
              <Space size={4}>
                <Button size="small" icon={<SendOutlined />} loading={testing === c.id} onClick={() => test(c)} data-testid={`channel-test-${c.id}`}>
                  {t('channels.test')}
                </Button>
                <Button size="small" icon={<EditOutlined />} onClick={() => setEditing(c)} aria-label={t('common.edit')} />
                <Popconfirm title={t('channels.deleteConfirm', { name: c.name })} okText={t('common.delete')} okButtonProps={{ danger: true }} cancelText={t('common.cancel')} onConfirm={() => remove(c)}>
                  <Button size="small" danger icon={<DeleteOutlined />} aria-label={t('common.delete')} />
                </Popconfirm>
              </Space>
            ),
          },
        ]}
      />
      <Flex justify="space-between" align="center" style={{ margin: '20px 0 8px' }}>
        <Typography.Title level={5} style={{ margin: 0 }}>
          {t('channels.deliveries')}
        </Typography.Title>
        <Button size="small" icon={<ReloadOutlined />} onClick={() => deliveries.reload(true)}>
          {t('common.refresh')}
        </Button>
      </Flex>
      <Table<Delivery>
        rowKey="id"
        size="small"
        data-testid="deliveries"
        loading={deliveries.loading}
        dataSource={deliveries.data ?? []}
        pagination={{ pageSize: 10, hideOnSinglePage: true }}
        locale={{ emptyText: t('channels.noDeliveries') }}
        columns={[
          { title: t('channels.when'), dataIndex: 'at', width: 180, render: (v: string) => <Tooltip title={fromNow(v)}>{formatDateTime(v)}</Tooltip> },
          { title: t('channels.channel'), dataIndex: 'channel', width: 160, render: (v: string) => names.get(v) ?? v },
          { title: t('channels.about'), key: 'about', width: 220, render: (_, d) => (d.job_id ? `${d.job_id}${d.run_id != null ? ` · #${d.run_id}` : ''}` : '—') },
          { title: t('channels.outcome'), dataIndex: 'outcome', width: 130, render: (v: AlertOn) => outcome(v) },
          { title: t('channels.attempt'), dataIndex: 'attempt', width: 80 },
          { title: t('channels.result'), key: 'result', render: (_, d) => <DeliveryResult d={d} /> },
        ]}
      />
      <ChannelEditor
        open={editing !== null}
        channel={editing && editing !== 'new' ? editing : undefined}
        onClose={() => setEditing(null)}
        onSaved={() => {
          setEditing(null);
          reload();
        }}
      />
    </Card>
  );
}
