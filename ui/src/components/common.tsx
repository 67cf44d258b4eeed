import { Alert, Flex, Typography } from 'antd';
import type { ReactNode } from 'react';
import { ApiError } from '../api/client';
import { useT } from '../state/prefs';

/** A page's title row: title, optional subtitle, and actions on the right. */
export function PageHeader({ title, subtitle, extra }: { title: ReactNode; subtitle?: ReactNode; extra?: ReactNode }) {
  return (
    <Flex justify="space-between" align="center" wrap="wrap" gap={12} style={{ marginBottom: 16 }}>
      <div style={{ minWidth: 0 }}>
        <Typography.Title level={3} style={{ margin: 0 }}>
          {title}
        </Typography.Title>
        {subtitle && (
          <Typography.Text type="secondary" style={{ display: 'block', marginTop: 2 }}>
            {subtitle}
          </Typography.Text>
        )}
      </div>
      {extra && (
        <Flex gap={8} wrap="wrap">
          {extra}
        </Flex>
      )}
    </Flex>
  );
}

/** An API failure, said plainly. */
export function ErrorAlert({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const t = useT();
  const message =
    error instanceof ApiError && error.isNetwork
      ? t('error.network')
      : error instanceof Error
        ? error.message
        : String(error);
  return (
    <Alert
      type="error"
      showIcon
      message={t('error.title')}
      description={message}
      action={
        onRetry && (
          <Typography.Link onClick={onRetry} style={{ whiteSpace: 'nowrap' }}>
            {t('common.retry')}
          </Typography.Link>
        )
      }
      style={{ marginBottom: 16 }}
    />
  );
}

/** The message of an error, for toasts. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.field ? `${error.field}: ${error.message}` : error.message;
  return error instanceof Error ? error.message : String(error);
}
