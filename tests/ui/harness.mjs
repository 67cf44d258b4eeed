// Test harness for the web admin's end-to-end tests: a real `kairos serve` on a temporary
// database, the built UI (served by kairos itself when it embeds ui/dist, else by a tiny
// static server here that proxies the API to it), and Debian's Chromium via playwright-core.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DIST = join(ROOT, 'ui', 'dist');
export const SCREENSHOTS = join(ROOT, 'tests', 'ui', 'screenshots');
/** How long a test waits for anything to appear. */
export const WAIT = { timeout: 15000 };

/** Waits until `locator`'s text matches `re`; returns the text. */
export async function waitText(locator, re) {
  await locator.first().waitFor(WAIT);
  const deadline = Date.now() + WAIT.timeout;
  let text = '';
  while (Date.now() < deadline) {
    text = (await locator.first().textContent()) ?? '';
    if (re.test(text)) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(text, re);
  return text;
}

/** A test that saves a full-page screenshot of `page()` when it fails
 * (`failure-<prefix><name>.png`). */
export function uiTest(name, fn, { page, prefix = '' }) {
  test(name, async () => {
    try {
      await fn();
    } catch (e) {
      const slug = name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
      await page()?.screenshot({ path: `${SCREENSHOTS}/failure-${prefix}${slug}.png`, fullPage: true }).catch(() => undefined);
      throw e;
    }
  });
}

// playwright-core is a dev dependency of ui/ (one package.json, one lock file).
const require = createRequire(join(ROOT, 'ui', 'package.json'));
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

/**
 * Starts `kairos serve` on a fresh database, or on `options.db` (another node of the same
 * database), with `options.labels` as its node labels; resolves once it printed its URL.
 */
export async function startKairos(options = {}) {
  const bin = resolve(ROOT, process.env.KAIROS_BIN || 'target/debug/kairos');
  if (!existsSync(bin)) throw new Error(`no kairos binary at ${bin}: run 'cargo build -p kairos' or set KAIROS_BIN`);
  const dir = options.db ? null : mkdtempSync(join(tmpdir(), 'kairos-ui-e2e-'));
  const db = options.db ?? join(dir, 'kairos.db');
  const labels = (options.labels ?? []).flatMap((l) => ['--label', l]);
  const child = spawn(bin, ['serve', '--db', db, '--bind', '127.0.0.1:0', ...labels], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  // Never leave a server behind, even when the test process ends abruptly.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const firstLine = await new Promise((resolveLine, reject) => {
    const timer = setTimeout(() => reject(new Error(`kairos serve printed no URL in 15 s:\n${stderr}`)), 15000);
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolveLine(line.trim());
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kairos serve exited with ${code}:\n${stderr}`));
    });
  });
  const url = new URL(firstLine);
  const token = url.searchParams.get('token');
  if (!token) throw new Error(`no token in '${firstLine}'`);
  const exited = () =>
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise((r) => child.once('exit', () => r()));
  return {
    origin: url.origin,
    token,
    dir,
    db,
    /** The operating system's process id of this `kairos serve`. */
    pid: child.pid,
    /** Ends it at once, as a crash would (no clean shutdown): other nodes take over its runs. */
    async kill() {
      process.removeListener('exit', killOnExit);
      child.kill('SIGKILL');
      await exited();
    },
    async stop() {
      process.removeListener('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => {
          const t = setTimeout(() => {
            child.kill('SIGKILL');
            r();
          }, 5000);
          child.once('exit', () => {
            clearTimeout(t);
            r();
          });
        });
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The Content-Security-Policy kairos sends with the UI (crates/server/src/ui.rs), so the
 * proxied UI runs under the same rules as the embedded one. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/**
 * Serves ui/dist with an SPA fallback, and proxies /api, /healthz and /metrics to `target`
 * (rewriting Host and dropping Origin, as a same-origin page would send them to kairos).
 */
export async function startStaticServer(target) {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path.startsWith('/api/') || path === '/healthz' || path === '/metrics') {
      const headers = { ...req.headers, host: upstream.host };
      delete headers.origin;
      delete headers.referer;
      const proxied = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
        (up) => {
          res.writeHead(up.statusCode, up.headers);
          up.pipe(res);
        },
      );
      proxied.on('error', (e) => {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { field: null, message: `proxy: ${e.message}` } }));
      });
      req.pipe(proxied);
      res.on('close', () => proxied.destroy());
      return;
    }
    let file = join(DIST, path);
    if (!file.startsWith(DIST) || !existsSync(file) || statSync(file).isDirectory()) file = join(DIST, 'index.html');
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    res.writeHead(200, { 'content-type': type, ...(type.startsWith('text/html') ? { 'content-security-policy': CSP } : {}) });
    createReadStream(file).pipe(res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
}

/** Whether kairos itself serves the built UI at `/` (the embedded assets). */
export async function servesUi(origin) {
  try {
    const res = await fetch(`${origin}/jobs`, { headers: { accept: 'text/html' } });
    const text = await res.text();
    return res.ok && text.includes('<div id="root">');
  } catch {
    return false;
  }
}

/** `api(method, path, body)`: a JSON call to the kairos `node` (from startKairos). */
export function apiOf(node) {
  return async (method, path, body) => {
    const res = await fetch(`${node.origin}${path}`, {
      method,
      headers: { authorization: `Bearer ${node.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const value = text ? JSON.parse(text) : null;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return value;
  };
}

/** kairos plus wherever the UI is served from; `uiOrigin` is what the browser opens. */
export async function startStack() {
  if (!existsSync(join(DIST, 'index.html'))) throw new Error('ui/dist is missing: run npm run build in ui/ first');
  const kairos = await startKairos();
  let proxy = null;
  let uiOrigin = kairos.origin;
  if (process.env.KAIROS_UI_PROXY === '1') {
    proxy = await startStaticServer(kairos.origin);
    uiOrigin = proxy.origin;
  } else if (!(await servesUi(kairos.origin))) {
    await kairos.stop();
    throw new Error('kairos serve does not serve the built UI from ui/dist (set KAIROS_UI_PROXY=1 to test dist through a proxy)');
  }
  return {
    kairos,
    uiOrigin,
    embedded: proxy === null,
    tokenUrl: `${uiOrigin}/?token=${kairos.token}`,
    api: apiOf(kairos),
    async stop() {
      await proxy?.stop();
      await kairos.stop();
    },
  };
}

/** Debian's Chromium, headless (playwright gives each launch a fresh temporary profile). */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}
