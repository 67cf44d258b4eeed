// Any trigger's description and next fire times, computed by the engine as the user edits it:
// the same check cron expressions get, for intervals, dates, calendar intervals and JSON.

import { useEffect, useState } from 'react';
import { Empty, Flex, Spin, Typography } from 'antd';
import { CalendarOutlined } from '@ant-design/icons';
import { api } from '../api';
import { ApiError } from '../api/client';
import type { Trigger } from '../api/types';
import { useDebounced } from '../util/hooks';
import { triggerSummary } from '../util/trigger';
import type { Lang, Translate } from '../i18n';
import { usePrefs } from '../state/prefs';
import { FireTimes } from './CronPreview';

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
  const key = useDebounced(draft ? JSON.stringify(draft) : '', 300);
  /** The engine's answer, and the trigger it accepted (only that one is described). */
  const [result, setResult] = useState<{ times: string[]; zone: string; trigger: Trigger } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    const current = key ? (JSON.parse(key) as NonNullable<Props['draft']>) : null;
    if (!current || 'error' in current) {
      setResult(null);
      setError(current ? current.error : null);
      setLoading(false);
      return undefined;
    }
    const controller = new AbortController();
    setLoading(true);
    api.triggerPreview({ trigger: current.trigger, count: 5 }, controller.signal).then(
      (preview) => {
        if (controller.signal.aborted) return;
        setResult({ times: preview.times, zone: preview.timezone, trigger: current.trigger });
        setError(null);
        setLoading(false);
        onResult?.(null);
      },
      (e: unknown) => {
        if (controller.signal.aborted) return;
        const err = e instanceof ApiError ? e : new ApiError(0, null, String(e));
        setResult(null);
        setError(err.isNetwork ? null : err.field ? `${err.field}: ${err.message}` : err.message);
        setLoading(false);
        onResult?.(err);
      },
    );
    return () => controller.abort();
    // onResult is a callback prop; the request depends only on the trigger.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  return (
    <Spin spinning={loading} delay={200}>
      <Flex vertical gap={8} data-testid="trigger-preview">
        {result && !error && (
          <Typography.Text strong data-testid="trigger-description">
            {describe(result.trigger, t, lang)}
          </Typography.Text>
        )}
        {error && (
          <Typography.Text type="danger" data-testid="trigger-preview-error">
            {error}
          </Typography.Text>
        )}
        {result && !error && (
          <>
            <Typography.Text type="secondary">
              <CalendarOutlined /> {t('cron.nextTimes', { zone: result.zone })}
            </Typography.Text>
            {result.times.length > 0 ? (
              <FireTimes list={result.times} zone={result.zone} testId="trigger-times" />
            ) : (
              <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('cron.never')} />
            )}
          </>
        )}
      </Flex>
    </Spin>
  );
}
