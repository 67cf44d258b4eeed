// A warning across the top of the app while the answering node's clock is too far from the
// database's: that node claims no fires until it is fixed.

import { useNavigate } from 'react-router-dom';
import { Alert, Button } from 'antd';
import { api } from '../api';
import { useT } from '../state/prefs';
import { useAsync, useLiveEvents, useThrottled, useVisibleInterval } from '../util/hooks';
import { skewSeconds } from '../util/nodes';

/** The node re-checks its clock at every heartbeat; this looks that often-ish. */
const POLL_MS = 10000;

export function ClockSkewBanner() {
  const t = useT();
  const navigate = useNavigate();
  // A failure here is someone else's to report (the screens show API errors).
  const status = useAsync(() => api.scheduler().catch(() => undefined), []);
  useVisibleInterval(() => status.reload(true), POLL_MS);
  const refresh = useThrottled(() => status.reload(true), 1000);
  useLiveEvents((e) => {
    if (e.type === 'clock_jumped' || e.type.startsWith('scheduler_')) refresh();
  });

  const s = status.data;
  if (!s?.clock_skewed) return null;
  return (
    <Alert
      banner
      type="error"
      data-testid="clock-skew-banner"
      message={t('skew.banner', { s: skewSeconds(s.clock_skew_ms) })}
      description={s.node ? t('skew.bannerNode', { node: s.node }) : undefined}
      action={
        <Button size="small" onClick={() => navigate('/nodes')}>
          {t('skew.open')}
        </Button>
      }
    />
  );
}
