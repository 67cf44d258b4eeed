// Alert rules: which channels hear which outcomes of a job's runs (the job editor's Alerts
// card, and the defaults in Settings).

import { Button, Flex, Form, InputNumber, Select, Typography } from 'antd';
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { api } from '../api';
import type { AlertOn } from '../api/types';
import { useT } from '../state/prefs';
import { useAsync } from '../util/hooks';

const OUTCOMES: AlertOn[] = ['failed', 'timed_out', 'missed', 'skipped', 'abandoned', 'recovered', 'slow'];

/** A Form.List of rules under `name`: channel, outcomes and, for "ran long", the limit. */
export function AlertRules({ name, empty }: { name: string | (string | number)[]; empty: string }) {
  const t = useT();
  const channels = useAsync((signal) => api.listChannels(signal), []);
  const options = (channels.data ?? []).map((c) => ({ value: c.id!, label: c.name }));
  return (
    <Form.List name={name}>
      {(fields, { add, remove }) => (
        <Flex vertical gap={8} data-testid="alert-rules">
          {fields.length === 0 && <Typography.Text type="secondary">{empty}</Typography.Text>}
          {fields.map((field) => (
            <Flex key={field.key} gap={8} align="start" wrap="wrap">
              <Form.Item name={[field.name, 'channel']} rules={[{ required: true, message: t('alerts.pickChannel') }]} style={{ width: 220, marginBottom: 0 }}>
                <Select options={options} placeholder={t('alerts.channel')} data-testid={`alert-channel-${field.name}`} notFoundContent={t('alerts.noChannels')} />
              </Form.Item>
              <Form.Item name={[field.name, 'on']} rules={[{ required: true, type: 'array', min: 1, message: t('alerts.pickOutcome') }]} style={{ flex: 1, minWidth: 260, marginBottom: 0 }}>
                <Select mode="multiple" options={OUTCOMES.map((o) => ({ value: o, label: t(`alerts.on.${o}`) }))} placeholder={t('alerts.outcomes')} data-testid={`alert-on-${field.name}`} />
              </Form.Item>
              <Form.Item noStyle shouldUpdate>
                {({ getFieldValue }) =>
                  ((getFieldValue([...[name].flat(), field.name, 'on']) as AlertOn[] | undefined) ?? []).includes('slow') ? (
                    <Form.Item name={[field.name, 'longer_than_s']} rules={[{ required: true, message: t('alerts.longerThan') }]} style={{ width: 190, marginBottom: 0 }}>
                      <InputNumber min={1} addonBefore={t('alerts.longerThan')} addonAfter={t('unit.s')} style={{ width: '100%' }} />
                    </Form.Item>
                  ) : null
                }
              </Form.Item>
              <Button icon={<DeleteOutlined />} onClick={() => remove(field.name)} aria-label={t('common.remove')} />
            </Flex>
          ))}
          <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({ on: ['failed', 'timed_out'] })} style={{ alignSelf: 'start' }} data-testid="alert-add">
            {t('alerts.add')}
          </Button>
        </Flex>
      )}
    </Form.List>
  );
}
