// Nodes in the web admin, in real Chromium against real `kairos serve` processes sharing one
// temporary database: the Nodes screen, the dashboard's cluster card, the node on each run, a
// second node with a label that crashes mid-run, node labels in the job editor, and the clock
// skew banner. Run from ui/: `npm run e2e`.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe } from 'node:test';
import { apiOf, launchBrowser, SCREENSHOTS, startKairos, startStack, uiTest as harnessUiTest, WAIT, waitText } from './harness.mjs';

const VIEWPORT = { width: 1440, height: 900 };

let stack;
let chrome;
let context;
let page;
/** The node answering the browser (the stack's kairos), and a second one started later. */
let thisNode;
let second;
let secondNode;
let pinnedRun;
const pageErrors = [];

async function shot(name, fullPage = false) {
  // The live-updates badge settles on "Live" (or its translation) shortly after a page load.
  await page.waitForFunction(() => document.querySelector('[data-testid="stream-status"] .ant-badge-status-success'), null, WAIT).catch(() => undefined);
  await page.waitForFunction(() => !document.querySelector('.ant-spin-spinning, .ant-skeleton-active'), null, WAIT).catch(() => undefined);
  await page.waitForTimeout(500);
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage });
}

/** Polls `fn` until it returns something truthy. */
async function until(fn, what) {
  const deadline = Date.now() + WAIT.timeout;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function nodeRow(id) {
  return page.locator(`[data-testid="node-table"] tr.ant-table-row[data-row-key="${id}"]`);
}

/** A test that saves a screenshot of the page when it fails. */
const uiTest = (name, fn) => harnessUiTest(name, fn, { page: () => page, prefix: 'nodes-' });

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  stack = await startStack();
  chrome = await launchBrowser();
  await stack.api('POST', '/api/jobs', {
    id: 'hello',
    name: 'Say hello',
    trigger: { type: 'cron', expression: '0 3 * * *', timezone: 'UTC' },
    action: { kind: 'shell', command: 'echo "hello from a node"' },
  });
  await stack.api('POST', '/api/jobs', {
    id: 'render',
    name: 'Render frames',
    tags: ['gpu'],
    node_labels: ['gpu'],
    trigger: { type: 'cron', expression: '0 4 * * *', timezone: 'UTC' },
    action: { kind: 'shell', command: 'echo rendering; sleep 20' },
  });
  context = await chrome.browser.newContext({ viewport: VIEWPORT, timezoneId: 'UTC', locale: 'en-US' });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(stack.tokenUrl);
  await page.getByTestId('nav').waitFor(WAIT);
});

after(async () => {
  await context?.close();
  await chrome?.close();
  await second?.stop();
  await stack?.stop();
});

