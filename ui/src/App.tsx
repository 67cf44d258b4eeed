import { useEffect, useState } from 'react';
import { BrowserRouter, Link, Navigate, Route, Routes, useLocation, useNavigate } from 'react-router-dom';
import { App as AntApp, Button, ConfigProvider, Dropdown, Flex, Layout, Menu, Result, Tooltip, theme } from 'antd';
import enUS from 'antd/locale/en_US';
import zhCN from 'antd/locale/zh_CN';
import {
  BellOutlined,
  ClusterOutlined,
  DashboardOutlined,
  DesktopOutlined,
  MenuFoldOutlined,
  MenuUnfoldOutlined,
  MoonOutlined,
  HistoryOutlined,
  ProfileOutlined,
  SettingOutlined,
  SunOutlined,
  TranslationOutlined,
} from '@ant-design/icons';
import { api } from './api';
import { ClockSkewBanner } from './components/ClockSkewBanner';
import { Logo } from './components/Logo';
import { startEventLog, stopEventLog } from './state/eventLog';
import { useAuth } from './state/auth';
import { PrefsProvider, usePrefs, type ThemePref } from './state/prefs';
import { DashboardPage } from './pages/Dashboard';
import { EventsPage, StreamBadge } from './pages/Events';
import { RunsPage } from './pages/Runs';
import { JobDetailPage } from './pages/JobDetail';
import { JobEditorPage } from './pages/JobEditor';
import { JobsPage } from './pages/Jobs';
import { NodesPage } from './pages/Nodes';
import { SettingsPage } from './pages/Settings';
import { TokenPage } from './pages/TokenPage';

const COLLAPSE_KEY = 'kairos.sider';

function NotFound() {
  const { t } = usePrefs();
  const navigate = useNavigate();
  return (
    <Result status="404" title="404" subTitle={t('common.notFound')} extra={<Button onClick={() => navigate('/')}>{t('nav.dashboard')}</Button>} />
  );
}

