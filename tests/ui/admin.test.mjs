// The web admin in real Chromium against a real `kairos serve` on a temporary database.
// Run from ui/: `npm run e2e` (builds the UI first). Needs /usr/bin/chromium (apt-get install
// chromium) and the kairos binary (KAIROS_BIN, default target/debug/kairos).

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { after, before, describe } from 'node:test';
import { launchBrowser, SCREENSHOTS, startStack, uiTest as harnessUiTest, WAIT, waitText } from './harness.mjs';

const VIEWPORT = { width: 1440, height: 900 };

let stack;
let chrome;
let context;
let page;
let jobId;
const pageErrors = [];

/** Saves a screenshot once spinners and entry animations have settled. */
async function shot(name, target = page, fullPage = false) {
  await target.waitForFunction(() => !document.querySelector('.ant-spin-spinning, .ant-skeleton-active'), null, WAIT).catch(() => undefined);
  if (fullPage) await target.evaluate(() => window.scrollTo(0, 0));
  await target.waitForTimeout(500);
  await target.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage });
}

/** A non-empty ECharts canvas inside `[data-chart=name]`. */
async function assertChart(name) {
  const canvas = page.locator(`[data-chart="${name}"] canvas`).first();
  await canvas.waitFor(WAIT);
  const box = await canvas.boundingBox();
  assert.ok(box && box.width > 50 && box.height > 50, `chart ${name} has no size: ${JSON.stringify(box)}`);
}

/** The form item (label + control + errors) whose label is `label`. */
function formItem(label) {
  return page.locator('.ant-form-item').filter({ has: page.locator('label', { hasText: label }) });
}

/** A test that saves a screenshot of the page when it fails. */
const uiTest = (name, fn) => harnessUiTest(name, fn, { page: () => page });

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  stack = await startStack();
  chrome = await launchBrowser();
  // Something to look at: a monitor sampling every second, a failing job, a paused one.
  await stack.api('POST', '/api/jobs', {
    id: 'monitor',
    name: 'System monitor',
    tags: ['ops'],
    trigger: { type: 'interval', seconds: 1 },
    action: { kind: 'monitor' },
  });
  await stack.api('POST', '/api/jobs', {
    id: 'flaky',
    name: 'Flaky report',
    tags: ['reports'],
    trigger: { type: 'cron', expression: '*/20 * * * *', timezone: 'UTC' },
    action: { kind: 'shell', command: 'echo "building report"; echo "disk full" >&2; exit 3' },
  });
  await stack.api('POST', '/api/jobs/flaky/run');
  await stack.api('POST', '/api/jobs', {
    id: 'backup',
    name: 'Nightly backup',
    tags: ['ops', 'backup'],
    paused: true,
    trigger: { type: 'cron', expression: '30 2 * * *', timezone: 'Europe/London' },
    action: { kind: 'shell', command: 'echo backing up' },
  });
  await stack.api('POST', '/api/jobs', {
    id: 'health',
    name: 'API health check',
    trigger: { type: 'interval', minutes: 5 },
    action: { kind: 'http', url: 'http://127.0.0.1:9/health' },
  });
});

after(async () => {
  await context?.close();
  await chrome?.close();
  await stack?.stop();
});