describe('nodes', () => {
  uiTest('the Nodes screen shows this one node, alive, with its pid', async () => {
    const api = await stack.api('GET', '/api/nodes');
    assert.equal(api.items.length, 1);
    thisNode = api.items[0];
    assert.equal(thisNode.pid, stack.kairos.pid);
    assert.equal((await stack.api('GET', '/api/scheduler')).node, thisNode.id);

    await page.getByTestId('nav').getByText('Nodes').click();
    await page.waitForURL(/\/nodes$/, WAIT);
    await waitText(page.getByTestId('nodes-summary'), /^1 alive · lease 8 s, heartbeat every 2 s$/);
    assert.match(await page.getByTestId('nodes-intro').textContent(), /every fire runs exactly once/);
    const rows = page.locator('[data-testid="node-table"] tr.ant-table-row');
    assert.equal(await rows.count(), 1);
    const row = nodeRow(thisNode.id);
    assert.equal(await row.getByTestId('node-id').textContent(), thisNode.id);
    await row.getByTestId('this-node').waitFor(WAIT);
    assert.equal(await row.getByTestId('node-pid').textContent(), String(stack.kairos.pid));
    await row.locator('[data-node-state="alive"]').waitFor(WAIT);
    assert.match(await row.getByTestId('node-heartbeat').textContent(), /^(just now|\d s ago)$/);
    assert.equal(await page.title(), 'Nodes · Kairos');
  });

  uiTest('the dashboard counts the nodes alive and links to them', async () => {
    await page.goto(`${stack.uiOrigin}/`);
    const card = page.getByTestId('stat-nodes');
    await waitText(card, /Nodes alive\s*1$/);
    await card.click();
    await page.waitForURL(/\/nodes$/, WAIT);
  });

  uiTest('run now: the run names the node that ran it and is marked manual', async () => {
    await page.goto(`${stack.uiOrigin}/jobs/hello`);
    await page.getByTestId('detail-run-now').click();
    const viewer = page.locator('.ant-drawer-content');
    await waitText(viewer.getByTestId('run-output'), /hello from a node/);
    assert.equal(await viewer.getByTestId('run-node').getAttribute('data-node'), thisNode.id);
    assert.equal(await viewer.getByTestId('run-node').textContent(), thisNode.id);
    assert.equal(await viewer.getByTestId('run-started-by').textContent(), 'Run now (manual)');
    await viewer.getByTestId('manual-run').waitFor(WAIT);
    await shot('run-node');
    await page.locator('.ant-drawer-close').click();
    await page.locator('.ant-drawer-content').waitFor({ state: 'hidden', ...WAIT });

    const row = page.locator('[data-testid="run-history"] tr.ant-table-row').first();
    await waitText(row, /Succeeded/);
    await row.getByTestId('manual-run').waitFor(WAIT);
    assert.equal(await row.getByTestId('run-node').textContent(), thisNode.id);
    // The node links to its row on the Nodes screen (and does not open the run).
    await row.getByTestId('run-node').click();
    await page.waitForURL((u) => u.pathname === '/nodes' && u.searchParams.get('node') === thisNode.id, WAIT);
    await nodeRow(thisNode.id).and(page.locator('.kairos-row-focus')).waitFor(WAIT);
  });

  uiTest('a second node with a label runs the pinned job; when it crashes, its run is abandoned', async () => {
    second = await startKairos({ db: stack.kairos.db, labels: ['gpu'] });
    const secondApi = apiOf(second);
    secondNode = await until(async () => (await stack.api('GET', '/api/nodes')).items.find((n) => n.pid === second.pid), 'the second node');
    assert.deepEqual(secondNode.labels, ['gpu']);
    assert.equal(secondNode.this, false);

    // "Run now" on the second node: the run is its own.
    const runId = (await secondApi('POST', '/api/jobs/render/run')).run_id;
    pinnedRun = await until(async () => {
      const r = await stack.api('GET', `/api/runs/${runId}`);
      return r.state === 'running' && r;
    }, 'the pinned run to start');
    assert.equal(pinnedRun.node, secondNode.id);

    await page.goto(`${stack.uiOrigin}/nodes`);
    await waitText(page.getByTestId('nodes-summary'), /^2 alive · lease 8 s/);
    const row = nodeRow(secondNode.id);
    await row.locator('[data-node-state="alive"]').waitFor(WAIT);
    assert.equal(await row.getByTestId('this-node').count(), 0);
    assert.equal(await row.getByTestId('node-pid').textContent(), String(second.pid));
    assert.match(await row.textContent(), /gpu/);
    // The list refreshes by itself: the running run appears in the last column.
    await waitText(row.locator('td').last(), /^1$/);
    await shot('nodes');

    await second.kill();
    // The first node notices (the pid is gone from this machine) and takes over.
    await row.locator('[data-node-state="gone"]').waitFor(WAIT);
    await waitText(page.getByTestId('nodes-summary'), /^1 alive · 1 gone · lease 8 s/);
    await until(async () => (await stack.api('GET', `/api/runs/${runId}`)).state === 'abandoned', 'the run to be abandoned');
    await shot('nodes-gone');

    await page.goto(`${stack.uiOrigin}/jobs/render?run=${runId}`);
    const viewer = page.locator('.ant-drawer-content');
    await waitText(viewer.getByTestId('run-abandoned'), /its node stopped while it was running/);
    assert.equal(await viewer.getByTestId('run-node').getAttribute('data-node'), secondNode.id);
    await viewer.getByTestId('manual-run').waitFor(WAIT);
    await shot('run-abandoned');
  });

  uiTest('the job editor pins a job to node labels, and unpins it', async () => {
    const labels = page.locator('.ant-form-item').filter({ hasText: 'Run only on nodes labelled' });
    // The pinned job reads back with its label.
    await page.goto(`${stack.uiOrigin}/jobs/render/edit`);
    await waitText(labels.locator('.ant-select-selection-item'), /^gpu$/);
    // The only node with "gpu" is gone: say nobody will run it.
    await labels.getByTestId('node-labels-unmatched').waitFor(WAIT);

    await page.goto(`${stack.uiOrigin}/jobs/hello/edit`);
    await labels.locator('.ant-select-selector').waitFor(WAIT);
    assert.equal(await labels.locator('.ant-select-selection-item').count(), 0);
    assert.equal(await labels.getByTestId('node-labels-unmatched').count(), 0);
    const search = labels.locator('input.ant-select-selection-search-input');
    await search.fill('gpu');
    await search.press('Enter');
    await search.press('Escape');
    await waitText(labels.locator('.ant-select-selection-item'), /^gpu$/);
    await labels.getByTestId('node-labels-unmatched').waitFor(WAIT);
    await labels.scrollIntoViewIfNeeded();
    await shot('editor-node-labels');
    await page.getByTestId('save-job').click();
    await page.waitForURL((u) => u.pathname === '/jobs/hello', WAIT);
    await waitText(page.getByTestId('detail-node-labels'), /^gpu$/);
    assert.deepEqual((await stack.api('GET', '/api/jobs/hello')).node_labels, ['gpu']);

    await page.goto(`${stack.uiOrigin}/jobs/hello/edit`);
    await waitText(labels.locator('.ant-select-selection-item'), /^gpu$/);
    await labels.locator('.ant-select-selection-item-remove').click();
    await page.getByTestId('save-job').click();
    await page.waitForURL((u) => u.pathname === '/jobs/hello', WAIT);
    await page.getByTestId('job-title').waitFor(WAIT);
    assert.equal(await page.getByTestId('detail-node-labels').count(), 0);
    assert.equal((await stack.api('GET', '/api/jobs/hello')).node_labels, undefined);
  });

  uiTest('the Nodes screen in 简体中文 and in the dark theme', async () => {
    await page.evaluate(() => localStorage.setItem('kairos.lang', 'zh'));
    await page.goto(`${stack.uiOrigin}/nodes`);
    await waitText(page.getByTestId('nodes-summary'), /^1 个在线 · 1 个已下线 · 租约 8 秒，每 2 秒心跳一次$/);
    await waitText(page.getByTestId('nav'), /节点/);
    await nodeRow(thisNode.id).getByText('当前节点').waitFor(WAIT);
    await shot('nodes-zh');

    await page.evaluate(() => {
      localStorage.setItem('kairos.lang', 'en');
      localStorage.setItem('kairos.theme', 'dark');
    });
    await page.goto(`${stack.uiOrigin}/nodes`);
    await waitText(page.getByTestId('nodes-summary'), /^1 alive · 1 gone/);
    const bg = await page.evaluate(() => getComputedStyle(document.querySelector('.ant-layout')).backgroundColor);
    assert.notEqual(bg, 'rgb(245, 245, 245)');
    await shot('nodes-dark');
    await page.goto(`${stack.uiOrigin}/`);
    await waitText(page.getByTestId('stat-nodes'), /Nodes alive\s*1$/);
    await shot('dashboard-cluster-dark');
    await page.evaluate(() => localStorage.setItem('kairos.theme', 'light'));
  });

  uiTest('a skewed clock puts a banner across the app', async () => {
    // The real clock agrees with the database: no banner.
    await page.goto(`${stack.uiOrigin}/nodes`);
    await page.getByTestId('nodes-summary').waitFor(WAIT);
    assert.equal(await page.getByTestId('clock-skew-banner').count(), 0);

    // The server as it answers when this machine's clock is 4.3 s off.
    await page.route('**/api/scheduler', async (route) => {
      const response = await route.fetch();
      const json = { ...(await response.json()), clock_skewed: true, clock_skew_ms: 4321 };
      await route.fulfill({ response, json });
    });
    await page.goto(`${stack.uiOrigin}/`);
    const banner = page.getByTestId('clock-skew-banner');
    await waitText(banner, /This machine’s clock is 4\.3 s away from the database’s; this node is not running jobs until it is fixed \(e\.g\. enable NTP\)/);
    assert.match(await banner.textContent(), new RegExp(thisNode.id));
    await shot('clock-skew');
    await page.evaluate(() => localStorage.setItem('kairos.lang', 'zh'));
    await page.reload();
    await waitText(page.getByTestId('clock-skew-banner'), /本机时钟与数据库的时钟相差 4\.3 秒/);
    await shot('clock-skew-zh');
    await banner.getByRole('button').click();
    await page.waitForURL(/\/nodes$/, WAIT);
    await page.unroute('**/api/scheduler');
    await page.evaluate(() => localStorage.setItem('kairos.lang', 'en'));
  });

  uiTest('saving the settings page keeps the cluster timing it does not show', async () => {
    const settings = await stack.api('GET', '/api/settings');
    await stack.api('PUT', '/api/settings', { ...settings, cluster: { ...settings.cluster, lease_s: 10 } });
    await page.goto(`${stack.uiOrigin}/settings`);
    await page.getByTestId('settings-form').waitFor(WAIT);
    await page.getByTestId('save-settings').click();
    await page.getByText('Settings saved and applied').waitFor(WAIT);
    assert.equal((await stack.api('GET', '/api/settings')).cluster.lease_s, 10);
    await page.goto(`${stack.uiOrigin}/nodes`);
    await waitText(page.getByTestId('nodes-summary'), /lease 10 s, heartbeat every 2 s$/);
    assert.deepEqual(pageErrors, []);
  });
});
