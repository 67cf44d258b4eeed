// The next fire times of a cron expression, always computed by the engine.

import { Empty, Flex, List, Spin, Typography, theme } from 'antd';
import { CalendarOutlined } from '@ant-design/icons';
import { api } from '../api';
import type { ApiError } from '../api/client';
import { dayjs } from '../util/format';
import { useEngineCheck } from '../util/hooks';
import { useT } from '../state/prefs';

interface Props {
  expression: string;
  timezone: string;
  /** The server's verdict on `input`: null when the expression and zone are fine. */
  onResult?: (error: ApiError | null, input: { expression: string; timezone: string }) => void;
}

/** Fire times as the engine gave them (RFC 3339 with the zone's offset), numbered, with the
 * weekday in `zone` and how far away each is. */
export function FireTimes({ list, zone, testId }: { list: string[]; zone: string; testId: string }) {
  const { token } = theme.useToken();
  return (
    <List
      size="small"
      bordered
      data-testid={testId}
      dataSource={list}
      renderItem={(time, i) => {
        const d = dayjs(time);
        return (
          <List.Item style={{ padding: '4px 12px' }}>
            <Flex justify="space-between" style={{ width: '100%' }} gap={12}>
              <span>
                <Typography.Text type="secondary" style={{ display: 'inline-block', width: 24 }}>
                  {i + 1}.
                </Typography.Text>
                <Typography.Text style={{ fontFamily: token.fontFamilyCode }}>
                  {time.slice(0, 10)} {time.slice(11, time.slice(17, 19) === '00' ? 16 : 19)}
                </Typography.Text>{' '}
                <Typography.Text type="secondary">{d.tz(zone).format('ddd')}</Typography.Text>
              </span>
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {d.fromNow()}
              </Typography.Text>
            </Flex>
          </List.Item>
        );
      }}
    />
  );
}

export function CronPreview({ expression, timezone, onResult }: Props) {
  const t = useT();
  const trimmed = expression.trim();
  const zone = timezone || 'UTC';
  const { answer, error, loading } = useEngineCheck(
    trimmed ? { expression: trimmed, timezone } : null,
    (input, signal) => api.cronPreview({ expression: input.expression, timezone: input.timezone || 'UTC', count: 10 }, signal),
    onResult,
  );
  const times = answer && { list: answer.value, zone: answer.request.timezone || 'UTC' };

  return (
    <Spin spinning={loading} delay={200}>
      <Flex vertical gap={8}>
        <Typography.Text type="secondary">
          <CalendarOutlined /> {t('cron.nextTimes', { zone: times?.zone ?? zone })}
        </Typography.Text>
        {times && times.list.length > 0 ? (
          <FireTimes list={times.list} zone={times.zone} testId="cron-preview" />
        ) : error ? (
          // The error itself shows on the field it is about.
          <Typography.Text type="secondary" data-testid="cron-preview-error">
            {t('cron.noPreview')}
          </Typography.Text>
        ) : times ? (
          <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('cron.never')} />
        ) : null}
      </Flex>
    </Spin>
  );
}