describe('web admin', () => {
  uiTest('without a token it explains how to connect, then takes a pasted one', async () => {
    const fresh = await chrome.browser.newContext({ viewport: VIEWPORT });
    const p = await fresh.newPage();
    await p.goto(`${stack.uiOrigin}/`);
    const card = p.getByTestId('token-page');
    await card.waitFor(WAIT);
    assert.match(await card.textContent(), /kairos serve/);
    assert.match(await card.textContent(), /token/);
    await shot('token', p);
    await p.getByTestId('token-input').fill('not-the-token');
    await p.getByRole('button', { name: /Connect/ }).click();
    await p.getByText(/refused this token/).waitFor(WAIT);
    // The whole printed URL works as well as the bare token.
    await p.getByTestId('token-input').fill(stack.tokenUrl);
    await p.getByRole('button', { name: /Connect/ }).click();
    await p.getByTestId('nav').waitFor(WAIT);
    await fresh.close();
  });

  uiTest('the printed token URL signs in and the token leaves the address bar', async () => {
    context = await chrome.browser.newContext({ viewport: VIEWPORT, timezoneId: 'UTC' });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) pageErrors.push(m.text());
    });
    await page.goto(stack.tokenUrl);
    await page.getByTestId('nav').waitFor(WAIT);
    assert.ok(!page.url().includes('token='), page.url());
    const stored = await page.evaluate(() => localStorage.getItem('kairos.token'));
    assert.equal(stored, stack.kairos.token);
    await page.getByTestId('stream-status').getByText('Live').waitFor(WAIT);
  });

  uiTest('creates a cron job: builder, description, preview, inline server error', async () => {
    await page.goto(`${stack.uiOrigin}/jobs`);
    await page.getByTestId('new-job').click();
    await page.getByTestId('job-editor').waitFor(WAIT);
    await page.getByTestId('job-name').fill('E2E greeter');
    await page.getByTestId('shell-command').fill('echo "hello from kairos"; echo "to stderr" >&2');

    // No schedule nobody chose: saving now takes the user to the trigger type, still unchosen.
    assert.equal(await page.getByTestId('trigger-mode').locator('.ant-radio-button-wrapper-checked').count(), 0);
    await page.getByTestId('save-job').click();
    await waitText(formItem('Trigger').locator('.ant-form-item-explain-error'), /Choose when the job runs/);
    assert.match(page.url(), /\/jobs\/new$/);
    await page.waitForFunction(() => {
      const r = document.querySelector('[data-testid="trigger-mode"]').getBoundingClientRect();
      return r.top >= 0 && r.bottom <= window.innerHeight;
    }, null, WAIT);
    // The header with Save stays in view while the form scrolls.
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await page.waitForFunction(() => window.scrollY > 200, null, WAIT);
    const box = await page.getByTestId('save-job').boundingBox();
    assert.ok(box && box.y >= 0 && box.y + box.height <= VIEWPORT.height, `Save stays in view: ${JSON.stringify(box)}`);
    await page.getByTestId('trigger-mode').getByText('Cron', { exact: true }).click();

    // A preset fills the expression; cronstrue describes it; the engine previews 10 times.
    await page.locator('[data-preset="weekdays0900"]').click();
    assert.equal(await page.getByTestId('cron-expression').inputValue(), '0 9 * * 1-5');
    await waitText(page.getByTestId('cron-description'), /At 09:00, Monday through Friday/);
    await page.getByTestId('cron-preview').locator('.ant-list-item').nth(9).waitFor(WAIT);
    assert.equal(await page.getByTestId('cron-preview').locator('.ant-list-item').count(), 10);

    // A wrong expression: the server's field error appears on the expression, inline.
    await page.getByTestId('cron-expression').fill('61 * * * *');
    const expressionItem = formItem('Cron expression');
    await waitText(expressionItem.locator('.ant-form-item-explain-error'), /61 is out of range/);
    await page.getByTestId('cron-invalid').waitFor(WAIT);
    await shot('editor-error');

    // Valid, but beyond the builder: it falls back to text ("advanced") and still previews.
    await page.getByTestId('cron-expression').fill('0 18 L * *');
    await page.getByTestId('cron-advanced').waitFor(WAIT);
    await waitText(page.getByTestId('cron-description'), /last day of the month/);
    await page.getByTestId('cron-preview').locator('.ant-list-item').nth(9).waitFor(WAIT);

    // Raw text → builder: a step, a range and a range of weekdays.
    await page.getByTestId('cron-expression').fill('*/30 9-17 * * 1-5');
    await waitText(page.getByTestId('cron-description'), /Every 30 minutes, between 09:00 and 17:59, Monday through Friday/);
    const minuteRow = page.locator('[data-cron-field="minute"]');
    assert.match(await minuteRow.locator('.ant-segmented-item-selected').textContent(), /Step/);
    await expressionItem.locator('.ant-form-item-explain-error').waitFor({ state: 'hidden', ...WAIT });
    // Builder → raw text: every hour.
    await page.locator('[data-cron-field="hour"] .ant-segmented-item', { hasText: 'Every' }).click();
    assert.equal(await page.getByTestId('cron-expression').inputValue(), '*/30 * * * 1-5');

    // A time zone from the searchable list.
    const zone = formItem('Time zone');
    await zone.locator('.ant-select-selector').click();
    await page.keyboard.type('Asia/Shang');
    await page.locator('.ant-select-item-option', { hasText: 'Asia/Shanghai' }).first().click();
    await waitText(page.getByText(/Next 10 fire times/), /Asia\/Shanghai/);
    await page.keyboard.press('Escape');
    await shot('editor', page, true);

    await page.getByTestId('save-job').click();
    await page.waitForURL((url) => /^\/jobs\/[^/]+$/.test(url.pathname) && url.pathname !== "/jobs/new", WAIT);
    jobId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
    await waitText(page.getByTestId('job-title'), /E2E greeter/);
    const saved = await stack.api('GET', `/api/jobs/${encodeURIComponent(jobId)}`);
    assert.deepEqual(saved.trigger, { type: 'cron', expression: '*/30 * * * 1-5', timezone: 'Asia/Shanghai' });
    assert.equal(saved.action.command, 'echo "hello from kairos"; echo "to stderr" >&2');
  });

  uiTest('a refusal on save lands on the field the server names', async () => {
    await page.goto(`${stack.uiOrigin}/jobs/new`);
    await page.getByTestId('job-name').fill('Never fires');
    await page.getByTestId('shell-command').fill('true');
    await page.getByTestId('trigger-mode').getByText('Advanced (JSON)').click();
    const json = formItem('Trigger JSON').locator('textarea');
    // Checked as it is typed: broken JSON, then the engine's verdict with the field's path.
    await json.fill('{"type": "interval"');
    await waitText(page.getByTestId('trigger-preview-error'), /JSON/);
    await json.fill('{"type": "interval"}');
    await waitText(page.getByTestId('trigger-preview-error'), /trigger\.seconds: the period is zero/);
    await page.getByTestId('save-job').click();
    await waitText(formItem('Trigger JSON').locator('.ant-form-item-explain-error'), /period is zero/);
    assert.match(page.url(), /\/jobs\/new$/);
    await json.fill('{"type": "or", "triggers": [{"type": "interval", "hours": 12}, {"type": "cron", "expression": "0 9 * * *"}]}');
    await waitText(page.getByTestId('trigger-description'), /Whenever any of 2 triggers fires/);
    await page.getByTestId('trigger-times').locator('.ant-list-item').nth(4).waitFor(WAIT);
  });

  uiTest('every trigger type describes itself and previews its next fire times', async () => {
    await page.goto(`${stack.uiOrigin}/jobs/new`);
    await page.getByTestId('job-editor').waitFor(WAIT);
    // Interval: nothing pre-filled, so "10 seconds" means 10 seconds.
    await page.getByTestId('trigger-mode').getByText('Interval', { exact: true }).click();
    for (const unit of ['weeks', 'days', 'hours', 'minutes', 'seconds']) {
      assert.equal(await page.locator(`input[id$="trigger_${unit}"]`).inputValue(), '', unit);
    }
    await page.locator('input[id$="trigger_seconds"]').fill('10');
    await waitText(page.getByTestId('trigger-description'), /^Every 10s$/);
    await page.getByTestId('trigger-times').locator('.ant-list-item').nth(4).waitFor(WAIT);
    await shot('editor-interval');
    // Calendar interval: every day from today at 09:00 until changed.
    await page.getByTestId('trigger-mode').getByText('Calendar', { exact: true }).click();
    await waitText(page.getByTestId('trigger-description'), /^Every 1 .* at 09:00$/i);
    // An unknown zone typed into the picker is said to be unknown and kept, not turned to UTC.
    const zone = formItem('Time zone');
    await zone.locator('.ant-select-selector').click();
    await page.keyboard.type('Mars/Olympus');
    await page.getByTestId('timezone-unknown').waitFor(WAIT);
    await page.keyboard.press('Enter');
    await waitText(zone.locator('.ant-select-selection-item'), /Mars\/Olympus/);
    await waitText(page.getByTestId('trigger-preview-error'), /trigger\.timezone: .*'Mars\/Olympus'/);
  });

  uiTest('run now: the run and its output appear in the history', async () => {
    await page.goto(`${stack.uiOrigin}/jobs/${encodeURIComponent(jobId)}`);
    await page.getByTestId('detail-run-now').click();
    const viewer = page.locator('.ant-drawer-content');
    await waitText(viewer.getByTestId('run-output'), /hello from kairos/);
    await viewer.locator('.ant-tag', { hasText: 'Succeeded' }).waitFor(WAIT);
    await shot('run-output');
    await viewer.getByRole('tab', { name: /Standard error/ }).click();
    await waitText(viewer.getByTestId('run-output').last(), /to stderr/);
    await page.locator('.ant-drawer-close').click();
    await page.locator('.ant-drawer-content').waitFor({ state: 'hidden', ...WAIT });
    const history = page.locator('.ant-table-row');
    await waitText(history, /Succeeded/);
    assert.match(await history.first().textContent(), /exit 0/);
    await assertChart('durations');
    await shot('job-detail', page, true);
  });

  uiTest('a failed run opens on what explains it: the error, the exit code, standard error', async () => {
    const job = await stack.api('POST', '/api/jobs', {
      id: 'e2e-fails', name: 'E2E fails', trigger: { type: 'interval', hours: 24 },
      action: { kind: 'shell', command: 'echo partial; echo "disk full" >&2; exit 3' },
    });
    await page.goto(`${stack.uiOrigin}/jobs/${encodeURIComponent(job.id)}`);
    await page.getByTestId('detail-run-now').click();
    const viewer = page.locator('.ant-drawer-content');
    await waitText(viewer.getByTestId('run-error'), /Failed with exit code 3/);
    await waitText(viewer.locator('.ant-tabs-tab-active'), /Standard error/);
    await waitText(viewer.getByTestId('run-output').last(), /disk full/);
    // The error sits above the run's details.
    const [error, details] = await Promise.all([
      viewer.getByTestId('run-error').boundingBox(),
      viewer.locator('.ant-descriptions').boundingBox(),
    ]);
    assert.ok(error.y < details.y, 'the error comes first');
    await shot('run-failed');
    await page.locator('.ant-drawer-close').click();
  });

  uiTest('run with parameters: variables and arguments reach the command; the run shows them and its resource use', async () => {
    const job = await stack.api('POST', '/api/jobs', {
      id: 'e2e-params', name: 'E2E params', trigger: { type: 'interval', hours: 24 },
      action: { kind: 'shell', command: 'echo "$1|$GREETING"; dd if=/dev/zero of=/dev/null bs=16M count=1 2>/dev/null' },
    });
    await page.goto(`${stack.uiOrigin}/jobs/${encodeURIComponent(job.id)}`);
    // No run has recorded its resource use yet: said, not an empty chart.
    await waitText(page.getByTestId('usage-chart'), /No run has recorded its resource use yet/);

    // GREETING=hello and $1 = world, in the modal.
    await page.getByTestId('detail-run-with-params').click();
    const modal = page.locator('.ant-modal-content');
    const env = page.getByTestId('params-env');
    await env.getByRole('button', { name: /Add/ }).click();
    await env.locator('input').nth(0).fill('GREETING');
    await env.locator('input').nth(1).fill('hello');
    const args = page.getByTestId('params-args');
    await args.getByRole('button', { name: /Add/ }).click();
    await args.locator('input').first().fill('world');
    await shot('run-params');
    await page.getByTestId('params-submit').click();
    await modal.waitFor({ state: 'hidden', ...WAIT });

    // The run opens, as with Run now: its output, its parameters and what it used.
    const viewer = page.locator('.ant-drawer-content');
    await viewer.locator('.ant-tag', { hasText: 'Succeeded' }).waitFor(WAIT);
    await waitText(viewer.getByTestId('run-output'), /world\|hello/);
    await waitText(viewer.getByTestId('run-params'), /GREETING=hello/);
    await waitText(viewer.getByTestId('run-params'), /\$1\s*world/);
    const usage = await waitText(viewer.getByTestId('run-usage'), /CPU .+ · peak memory [\d.]+ (KiB|MiB|GiB)/);
    assert.ok(Number(/peak memory ([\d.]+)/.exec(usage)[1]) > 0, usage);
    await shot('run-params-viewer');
    const [listed] = (await stack.api('GET', `/api/runs?job_id=${job.id}`)).items;
    const run = await stack.api('GET', `/api/runs/${listed.id}`);
    assert.deepEqual(run.params, { env: { GREETING: 'hello' }, args: ['world'] });
    assert.ok(run.usage.peak_rss_kib > 0, JSON.stringify(run.usage));
    await page.locator('.ant-drawer-close').click();
    await page.locator('.ant-drawer-content').waitFor({ state: 'hidden', ...WAIT });

    // The job's page charts the run's CPU time and peak memory.
    await assertChart('usage');
    await page.waitForTimeout(600); // let the chart's entry animation finish
    await page.getByTestId('usage-chart').screenshot({ path: `${SCREENSHOTS}/job-usage.png` });

    // A name the server refuses: its message shows on the variables, and the modal stays open.
    await page.getByTestId('detail-run-with-params').click();
    await env.getByRole('button', { name: /Add/ }).click();
    await env.locator('input').nth(0).fill('A=B');
    await env.locator('input').nth(1).fill('x');
    await page.getByTestId('params-submit').click();
    const explain = modal.locator('.ant-form-item-explain-error');
    await waitText(explain, /'A=B' is not a variable name/);
    assert.ok(await modal.isVisible(), 'the modal stays open');
    await shot('run-params-error');
    // Changing the variables takes the refusal away.
    await env.locator('input').nth(0).fill('A');
    await explain.first().waitFor({ state: 'hidden', ...WAIT });
    await modal.getByRole('button', { name: 'Cancel' }).click();
    await modal.waitFor({ state: 'hidden', ...WAIT });
    assert.equal((await stack.api('GET', `/api/runs?job_id=${job.id}`)).items.length, 1, 'the refusal ran nothing');
    await stack.api('DELETE', `/api/jobs/${job.id}`);
  });

  uiTest('a running run is cancelled from the history and from its viewer', async () => {
    const job = await stack.api('POST', '/api/jobs', {
      id: 'e2e-sleeper', name: 'E2E sleeper', trigger: { type: 'interval', hours: 24 },
      options: { max_instances: 2 },
      action: { kind: 'shell', command: 'echo started; sleep 300' },
    });
    await page.goto(`${stack.uiOrigin}/jobs/${encodeURIComponent(job.id)}`);
    const first = (await stack.api('POST', `/api/jobs/${job.id}/run`)).run_id;
    // From the history row: the icon asks first, then the run ends cancelled.
    const row = page.locator('.ant-table-row', { hasText: String(first) });
    await row.getByTestId(`cancel-run-${first}`).click();
    await shot('run-cancel-confirm');
    await page.locator('.ant-popconfirm').getByRole('button', { name: 'Cancel run' }).click();
    await waitText(page.locator('.ant-message'), new RegExp(`Cancel requested for run #${first}`));
    await waitText(row, /Cancelled/);
    // From the viewer of a second run.
    const second = (await stack.api('POST', `/api/jobs/${job.id}/run`)).run_id;
    await page.goto(`${stack.uiOrigin}/jobs/${encodeURIComponent(job.id)}?run=${second}`);
    const viewer = page.locator('.ant-drawer-content');
    // Its output so far shows while it runs.
    await waitText(viewer.getByTestId('run-output'), /^started\s*$/);
    await shot('run-live-output');
    // The drawer re-renders every second while the run is live; once (in CI) the confirm's
    // OK click came to nothing. Wait for the open confirm, and if the request is not
    // acknowledged, say so and ask once more rather than time out on the tag.
    const requested = page.locator('.ant-message', { hasText: `Cancel requested for run #${second}` });
    for (let attempt = 1; ; attempt++) {
      await viewer.getByTestId(`cancel-run-${second}`).click();
      const confirm = page.locator('.ant-popconfirm:not(.ant-popover-hidden)');
      await confirm.getByRole('button', { name: 'Cancel run' }).click();
      const acknowledged = await requested.waitFor({ timeout: 5000 }).then(() => true, () => false);
      if (acknowledged) break;
      await shot(`run-cancel-unacknowledged-${attempt}`);
      assert.ok(attempt < 2, 'the viewer acknowledges a confirmed cancel');
      console.log('# the confirm click was not acknowledged; asking again');
    }
    await viewer.locator('.ant-tag', { hasText: 'Cancelled' }).waitFor(WAIT);
    assert.equal(await viewer.getByTestId(`cancel-run-${second}`).count(), 0, 'no cancel for an ended run');
    const runs = await stack.api('GET', `/api/runs?job_id=${job.id}`);
    assert.deepEqual(runs.items.map((r) => r.state), ['cancelled', 'cancelled']);
    await page.locator('.ant-drawer-close').click();
    await stack.api('DELETE', `/api/jobs/${job.id}`);
  });

  uiTest('a chain built in the editor starts the next job, which links back to its upstream run', async () => {
    await stack.api('POST', '/api/jobs', {
      id: 'e2e-extract', name: 'E2E extract', trigger: { type: 'interval', hours: 24 },
      action: { kind: 'shell', command: 'echo extracted' },
    });
    await stack.api('POST', '/api/jobs', {
      id: 'e2e-load', name: 'E2E load', trigger: { type: 'interval', hours: 24 },
      action: { kind: 'shell', command: 'echo "loading after run $KAIROS_UPSTREAM_RUN_ID of $KAIROS_UPSTREAM_JOB_ID: $KAIROS_UPSTREAM_STATE"' },
    });
    await page.goto(`${stack.uiOrigin}/jobs/e2e-extract/edit`);
    await page.getByTestId('chain-add').click();
    await page.getByTestId('chain-job-0').click();
    await page.keyboard.type('E2E load');
    await page.locator('.ant-select-item-option', { hasText: 'E2E load (e2e-load)' }).click();
    await page.getByTestId('chain').scrollIntoViewIfNeeded();
    await shot('editor-chain');
    await page.getByTestId('save-job').click();
    await page.waitForFunction(() => location.pathname === '/jobs/e2e-extract', null, WAIT);
    const saved = await stack.api('GET', '/api/jobs/e2e-extract');
    assert.deepEqual(saved.then, [{ job: 'e2e-load', on: 'succeeded' }]);

    const upstream = (await stack.api('POST', '/api/jobs/e2e-extract/run')).run_id;
    let load;
    for (let i = 0; i < 100 && !load?.finished; i++) {
      await new Promise((r) => setTimeout(r, 100));
      [load] = (await stack.api('GET', '/api/runs?job_id=e2e-load')).items;
    }
    assert.equal(load.upstream, upstream);
    await page.goto(`${stack.uiOrigin}/jobs/e2e-load?run=${load.id}`);
    const viewer = page.locator('.ant-drawer-content');
    await waitText(viewer.getByTestId('run-output'), new RegExp(`loading after run ${upstream} of e2e-extract: succeeded`));
    await waitText(viewer.getByTestId('run-started-by'), new RegExp(`Chain, after run #${upstream}`));
    await shot('run-chained');
    await viewer.getByTestId('run-started-by').getByText(`Chain, after run #${upstream}`).click();
    await waitText(viewer.getByTestId('run-output'), /extracted/);
    await page.locator('.ant-drawer-close').click();
    await stack.api('DELETE', '/api/jobs/e2e-extract');
    await stack.api('DELETE', '/api/jobs/e2e-load');
  });

  uiTest('alert channels: add one, send a test, and a failing job’s rule delivers to it', async () => {
    const got = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        got.push({ url: req.url, headers: req.headers, body: JSON.parse(body) });
        res.end('ok');
      });
    });
    await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      await page.goto(`${stack.uiOrigin}/settings`);
      await page.getByTestId('channel-add').click();
      const modal = page.locator('.ant-modal-content');
      await page.getByTestId('channel-name').fill('Ops hook');
      await page.getByTestId('channel-kind').click();
      await page.locator('.ant-select-item-option', { hasText: /^Webhook$/ }).click();
      // A bad URL is refused by the server on the field it names.
      await page.getByTestId('channel-url').fill('ftp://nowhere');
      await modal.getByRole('button', { name: 'Save' }).click();
      await waitText(modal.locator('.ant-form-item-explain-error'), /http:\/\/ or https:\/\/ URL/);
      await page.getByTestId('channel-url').fill(`http://127.0.0.1:${receiver.address().port}/hook`);
      await shot('channel-editor');
      await modal.getByRole('button', { name: 'Save' }).click();
      await modal.waitFor({ state: 'hidden', ...WAIT });
      await waitText(page.getByTestId('channels'), /Ops hook/);
      const [channel] = (await stack.api('GET', '/api/channels')).items;
      await page.getByTestId(`channel-test-${channel.id}`).click();
      await waitText(page.locator('.ant-message'), /Test message sent to “Ops hook”/);
      await waitText(page.getByTestId('deliveries'), /sent/);
      assert.equal(got[0].body.outcome, 'test');

      // A rule on a job, set in its editor, and a failing run that it tells about.
      await stack.api('POST', '/api/jobs', {
        id: 'e2e-alerting', name: 'E2E alerting', trigger: { type: 'interval', hours: 24 },
        action: { kind: 'shell', command: 'echo "no space left" >&2; exit 28' },
      });
      await page.goto(`${stack.uiOrigin}/jobs/e2e-alerting/edit`);
      await page.getByTestId('alert-add').click();
      await page.getByTestId('alert-channel-0').click();
      await page.locator('.ant-select-item-option', { hasText: /^Ops hook$/ }).click();
      await page.getByTestId('alert-rules').scrollIntoViewIfNeeded();
      await shot('editor-alerts');
      await page.getByTestId('save-job').click();
      await page.waitForFunction(() => location.pathname === '/jobs/e2e-alerting', null, WAIT);
      const saved = await stack.api('GET', '/api/jobs/e2e-alerting');
      assert.deepEqual(saved.options.alerts, [{ channel: channel.id, on: ['failed', 'timed_out'] }]);
      const run = (await stack.api('POST', '/api/jobs/e2e-alerting/run')).run_id;
      for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(got[1].body.outcome, 'failed');
      assert.equal(got[1].body.run_id, run);
      assert.match(got[1].body.text, /Kairos: job "E2E alerting" failed/);
      await page.goto(`${stack.uiOrigin}/settings`);
      await waitText(page.getByTestId('deliveries'), new RegExp(`e2e-alerting · #${run}`));
      await page.getByTestId('channels').scrollIntoViewIfNeeded();
      await shot('settings-channels');
      await stack.api('DELETE', '/api/jobs/e2e-alerting');
      await stack.api('DELETE', `/api/channels/${channel.id}`);
    } finally {
      receiver.close();
    }
  });

  uiTest('the Runs screen: every job, filters in the address, the day’s failures one click away', async () => {
    await page.goto(`${stack.uiOrigin}/`);
    await page.getByTestId('stat-failures').click();
    await page.waitForFunction(() => location.pathname === '/runs' && new URLSearchParams(location.search).get('state')?.includes('failed'), null, WAIT);
    const rows = page.getByTestId('runs-table').locator('.ant-table-row');
    await rows.filter({ hasText: 'E2E fails' }).first().waitFor(WAIT);
    for (const text of await rows.allTextContents()) assert.match(text, /Failed|Timed out|Missed|Abandoned/);
    await shot('runs-failures');
    // Every run of every job, then one job's.
    await page.goto(`${stack.uiOrigin}/runs`);
    await page.getByTestId('run-job').filter({ hasText: /^(E2E fails|E2E greeter|System monitor|Flaky report)$/ }).first().waitFor(WAIT);
    await page.goto(`${stack.uiOrigin}/runs?job=e2e-fails`);
    await page.getByTestId('run-job').filter({ hasText: /^E2E fails$/ }).first().waitFor(WAIT);
    await page.waitForFunction(
      () => [...document.querySelectorAll('[data-testid="run-job"]')].every((a) => a.textContent === 'E2E fails'),
      null,
      WAIT,
    );
    // By node: the one node there is; then by duration: none of these ran for an hour.
    const node = (await stack.api('GET', '/api/nodes')).items[0];
    await page.getByTestId('runs-node').click();
    await page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option', { hasText: node.host }).first().click();
    await page.waitForFunction((id) => new URLSearchParams(location.search).get('node') === id, node.id, WAIT);
    await rows.first().waitFor(WAIT);
    await page.locator('input[data-testid="runs-min-duration"], [data-testid="runs-min-duration"] input').fill('3600');
    await page.waitForFunction(() => new URLSearchParams(location.search).get('min_s') === '3600', null, WAIT);
    await page.getByTestId('runs-table').getByText('No runs match').waitFor(WAIT);
    await page.locator('input[data-testid="runs-min-duration"], [data-testid="runs-min-duration"] input').fill('');
    await rows.first().waitFor(WAIT);
    // A row opens the run.
    await rows.first().click();
    await waitText(page.locator('.ant-drawer-content').getByTestId('run-error'), /exit code 3/);
    await page.locator('.ant-drawer-close').click();
    await stack.api('DELETE', '/api/jobs/e2e-fails');
  });

  uiTest('the sidebar is made of real links', async () => {
    const hrefs = await page.getByTestId('nav').locator('a').evaluateAll((links) => links.map((a) => a.getAttribute('href')));
    assert.deepEqual(hrefs, ['/', '/jobs', '/runs', '/events', '/nodes', '/settings']);
  });

  uiTest('the job list finds jobs and scrolls virtually', async () => {
    await page.goto(`${stack.uiOrigin}/jobs`);
    await page.getByTestId('job-link').first().waitFor(WAIT);
    assert.ok((await page.getByTestId('job-link').count()) >= 5);
    await shot('jobs');
    await page.getByTestId('job-search').fill('greeter');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="job-link"]').length === 1, null, WAIT);
    assert.equal(await page.getByTestId('job-link').textContent(), 'E2E greeter');

    // Bulk: pause two jobs at once, then resume them.
    await page.getByTestId('job-search').fill('');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="job-link"]').length >= 5, null, WAIT);
    for (const name of ['Flaky report', 'API health check']) {
      await page.locator('.ant-table-row', { hasText: name }).locator('.ant-checkbox-input').check();
    }
    const bulk = page.getByTestId('bulk-bar');
    await waitText(bulk, /2 selected/);
    await bulk.getByRole('button', { name: /Pause/ }).click();
    await page.locator('.ant-table-row', { hasText: 'Flaky report' }).getByText('Paused').waitFor(WAIT);
    await shot('jobs-bulk');
    assert.equal((await stack.api('GET', '/api/jobs/flaky')).paused, true);
    assert.equal((await stack.api('GET', '/api/jobs/health')).paused, true);
    await bulk.getByRole('button', { name: /Resume/ }).click();
    await page.locator('.ant-table-row', { hasText: 'Flaky report' }).getByText('Paused').waitFor({ state: 'detached', ...WAIT });
    assert.equal((await stack.api('GET', '/api/jobs/health')).paused, false);

    // A tag is a group: its jobs are listed, paused and resumed at once.
    await page.getByTestId('job-group').click();
    await page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option', { hasText: 'ops (2, 1 paused)' }).click();
    await page.waitForFunction(() => new URLSearchParams(location.search).get('tag') === 'ops', null, WAIT);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="job-link"]').length === 2, null, WAIT);
    await page.getByTestId('group-pause').click();
    await page.locator('.ant-modal-confirm').getByRole('button', { name: 'Pause group' }).click();
    await page.locator('.ant-message', { hasText: 'Paused 1 job(s) tagged “ops”' }).waitFor(WAIT);
    assert.equal((await stack.api('GET', '/api/jobs/monitor')).paused, true);
    await page.locator('.ant-table-row', { hasText: 'System monitor' }).getByText('Paused').waitFor(WAIT);
    await shot('jobs-group');
    await page.getByTestId('group-resume').click();
    await page.locator('.ant-modal-confirm').getByRole('button', { name: 'Resume group' }).click();
    await page.locator('.ant-message', { hasText: 'Resumed 2 job(s) tagged “ops”' }).waitFor(WAIT);
    assert.equal((await stack.api('GET', '/api/jobs/monitor')).paused, false);
    // The backup job was paused before: it goes back to paused, as the other tests expect.
    await stack.api('POST', '/api/jobs/backup/pause');
    await page.goto(`${stack.uiOrigin}/jobs`);
  });

  uiTest('the dashboard draws its charts', async () => {
    await page.goto(`${stack.uiOrigin}/`);
    await waitText(page.getByTestId('stat-total'), /5/);
    await assertChart('upcoming');
    await assertChart('runs-per-hour');
    await assertChart('system');
    await waitText(page.getByTestId('recent-failures'), /Flaky report/);
    await page.waitForTimeout(600); // let the charts' entry animation finish
    await shot('dashboard', page, true);
    // The monitor's network counters, as rates per second.
    await page.getByTestId('system-view').getByText('Network').click();
    await assertChart('network');
    await page.waitForTimeout(600);
    await page.locator('[data-chart="network"]').screenshot({ path: `${SCREENSHOTS}/dashboard-network.png` });
    await page.getByTestId('system-view').getByText('Usage').click();
    await assertChart('system');
  });

  uiTest('live events stream in', async () => {
    await page.goto(`${stack.uiOrigin}/events`);
    // Events before the stream opens are not replayed: wait for it.
    await page.getByTestId('stream-status').getByText('Live').first().waitFor(WAIT);
    await stack.api('POST', `/api/jobs/${encodeURIComponent(jobId)}/run`);
    await page.locator('.ant-table-row', { hasText: 'Run succeeded' }).first().waitFor(WAIT);
    await page.locator('.ant-table-row', { hasText: 'E2E greeter' }).first().waitFor(WAIT);
    await shot('events');
  });

  uiTest('settings switch the language to 简体中文 and it sticks', async () => {
    await page.goto(`${stack.uiOrigin}/settings`);
    await page.getByTestId('settings-form').waitFor(WAIT);
    // kairos serve names its --db file and says how to switch; it offers no chooser.
    await waitText(page.getByTestId('database-in-use'), /kairos\.db$/);
    await waitText(page.getByTestId('database-card'), /SQLite file.*Chosen by\s*kairos serve --db.*Start it with another --db/);
    assert.equal(await page.getByTestId('database-location').count(), 0);
    await shot('settings', page, true);
    await page.getByTestId('language-switch').getByText('简体中文').click();
    await waitText(page.getByTestId('nav'), /仪表盘/);
    await waitText(page.getByTestId('database-card'), /选择来源.*要切换，请用其他 --db 重新启动/);
    assert.match(await page.getByTestId('nav').textContent(), /任务.*事件.*设置/);
    await page.reload();
    await waitText(page.getByTestId('nav'), /仪表盘/);
    await page.goto(`${stack.uiOrigin}/jobs/${encodeURIComponent(jobId)}/edit`);
    await waitText(page.getByTestId('cron-description'), /星期一至星期五/);
    await waitText(page.getByText(/接下来 10 次触发时间/), /Asia\/Shanghai/);
    await shot('editor-zh', page, true);
    // The server's cron error, said in Chinese from its code (the field named in Chinese too).
    await page.getByTestId('cron-expression').fill('61 * * * *');
    await waitText(formItem('Cron 表达式').locator('.ant-form-item-explain-error'), /分：61 超出范围 0-59/);
    await shot('editor-error-zh');
    await page.goto(`${stack.uiOrigin}/`);
    await assertChart('runs-per-hour');
    await waitText(page.getByTestId('stat-failures'), /近 24 小时失败/);
    await page.waitForTimeout(600);
    await shot('dashboard-zh');
  });

  uiTest('dark theme', async () => {
    await page.goto(`${stack.uiOrigin}/settings`);
    await page.getByTestId('theme-switch').getByText('深色').click();
    await page.getByTestId('language-switch').getByText('English').click();
    await page.goto(`${stack.uiOrigin}/`);
    await assertChart('system');
    const bg = await page.evaluate(() => getComputedStyle(document.querySelector('.ant-layout')).backgroundColor);
    assert.notEqual(bg, 'rgb(245, 245, 245)');
    await page.waitForTimeout(600);
    await shot('dashboard-dark');
    assert.deepEqual(pageErrors, []);
  });

  // Every screen in both languages and both themes, for a person to look over: each one
  // loads, says its title in the language, and throws nothing.
  uiTest('every screen in both languages and both themes', async () => {
    const screens = [
      ['dashboard', '/', { en: 'Dashboard', zh: '仪表盘' }],
      ['jobs', '/jobs', { en: 'Jobs', zh: '任务' }],
      ['job', '/jobs/flaky', { en: 'Flaky report', zh: 'Flaky report' }],
      ['editor', '/jobs/new', { en: 'New job', zh: '新建任务' }],
      ['runs', '/runs', { en: 'Runs', zh: '运行记录' }],
      ['events', '/events', { en: 'Events', zh: '事件' }],
      ['nodes', '/nodes', { en: 'Nodes', zh: '节点' }],
      ['settings', '/settings', { en: 'Settings', zh: '设置' }],
    ];
    for (const lang of ['en', 'zh']) {
      for (const theme of ['light', 'dark']) {
        await page.evaluate(([l, t]) => {
          localStorage.setItem('kairos.lang', l);
          localStorage.setItem('kairos.theme', t);
        }, [lang, theme]);
        for (const [name, path, title] of screens) {
          await page.goto(`${stack.uiOrigin}${path}`);
          await waitText(page.locator('h3').first(), new RegExp(title[lang]));
          assert.equal(await page.evaluate(() => document.documentElement.lang.slice(0, 2)), lang);
          await shot(`tour-${lang}-${theme}-${name}`, page, true);
        }
      }
    }
    await page.evaluate(() => {
      localStorage.setItem('kairos.lang', 'en');
      localStorage.setItem('kairos.theme', 'light');
    });
    assert.deepEqual(pageErrors, []);
  });
});
