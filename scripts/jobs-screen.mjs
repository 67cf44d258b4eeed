// Times the jobs screen in Debian's Chromium over a store of N jobs with a run each (filled by
// `kairos bench api`): the first rows, a search, and a jump to the middle of the list.
// Prints one JSON line of milliseconds. Usage, from the repository:
//   KAIROS_BIN=target/release/kairos node scripts/jobs-screen.mjs [N]   (default 100000)
// The binary must embed the built UI (ui/dist at build time).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT, WAIT, launchBrowser, startKairos } from '../tests/ui/harness.mjs';

const jobs = Number(process.argv[2] ?? 100000);
const bin = resolve(ROOT, process.env.KAIROS_BIN || 'target/release/kairos');
const dir = mkdtempSync(join(tmpdir(), 'kairos-jobs-screen-'));
const db = join(dir, 'kairos.db');
const fill = execFileSync(bin, ['bench', 'api', '--jobs', String(jobs), '--db', db], { encoding: 'utf8' });
const api = JSON.parse(fill.trim().split('\n').pop());

const kairos = await startKairos({ db });
const { browser, close } = await launchBrowser();
const figures = { jobs, api_fill_s: api.fill_s };
let step = 'first rows';
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const rows = page.locator('.ant-table-row');
  /** Milliseconds until `ready(arg)` holds in the page, polled every 10 ms. */
  const until = async (ready, arg = null) => {
    const started = performance.now();
    await page.waitForFunction(ready, arg, { ...WAIT, polling: 10 });
    return Math.round(performance.now() - started);
  };
  const started = performance.now();
  await page.goto(`${kairos.origin}/jobs?token=${kairos.token}`);
  await rows.first().waitFor(WAIT);
  await page.waitForFunction(() => document.querySelector('.ant-table-tbody-virtual, .ant-table-tbody')?.textContent?.includes('bench job 0'), null, WAIT);
  figures.first_rows_ms = Math.round(performance.now() - started);

  step = 'search';
  const needle = `bench job ${Math.floor(jobs / 2)}`;
  const search = page.getByTestId('job-search');
  await search.fill(needle);
  figures.search_ms = await until((text) => {
    const found = document.querySelectorAll('.ant-table-row');
    return found.length === 1 && found[0].textContent.includes(text);
  }, needle);
  await search.fill('');
  await page.waitForFunction(() => document.querySelectorAll('.ant-table-row').length > 5, null, WAIT);

  // Jump to the middle: the rows there are placeholders until their page arrives.
  step = 'middle';
  // Drag the list's scrollbar thumb to the middle of its track, as a user jumps there.
  const track = await page.locator('.ant-table-tbody-virtual-scrollbar-vertical').boundingBox();
  const thumb = await page.locator('.ant-table-tbody-virtual-scrollbar-vertical .ant-table-tbody-virtual-scrollbar-thumb').boundingBox();
  await page.mouse.move(thumb.x + thumb.width / 2, thumb.y + thumb.height / 2);
  await page.mouse.down();
  await page.mouse.move(thumb.x + thumb.width / 2, track.y + track.height / 2, { steps: 4 });
  await page.mouse.up();
  figures.middle_ms = await until(() => {
    const body = document.querySelector('.ant-table-tbody-virtual-holder');
    const view = body.getBoundingClientRect();
    const shown = [...body.querySelectorAll('.ant-table-row')].filter((tr) => {
      const r = tr.getBoundingClientRect();
      return r.bottom > view.top && r.top < view.bottom;
    });
    return shown.length > 0 && shown.every((tr) => tr.textContent.includes('bench job') && !tr.querySelector('.ant-skeleton'));
  });
  await page.screenshot({ path: join(dir, 'middle.png') });
  figures.screenshot = join(dir, 'middle.png');
} catch (e) {
  const pages = browser.contexts().flatMap((c) => c.pages());
  await pages[0]?.screenshot({ path: join(dir, 'failure.png') });
  throw new Error(`${step}: ${e.message} (screenshot: ${join(dir, 'failure.png')})`);
} finally {
  await close();
  await kairos.stop();
}
console.log(JSON.stringify(figures));
if (!process.env.KEEP) rmSync(db, { force: true });
