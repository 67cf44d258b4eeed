// Shown without a token, or when the server refuses the one we have: how to get the admin URL,
// and a field to paste a token (or the whole URL).

import { useState } from 'react';
import { Alert, Button, Card, Flex, Form, Input, Segmented, Steps, Typography, theme } from 'antd';
import { KeyOutlined, LoginOutlined } from '@ant-design/icons';
import { ApiError, KairosClient } from '../api/client';
import { pickTransport } from '../api/transport';
import { setToken, tokenFromInput, type AuthState } from '../state/auth';
import { usePrefs } from '../state/prefs';
import { Logo } from '../components/Logo';

export function TokenPage({ state }: { state: AuthState }) {
  const { t, lang, setLang } = usePrefs();
  const { token: design } = theme.useToken();
  const [value, setValue] = useState('');
  const [checking, setChecking] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const connect = async () => {
    const token = tokenFromInput(value);
    if (!token) {
      setError(t('token.empty'));
      return;
    }
    setChecking(true);
    setError(null);
    try {
      // Check it before keeping it.
      const probe = new KairosClient({ transport: pickTransport(), getToken: () => token });
      await probe.scheduler();
      setToken(token);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setError(t('token.refused'));
      else if (e instanceof ApiError && e.isNetwork) setError(t('error.network'));
      else setError(e instanceof Error ? e.message : String(e));
    } finally {
      setChecking(false);
    }
  };

  const code = { fontFamily: design.fontFamilyCode, fontSize: 13 };
  return (
    <Flex justify="center" align="center" style={{ minHeight: '100vh', padding: 24, background: design.colorBgLayout }} data-testid="token-page">
      <Card style={{ width: 620, maxWidth: '100%' }} styles={{ body: { padding: 32 } }}>
        <Flex justify="space-between" align="center" style={{ marginBottom: 8 }}>
          <Logo size={36} />
          <Segmented
            size="small"
            value={lang}
            onChange={(v) => setLang(v as 'en' | 'zh')}
            options={[
              { value: 'en', label: 'EN' },
              { value: 'zh', label: '中文' },
            ]}
          />
        </Flex>
        <Typography.Title level={3} style={{ marginTop: 16 }}>
          {t('token.title')}
        </Typography.Title>
        <Typography.Paragraph type="secondary">{t('token.intro')}</Typography.Paragraph>
        {state === 'rejected' && <Alert type="warning" showIcon message={t('token.rejected')} style={{ marginBottom: 16 }} />}
        <Steps
          direction="vertical"
          size="small"
          current={-1}
          items={[
            {
              title: t('token.step1'),
              description: (
                <Typography.Paragraph copyable={{ text: 'kairos serve' }} style={{ marginBottom: 0 }}>
                  <Typography.Text code style={code}>kairos serve</Typography.Text>
                </Typography.Paragraph>
              ),
            },
            {
              title: t('token.step2'),
              description: (
                <Typography.Text type="secondary" style={code}>
                  {/* This server's own address (the desktop's kairos:// shows the default). */}
                  {`${/^https?:$/.test(window.location.protocol) ? window.location.origin : 'http://127.0.0.1:7878'}/?token=3f9c…`}
                </Typography.Text>
              ),
            },
            {
              title: t('token.step3'),
              description: (
                <Typography.Text type="secondary">
                  {t('token.step3Help')} <Typography.Text code style={code}>~/.local/share/kairos/token</Typography.Text>
                </Typography.Text>
              ),
            },
          ]}
        />
        <Form layout="vertical" onFinish={connect} style={{ marginTop: 8 }}>
          <Form.Item label={t('token.label')} validateStatus={error ? 'error' : undefined} help={error ?? undefined}>
            <Input.Password
              prefix={<KeyOutlined />}
              value={value}
              onChange={(e) => setValue(e.target.value)}
              placeholder={t('token.placeholder')}
              autoFocus
              data-testid="token-input"
            />
          </Form.Item>
          <Button type="primary" htmlType="submit" icon={<LoginOutlined />} loading={checking} block size="large">
            {t('token.connect')}
          </Button>
        </Form>
      </Card>
    </Flex>
  );
}
