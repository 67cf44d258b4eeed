// Any trigger's description and next fire times, computed by the engine as the user edits it:
// the same check cron expressions get, for intervals, dates, calendar intervals and JSON.

import { Empty, Flex, Spin, Typography } from 'antd';
import { CalendarOutlined } from '@ant-design/icons';
import { api } from '../api';
import type { ApiError } from '../api/client';
import type { Trigger } from '../api/types';
import { useEngineCheck } from '../util/hooks';
import { triggerSummary } from '../util/trigger';
import type { Lang, Translate } from '../i18n';
import { usePrefs } from '../state/prefs';
import { FireTimes } from './CronPreview';
import { errorText } from './common';

interface Props {
  /** The trigger the form holds, or why it cannot be read (e.g. JSON that does not parse). */
  draft: { trigger: Trigger } | { error: string } | null;
  /** The engine's verdict: null when the trigger is fine. */
  onResult?: (error: ApiError | null) => void;
}

/** The UI's description of a trigger the engine accepted; a shape it does not know reads as
 * its type rather than breaking the page. */
function describe(trigger: Trigger, t: Translate, lang: Lang): string {
  try {
    return triggerSummary(trigger, t, lang);
  } catch {
    return trigger.type;
  }
}

export function TriggerPreview({ draft, onResult }: Props) {
  const { t, lang } = usePrefs();
  const { answer, error, loading } = useEngineCheck(
    draft && !('error' in draft) ? draft.trigger : null,
    (trigger, signal) => api.triggerPreview({ trigger, count: 5 }, signal),
    (err) => onResult?.(err),
  );
  // A draft that cannot be read says why; the engine's refusal names its field.
  const said = draft && 'error' in draft ? draft.error : error && !error.isNetwork ? errorText(error) : null;
  const result = !said && answer;

  return (
    <Spin spinning={loading} delay={200}>
      <Flex vertical gap={8} data-testid="trigger-preview">
        {result && (
          <Typography.Text strong data-testid="trigger-description">
            {describe(answer.request, t, lang)}
          </Typography.Text>
        )}
        {said && (
          <Typography.Text type="danger" data-testid="trigger-preview-error">
            {said}
          </Typography.Text>
        )}
        {result && (
          <>
            <Typography.Text type="secondary">
              <CalendarOutlined /> {t('cron.nextTimes', { zone: answer.value.timezone })}
            </Typography.Text>
            {answer.value.times.length > 0 ? (
              <FireTimes list={answer.value.times} zone={answer.value.timezone} testId="trigger-times" />
            ) : (
              <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('cron.never')} />
            )}
          </>
        )}
      </Flex>
    </Spin>
  );
}
