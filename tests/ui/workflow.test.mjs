// Workflows in the web admin, in real Chromium against a real `kairos serve` on a temporary
// database: a workflow built on the editor's canvas (one edge dragged between handles, one
// added through "Runs after"), run, watched step by step and opened step by step; and a
// workflow whose middle step fails, its last step skipped, the failed step retried.
// Run from ui/: `npm run e2e`.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe } from 'node:test';
import { launchBrowser, SCREENSHOTS, startStack, uiTest as harnessUiTest, WAIT, waitText } from './harness.mjs';

const VIEWPORT = { width: 1440, height: 900 };

let stack;
let chrome;
let context;
let page;
const pageErrors = [];

/** Saves a screenshot once spinners and entry animations have settled. */
async function shot(name) {
  await page.waitForFunction(() => !document.querySelector('.ant-spin-spinning, .ant-skeleton-active'), null, WAIT).catch(() => undefined);
  await page.waitForTimeout(500);
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png` });
}

/** `locator`'s box once it has stopped moving (the canvas lays out and fits its view anew
 * when steps or edges come and go). */
async function settledBox(locator) {
  await locator.waitFor(WAIT);
  const deadline = Date.now() + WAIT.timeout;
  let last = null;
  while (Date.now() < deadline) {
    const box = await locator.boundingBox();
    if (box && last && ['x', 'y', 'width', 'height'].every((k) => Math.abs(box[k] - last[k]) < 0.5)) return box;
    last = box;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error('the element kept moving');
}

const center = (box) => ({ x: box.x + box.width / 2, y: box.y + box.height / 2 });

/** Drags an edge with the mouse from step `from`'s right handle to step `to`'s left handle. */
async function dragEdge(from, to) {
  const source = center(await settledBox(page.getByTestId(`workflow-node-${from}`).locator('.react-flow__handle-right')));
  const target = center(await settledBox(page.getByTestId(`workflow-node-${to}`).locator('.react-flow__handle-left')));
  await page.mouse.move(source.x, source.y);
  await page.mouse.down();
  await page.mouse.move(target.x, target.y, { steps: 15 });
  await page.mouse.up();
}

/** The open select's option `label`. */
function option(label) {
  return page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option', { hasText: new RegExp(`^${label}$`) });
}

/** A node of the run viewer's graph in state `state`. */
function runNode(viewer, step, state) {
  return viewer.locator(`[data-testid="workflow-run-node-${step}"][data-state="${state}"]`);
}

/** A test that saves a screenshot of the page when it fails. */
const uiTest = (name, fn) => harnessUiTest(name, fn, { page: () => page, prefix: 'workflow-' });

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  stack = await startStack();
  chrome = await launchBrowser();
  context = await chrome.browser.newContext({ viewport: VIEWPORT, timezoneId: 'UTC', locale: 'en-US' });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) pageErrors.push(m.text());
  });
  await page.goto(stack.tokenUrl);
  await page.getByTestId('nav').waitFor(WAIT);
});

after(async () => {
  await context?.close();
  await chrome?.close();
  await stack?.stop();
});

describe('workflows', () => {
  uiTest('a workflow built on the canvas runs its steps in order, each with its state and output', async () => {
    await page.goto(`${stack.uiOrigin}/jobs/new`);
    await page.getByTestId('job-editor').waitFor(WAIT);
    await page.getByTestId('job-name').fill('E2E ETL');
    await page.getByTestId('job-kind').getByText('Workflow', { exact: true }).click();
    const editor = page.getByTestId('workflow-editor');
    await editor.waitFor(WAIT);
    // Nothing on the canvas: saving says so under it.
    await page.getByTestId('save-job').click();
    await page.locator('.ant-form-item-explain-error', { hasText: 'Add at least one step.' }).waitFor(WAIT);
    assert.match(page.url(), /\/jobs\/new$/);

    for (const [id, command] of [
      ['extract', 'echo extracted'],
      ['transform', 'echo transformed'],
      ['load', 'echo loaded'],
    ]) {
      await page.getByTestId('workflow-add-step').click();
      await page.getByTestId('workflow-step-id').fill(id);
      await page.getByTestId('workflow-step-command').fill(command);
      await page.getByTestId(`workflow-node-${id}`).waitFor(WAIT);
    }
    await page.locator('.ant-form-item-explain-error', { hasText: 'Add at least one step.' }).waitFor({ state: 'detached', ...WAIT });
    // The canvas in the middle of the window, clear of the sticky header with Save.
    await editor.evaluate((el) => el.scrollIntoView({ block: 'center' }));

    // extract → transform: dragged between the handles.
    await dragEdge('extract', 'transform');
    await waitText(page.getByTestId('workflow-edge-panel'), /Run “transform” after “extract”/);
    // The edge is drawn once its nodes are measured: wait for it, then it is the only one.
    await editor.locator('.react-flow__edge').first().waitFor(WAIT);
    assert.equal(await editor.locator('.react-flow__edge').count(), 1);
    // transform → load: through the load step's "Runs after".
    await page.getByTestId('workflow-node-load').click();
    await page.getByTestId('workflow-after-step').click();
    await option('transform').click();
    await waitText(page.getByTestId('workflow-after-on'), /on success/);
    await page.getByTestId('workflow-after-add').click();
    await page.getByTestId('workflow-after-row-transform').waitFor(WAIT);
    await editor.locator('.react-flow__edge').nth(1).waitFor(WAIT);
    // Laid out left to right by layer: extract, then transform, then load.
    const [x1, x2, x3] = await Promise.all(['extract', 'transform', 'load'].map(async (id) => (await settledBox(page.getByTestId(`workflow-node-${id}`))).x));
    assert.ok(x1 < x2 && x2 < x3, `left to right: ${x1}, ${x2}, ${x3}`);
    await waitText(editor.locator('.react-flow__edge-textwrapper').first(), /on success/);
    await shot('workflow-editor');

    await page.getByTestId('trigger-mode').getByText('Interval', { exact: true }).click();
    await page.locator('input[id$="trigger_hours"]').fill('24');
    await page.getByTestId('save-job').click();
    await page.waitForURL((url) => /^\/jobs\/[^/]+$/.test(url.pathname) && url.pathname !== '/jobs/new', WAIT);
    const jobId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
    const saved = await stack.api('GET', `/api/jobs/${encodeURIComponent(jobId)}`);
    assert.equal(saved.action.kind, 'workflow');
    assert.deepEqual(saved.action.steps.map((s) => [s.id, s.action.command]), [
      ['extract', 'echo extracted'],
      ['transform', 'echo transformed'],
      ['load', 'echo loaded'],
    ]);
    assert.deepEqual(saved.action.edges.map((e) => [e.from, e.to, e.on ?? 'succeeded']), [
      ['extract', 'transform', 'succeeded'],
      ['transform', 'load', 'succeeded'],
    ]);

    // Run now: the workflow's run opens on its graph, every step ends succeeded.
    await page.getByTestId('detail-run-now').click();
    const viewer = page.locator('.ant-drawer-content');
    const graph = viewer.getByTestId('workflow-run-graph');
    await graph.waitFor(WAIT);
    for (const step of ['extract', 'transform', 'load']) await runNode(viewer, step, 'succeeded').waitFor(WAIT);
    // Both edges are drawn between the steps' nodes.
    await graph.locator('.react-flow__edge').nth(1).waitFor(WAIT);
    await viewer.locator('.ant-drawer-title [data-state="succeeded"]').waitFor(WAIT);
    const workflowRun = Number(new URL(page.url()).searchParams.get('run'));
    await shot('workflow-run');

    // A step opens its own run, which links back to the workflow's.
    await graph.getByTestId('workflow-run-node-load').click();
    await waitText(viewer.getByTestId('run-output'), /loaded/);
    await waitText(viewer.getByTestId('step-run'), /step: load/);
    await waitText(viewer.getByTestId('run-started-by'), new RegExp(`Workflow run #${workflowRun}, step “load”`));
    await viewer.getByTestId('run-started-by').getByText(`Workflow run #${workflowRun}`, { exact: false }).click();
    await runNode(viewer, 'extract', 'succeeded').waitFor(WAIT);
    await page.locator('.ant-drawer-close').click();
    await page.locator('.ant-drawer-content').waitFor({ state: 'hidden', ...WAIT });
    // The job's history tells the steps' runs from the workflow's.
    await page.getByTestId('run-history').locator('[data-testid="step-run"][data-step="transform"]').waitFor(WAIT);
  });

  uiTest('a failed step skips the steps after it, and "Retry step" runs it again', async () => {
    await stack.api('POST', '/api/jobs', {
      id: 'e2e-wf-fails',
      name: 'E2E failing workflow',
      trigger: { type: 'interval', hours: 24 },
      options: { retries: { count: 0 } },
      action: {
        kind: 'workflow',
        steps: [
          { id: 'fetch', action: { kind: 'shell', command: 'echo fetched' } },
          { id: 'parse', action: { kind: 'shell', command: 'echo "bad input" >&2; exit 3' } },
          { id: 'store', action: { kind: 'shell', command: 'echo stored' } },
        ],
        edges: [
          { from: 'fetch', to: 'parse', on: 'succeeded' },
          { from: 'parse', to: 'store', on: 'succeeded' },
        ],
      },
    });
    await page.goto(`${stack.uiOrigin}/jobs/e2e-wf-fails`);
    await page.getByTestId('detail-run-now').click();
    const viewer = page.locator('.ant-drawer-content');
    await runNode(viewer, 'fetch', 'succeeded').waitFor(WAIT);
    await runNode(viewer, 'parse', 'failed').waitFor(WAIT);
    await runNode(viewer, 'store', 'skipped').waitFor(WAIT);
    await viewer.locator('.ant-drawer-title [data-state="failed"]').waitFor(WAIT);
    const workflowRun = Number(new URL(page.url()).searchParams.get('run'));
    assert.match(await viewer.getByTestId('workflow-run-node-store').getAttribute('title'), /not run: it follows 'parse' on success, which ended failed/);
    const firstParse = Number(await viewer.getByTestId('workflow-run-node-parse').getAttribute('data-run-id'));
    await shot('workflow-run-failed');

    // The failed step's run: what went wrong, and the retry.
    await viewer.getByTestId('workflow-run-node-parse').click();
    await waitText(viewer.getByTestId('run-error'), /Failed with exit code 3/);
    await waitText(viewer.getByTestId('run-output').last(), /bad input/);
    const retry = viewer.getByTestId('retry-step');
    // Enabled once the viewer knows the workflow run has ended and this is parse's newest run.
    await page.waitForFunction(() => {
      const button = document.querySelector('[data-testid="retry-step"]');
      return button && !button.disabled;
    }, null, WAIT);
    await shot('workflow-step-failed');
    await retry.click();
    await waitText(page.locator('.ant-message'), /Step “parse” runs again/);

    // Back on the workflow's run, live again: parse fails anew (a newer run), store is skipped
    // again, the workflow fails again.
    await page.waitForFunction(
      (old) => {
        const node = document.querySelector('[data-testid="workflow-run-node-parse"]');
        return node && node.dataset.state === 'failed' && Number(node.dataset.runId) > old;
      },
      firstParse,
      WAIT,
    );
    await runNode(viewer, 'store', 'skipped').waitFor(WAIT);
    await runNode(viewer, 'fetch', 'succeeded').waitFor(WAIT);
    await viewer.locator('.ant-drawer-title [data-state="failed"]').waitFor(WAIT);
    assert.equal(Number(new URL(page.url()).searchParams.get('run')), workflowRun);
    const steps = (await stack.api('GET', `/api/runs?upstream=${workflowRun}&limit=1000`)).items;
    assert.deepEqual(
      steps.filter((r) => r.step === 'parse').map((r) => r.state),
      ['failed', 'failed'],
    );
    assert.equal(steps.filter((r) => r.step === 'fetch').length, 1, 'the step before the retried one is not run again');
    assert.equal((await stack.api('GET', `/api/runs/${workflowRun}`)).state, 'failed');
    await page.locator('.ant-drawer-close').click();
    assert.deepEqual(pageErrors, []);
  });

  uiTest('in 简体中文 the editor and the run graph speak Chinese', async () => {
    await page.goto(`${stack.uiOrigin}/settings`);
    await page.getByTestId('language-switch').getByText('简体中文').click();
    await page.goto(`${stack.uiOrigin}/jobs/e2e-wf-fails/edit`);
    const editor = page.getByTestId('workflow-editor');
    await editor.waitFor(WAIT);
    await editor.evaluate((el) => el.scrollIntoView({ block: 'center' }));
    await waitText(editor.locator('.react-flow__edge-textwrapper').first(), /成功时/);
    await page.getByTestId('workflow-node-store').click();
    // The "Runs after" field's label (zh.ts, workflow.after).
    await waitText(page.getByTestId('workflow-panel'), /在这些步骤之后运行/);
    await shot('workflow-editor-zh');
    await page.goto(`${stack.uiOrigin}/jobs/e2e-wf-fails`);
    await page.getByTestId('run-history').locator('[data-testid="step-run"]').first().waitFor(WAIT);
    const workflowRun = (await stack.api('GET', '/api/runs?job_id=e2e-wf-fails&limit=1000')).items.find((r) => !r.step).id;
    await page.goto(`${stack.uiOrigin}/jobs/e2e-wf-fails?run=${workflowRun}`);
    const viewer = page.locator('.ant-drawer-content');
    await runNode(viewer, 'parse', 'failed').waitFor(WAIT);
    await waitText(viewer.getByTestId('workflow-run-node-parse'), /失败/);
    await waitText(viewer.getByTestId('workflow-run-node-store'), /已跳过/);
    await shot('workflow-run-zh');
    await page.locator('.ant-drawer-close').click();
    await page.goto(`${stack.uiOrigin}/settings`);
    await page.getByTestId('language-switch').getByText('English').click();
    assert.deepEqual(pageErrors, []);
  });
});