function Shell() {
  const { t, lang, setLang, theme: themePref, setTheme } = usePrefs();
  const { token } = theme.useToken();
  const location = useLocation();
  const [collapsed, setCollapsed] = useState(() => localStorage.getItem(COLLAPSE_KEY) === '1');

  useEffect(() => {
    startEventLog();
    return () => stopEventLog();
  }, []);

  const section = location.pathname.split('/')[1] || 'dashboard';
  useEffect(() => {
    const titles: Record<string, string> = { dashboard: t('nav.dashboard'), jobs: t('nav.jobs'), runs: t('nav.runs'), events: t('nav.events'), nodes: t('nav.nodes'), settings: t('nav.settings') };
    if (!/^\/jobs\/./.test(location.pathname)) document.title = `${titles[section] ?? ''} · Kairos`;
  }, [section, location.pathname, t]);

  const themeIcon = themePref === 'dark' ? <MoonOutlined /> : themePref === 'light' ? <SunOutlined /> : <DesktopOutlined />;
  return (
    <Layout style={{ minHeight: '100vh' }}>
      <Layout.Sider
        collapsible
        collapsed={collapsed}
        onCollapse={(c) => {
          setCollapsed(c);
          localStorage.setItem(COLLAPSE_KEY, c ? '1' : '0');
        }}
        trigger={null}
        width={220}
        theme="light"
        style={{ borderInlineEnd: `1px solid ${token.colorBorderSecondary}` }}
      >
        <div style={{ position: 'sticky', top: 0 }}>
        <Flex align="center" style={{ height: 64, paddingInline: collapsed ? 22 : 24 }}>
          <Logo collapsed={collapsed} />
        </Flex>
        <Menu
          mode="inline"
          selectedKeys={[section]}
          style={{ borderInlineEnd: 0 }}
          // Real links: middle-click, "open in new tab" and the status bar's URL all work.
          items={[
            { key: 'dashboard', icon: <DashboardOutlined />, label: <Link to="/">{t('nav.dashboard')}</Link> },
            { key: 'jobs', icon: <ProfileOutlined />, label: <Link to="/jobs">{t('nav.jobs')}</Link> },
            { key: 'runs', icon: <HistoryOutlined />, label: <Link to="/runs">{t('nav.runs')}</Link> },
            { key: 'events', icon: <BellOutlined />, label: <Link to="/events">{t('nav.events')}</Link> },
            { key: 'nodes', icon: <ClusterOutlined />, label: <Link to="/nodes">{t('nav.nodes')}</Link> },
            { key: 'settings', icon: <SettingOutlined />, label: <Link to="/settings">{t('nav.settings')}</Link> },
          ]}
          data-testid="nav"
        />
        </div>
      </Layout.Sider>
      <Layout>
        <Layout.Header
          style={{
            position: 'sticky',
            top: 0,
            zIndex: 10,
            height: 56,
            lineHeight: '56px',
            paddingInline: 16,
            background: token.colorBgContainer,
            borderBottom: `1px solid ${token.colorBorderSecondary}`,
          }}
        >
          <Flex justify="space-between" align="center" style={{ height: '100%' }}>
            <Button
              type="text"
              icon={collapsed ? <MenuUnfoldOutlined /> : <MenuFoldOutlined />}
              onClick={() => {
                setCollapsed(!collapsed);
                localStorage.setItem(COLLAPSE_KEY, collapsed ? '0' : '1');
              }}
              aria-label={t('nav.toggle')}
            />
            <Flex align="center" gap={8}>
              <Tooltip title={t('stream.help')}>
                <span style={{ marginInlineEnd: 8 }}>
                  <StreamBadge />
                </span>
              </Tooltip>
              <Dropdown
                menu={{
                  selectedKeys: [lang],
                  items: [
                    { key: 'en', label: 'English' },
                    { key: 'zh', label: '简体中文' },
                  ],
                  onClick: ({ key }) => setLang(key as 'en' | 'zh'),
                }}
              >
                <Button type="text" icon={<TranslationOutlined />} data-testid="header-language">
                  {lang === 'zh' ? '中文' : 'EN'}
                </Button>
              </Dropdown>
              <Dropdown
                menu={{
                  selectedKeys: [themePref],
                  items: [
                    { key: 'light', icon: <SunOutlined />, label: t('settings.themeLight') },
                    { key: 'dark', icon: <MoonOutlined />, label: t('settings.themeDark') },
                    { key: 'system', icon: <DesktopOutlined />, label: t('settings.themeSystem') },
                  ],
                  onClick: ({ key }) => setTheme(key as ThemePref),
                }}
              >
                <Button type="text" icon={themeIcon} aria-label={t('settings.theme')} />
              </Dropdown>
            </Flex>
          </Flex>
        </Layout.Header>
        <ClockSkewBanner />
        <Layout.Content style={{ padding: 24, maxWidth: 1600, width: '100%', margin: '0 auto' }}>
          <Routes>
            <Route path="/" element={<DashboardPage />} />
            <Route path="/dashboard" element={<Navigate to="/" replace />} />
            <Route path="/jobs" element={<JobsPage />} />
            <Route path="/jobs/new" element={<JobEditorPage />} />
            <Route path="/jobs/:id/edit" element={<JobEditorPage />} />
            <Route path="/jobs/:id" element={<JobDetailPage />} />
            <Route path="/runs" element={<RunsPage />} />
            <Route path="/events" element={<EventsPage />} />
            <Route path="/nodes" element={<NodesPage />} />
            <Route path="/settings" element={<SettingsPage />} />
            <Route path="*" element={<NotFound />} />
          </Routes>
        </Layout.Content>
      </Layout>
    </Layout>
  );
}

function Gate() {
  const auth = useAuth();
  useEffect(() => {
    if (auth === 'present') api.restartStream();
  }, [auth]);
  if (auth !== 'present') return <TokenPage state={auth} />;
  return (
    <BrowserRouter>
      <Shell />
    </BrowserRouter>
  );
}

function Themed() {
  const { lang, dark } = usePrefs();
  return (
    <ConfigProvider
      locale={lang === 'zh' ? zhCN : enUS}
      theme={{
        algorithm: dark ? theme.darkAlgorithm : theme.defaultAlgorithm,
        token: { colorPrimary: '#1668dc', borderRadius: 8 },
        components: { Layout: { siderBg: dark ? '#141414' : '#fff' } },
      }}
    >
      <AntApp>
        <Gate />
      </AntApp>
    </ConfigProvider>
  );
}

export function App() {
  return (
    <PrefsProvider>
      <Themed />
    </PrefsProvider>
  );
}
