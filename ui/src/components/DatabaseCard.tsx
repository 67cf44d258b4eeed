// The database Kairos runs on: which one, who chose it, and (in the desktop app) choosing
// another for the next start, checked by the server before it is kept.

import { useState } from 'react';
import { Alert, App, Button, Card, Descriptions, Flex, Form, Input, Skeleton, Space, Tag, Typography } from 'antd';
import { DatabaseOutlined, ReloadOutlined, SafetyCertificateOutlined, UndoOutlined } from '@ant-design/icons';
import { api } from '../api';
import { ApiError } from '../api/client';
import type { DatabaseInfo } from '../api/types';
import { sayProblem } from '../i18n/problems';
import { usePrefs } from '../state/prefs';
import { useAsync } from '../util/hooks';
import { ErrorAlert, errorText } from './common';

function Chooser({ info, onChosen }: { info: DatabaseInfo; onChosen: (info: DatabaseInfo) => void }) {
  const { t } = usePrefs();
  const { message } = App.useApp();
  const [location, setLocation] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<'check' | 'default' | null>(null);

  const choose = async (value: string | null) => {
    setBusy(value === null ? 'default' : 'check');
    setError(null);
    try {
      const next = await api.chooseDatabase(value);
      onChosen(next);
      setLocation('');
      message.success(next.next ? t('database.kept') : t('database.keptCurrent'));
    } catch (e) {
      if (e instanceof ApiError && e.field === 'location') setError(e.message);
      else message.error(errorText(e));
    } finally {
      setBusy(null);
    }
  };

  const atDefault = info.source === 'default' && !info.next && !info.problem;
  return (
    <Form layout="vertical" onFinish={() => void choose(location)} requiredMark={false}>
      <Form.Item
        label={t('database.new')}
        validateStatus={error ? 'error' : undefined}
        help={error ?? t('database.help')}
        style={{ marginBottom: 12 }}
      >
        <Input
          value={location}
          onChange={(e) => { setLocation(e.target.value); setError(null); }}
          placeholder={t('database.placeholder')}
          allowClear
          spellCheck={false}
          autoComplete="off"
          data-testid="database-location"
        />
      </Form.Item>
      <Space wrap>
        <Button
          type="primary"
          htmlType="submit"
          icon={<SafetyCertificateOutlined />}
          loading={busy === 'check'}
          disabled={!location.trim() || busy !== null}
          data-testid="database-choose"
        >
          {t('database.choose')}
        </Button>
        {!atDefault && (
          <Button icon={<UndoOutlined />} loading={busy === 'default'} disabled={busy !== null} onClick={() => void choose(null)}>
            {t('database.useDefault')}
          </Button>
        )}
      </Space>
    </Form>
  );
}

function Restart({ info }: { info: DatabaseInfo }) {
  const { t } = usePrefs();
  const { modal, message } = App.useApp();
  const [restarting, setRestarting] = useState(false);
  const restart = () =>
    modal.confirm({
      title: t('database.restartTitle'),
      content: t('database.restartBody'),
      okText: t('database.restart'),
      onOk: async () => {
        try {
          await api.restartOnDatabase();
          setRestarting(true);
        } catch (e) {
          message.error(errorText(e));
        }
      },
    });
  return (
    <Alert
      type="info"
      showIcon
      data-testid="database-next"
      message={t('database.next')}
      description={<Typography.Text code>{info.next}</Typography.Text>}
      action={
        <Button type="primary" size="small" icon={<ReloadOutlined />} loading={restarting} onClick={restart} data-testid="database-restart">
          {restarting ? t('database.restarting') : t('database.restart')}
        </Button>
      }
      style={{ marginBottom: 16 }}
    />
  );
}

/** The database card of the Settings screen. */
export function DatabaseCard() {
  const { t, lang } = usePrefs();
  const loaded = useAsync(() => api.getDatabase(), []);
  const [chosen, setChosen] = useState<DatabaseInfo | null>(null);
  const info = chosen ?? loaded.data;
  const sources: Record<DatabaseInfo['source'], string> = {
    command_line: t('database.fromCommandLine'),
    environment: t('database.fromEnvironment'),
    setting: t('database.fromSetting'),
    default: t('database.fromDefault'),
  };
  return (
    <Card title={<><DatabaseOutlined /> {t('database.title')}</>} data-testid="database-card">
      {loaded.error ? (
        <ErrorAlert error={loaded.error} onRetry={() => loaded.reload()} />
      ) : !info ? (
        <Skeleton active paragraph={{ rows: 3 }} />
      ) : (
        <Flex vertical gap={4}>
          {info.problem && (
            <Alert
              type="error"
              showIcon
              data-testid="database-problem"
              message={t('database.problem')}
              description={sayProblem(lang, info.problem_code, info.problem)}
              style={{ marginBottom: 16 }}
            />
          )}
          <Descriptions column={1} size="small" style={{ marginBottom: 12 }}>
            <Descriptions.Item label={t('database.inUse')}>
              <Space wrap>
                <Typography.Text code copyable data-testid="database-in-use">{info.location}</Typography.Text>
                <Tag color={info.kind === 'postgresql' ? 'purple' : 'blue'}>
                  {info.kind === 'postgresql' ? t('database.postgresql') : t('database.sqlite')}
                </Tag>
              </Space>
            </Descriptions.Item>
            <Descriptions.Item label={t('database.source')}>{sources[info.source]}</Descriptions.Item>
          </Descriptions>
          {info.next && info.changeable && <Restart info={info} />}
          {info.changeable ? (
            <Chooser info={info} onChosen={setChosen} />
          ) : (
            <Typography.Text type="secondary">
              {info.source === 'environment' ? t('database.fixedByEnvironment') : t('database.fixedByCommandLine')}
            </Typography.Text>
          )}
        </Flex>
      )}
    </Card>
  );
}
