// End-to-end tests of the desktop app: the real binary under Xvfb, driven through
// tauri-driver + WebKitWebDriver with a few lines of the W3C WebDriver protocol (no npm
// packages). Run by tests/desktop/run.sh, which builds everything and sets the environment:
// KAIROS_DESKTOP_BIN, KAIROS_CLI_BIN, KAIROS_DB, DISPLAY, a D-Bus session bus, XDG_* dirs.
//
// The tests run in order and share one app: (1) it starts and the admin loads through
// kairos://; (2) a job created in the page runs and shows in history, with live events;
// (3) closing the window keeps the process and the job going; (4) a second launch exits at
// once, leaves one instance and re-opens the window; (5) without KAIROS_DB, the Settings
// screen switches the database and the app restarts on it. Figures (start-up, idle CPU and memory,
// re-open time) are printed and written to screenshots/figures.json; they are not asserted.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const BIN = fs.realpathSync(need("KAIROS_DESKTOP_BIN"));
const CLI = need("KAIROS_CLI_BIN");
const DB = need("KAIROS_DB");
const HERE = path.dirname(new URL(import.meta.url).pathname);
const SHOTS = process.env.KAIROS_E2E_SHOTS ?? path.join(HERE, "screenshots");
const LOG = process.env.KAIROS_E2E_LOG ?? path.join(SHOTS, "app.log");
const PORT = Number(process.env.KAIROS_E2E_PORT ?? 4444);
let port = PORT; // the tauri-driver the commands go to
const SAMPLE_S = Number(process.env.KAIROS_E2E_SAMPLE_S ?? 20);
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());

const figures = {};
let driver; // the tauri-driver process
let plainDriver; // a second one, whose app runs without KAIROS_DB
let session; // the WebDriver session id
let appPid;
let jobId;

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; run tests/desktop/run.sh`);
  return value;
}

/** One WebDriver command; returns `value` or throws with the driver's message. */
async function wd(method, route, body) {
  const response = await fetch(`http://127.0.0.1:${port}${route}`, {
    method,
    headers: { "content-type": "application/json; charset=utf-8" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(`${method} ${route}: ${response.status} ${JSON.stringify(json.value ?? json)}`);
  }
  return json.value;
}

const s = (route) => `/session/${session}${route}`;
const exec = (script, ...args) => wd("POST", s("/execute/sync"), { script, args });
const execAsync = (script, ...args) => wd("POST", s("/execute/async"), { script, args });
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

/** The first element matching a CSS selector (or `xpath:…`), waiting for it to appear. */
async function find(selector, timeoutMs = 15000) {
  const [using, value] = selector.startsWith("xpath:")
    ? ["xpath", selector.slice(6)]
    : ["css selector", selector];
  return until(`element ${selector}`, async () => (await wd("POST", s("/element"), { using, value }))[ELEMENT], timeoutMs);
}
/** Clicks an element after scrolling it to the middle of the view (clear of sticky headers). */
async function click(selector) {
  const id = await find(selector);
  await exec("arguments[0].scrollIntoView({block: 'center'})", { [ELEMENT]: id });
  return wd("POST", s(`/element/${id}/click`), {});
}
const END = "\uE010";
const BACKSPACE = "\uE003";
const valueOf = async (selector) => exec("return arguments[0].value", { [ELEMENT]: await find(selector) });
/** Replaces an input's text by typing, as a person would: End, Backspace over it, type.
 * (WebKitWebDriver keeps modifiers held to the end of a command, so no Ctrl+A.) */
async function type(selector, text) {
  const id = await find(selector);
  const old = String(await exec("return arguments[0].value", { [ELEMENT]: id }));
  return wd("POST", s(`/element/${id}/value`), { text: END + BACKSPACE.repeat(old.length) + text });
}
/** Types `text` into the database field until the page holds it: the Choose button is
 * enabled only once the field's state has the text (typed while the page still settles, it
 * can be lost to a re-render, and a click on the disabled button does nothing). */
async function enterLocation(text) {
  const field = '[data-testid="database-location"]';
  const choose = '[data-testid="database-choose"]';
  await until(`the database field to hold ${text}`, async () => {
    if ((await valueOf(field)) !== text) await type(field, text);
    const enabled = await exec("return !arguments[0].disabled", { [ELEMENT]: await find(choose) });
    return ((await valueOf(field)) === text && enabled) || null;
  });
}
const textOf = async (selector) => wd("GET", s(`/element/${await find(selector)}/text`));
/** Waits until the text of `selector` matches `re`. */
const waitText = (selector, re, timeoutMs = 15000) =>
  until(`${selector} to read ${re}`, async () => {
    const text = await textOf(selector);
    return re.test(text) ? text : null;
  }, timeoutMs);

/** Calls the API from inside the page, as the UI does: relative URL, bearer token. */
async function api(method, route, body) {
  const token = fs.readFileSync(path.join(path.dirname(DB), "token"), "utf8").trim();
  return execAsync(
    `const [method, route, body, token, done] = arguments;
     fetch(route, {method, headers: {authorization: 'Bearer ' + token,
       'content-type': 'application/json'}, body: body == null ? undefined : JSON.stringify(body)})
       .then(async r => done({status: r.status, body: await r.json().catch(() => null)}),
             e => done({status: 0, body: String(e)}));`,
    method,
    route,
    body ?? null,
    token,
  );
}

async function until(what, probe, timeoutMs = 15000, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await probe().catch((e) => e);
    if (last && !(last instanceof Error)) return last;
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}

async function screenshot(name) {
  const png = await wd("GET", s("/screenshot"));
  const file = path.join(SHOTS, name);
  fs.writeFileSync(file, Buffer.from(png, "base64"));
  return file;
}

/** Processes running our binary (by /proc/PID/exe), excluding zombies. */
function instances() {
  const pids = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readlinkSync(`/proc/${entry}/exe`) !== BIN) continue;
      if (/\) Z /.test(fs.readFileSync(`/proc/${entry}/stat`, "utf8"))) continue;
      pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

function children(pid) {
  const kids = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === pid) kids.push(Number(entry));
    } catch {}
  }
  return kids;
}

function comm(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "?";
  }
}

function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

/** Resident memory in KiB: all (RSS), private anonymous, and proportional (PSS). */
function memKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (text, name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0);
  let pss = 0;
  try {
    pss = field(fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"), "Pss");
  } catch {}
  return { rss: field(status, "VmRSS"), anon: field(status, "RssAnon"), pss };
}

/** CPU % (of one core) and RSS of the app and of its WebKit helper processes over `seconds`. */
async function measureIdle(seconds) {
  const tree = () => [appPid, ...children(appPid)];
  const before = new Map(tree().map((p) => [p, cpuTicks(p)]));
  const t0 = process.hrtime.bigint();
  await sleep(seconds * 1000);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const result = { seconds: Math.round(wall), processes: [] };
  const mib = (kib) => +(kib / 1024).toFixed(1);
  const total = { cpu: 0, rss: 0, pss: 0 };
  for (const pid of tree()) {
    let ticks;
    let mem;
    try {
      ticks = cpuTicks(pid) - (before.get(pid) ?? 0);
      mem = memKiB(pid);
    } catch {
      continue;
    }
    const pct = (100 * ticks) / (CLK_TCK * wall);
    total.cpu += pct;
    total.rss += mem.rss;
    total.pss += mem.pss;
    result.processes.push({
      name: comm(pid),
      cpu_percent: +pct.toFixed(2),
      rss_mib: mib(mem.rss),
      anon_mib: mib(mem.anon),
      pss_mib: mib(mem.pss),
    });
  }
  result.total_cpu_percent = +total.cpu.toFixed(2);
  result.total_rss_mib = mib(total.rss);
  result.total_pss_mib = mib(total.pss);
  return result;
}

/** Ports of listening TCP sockets held by `pids` (from /proc/net/tcp{,6} and their fds). */
function listeningPorts(pids) {
  const listening = new Map(); // inode -> port
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of fs.readFileSync(file, "utf8").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === "0A") listening.set(cols[9], parseInt(cols[1].split(":")[1], 16));
    }
  }
  const ports = [];
  for (const pid of pids) {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && listening.has(m[1])) ports.push(listening.get(m[1]));
      } catch {}
    }
  }
  return ports;
}

/** The port WebKitWebDriver told the app's WebKit to serve automation on, if any. */
function automationPort(pid) {
  const env = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
  const server = env.find((e) => e.startsWith("WEBKIT_INSPECTOR_SERVER="));
  return server ? Number(server.split(":").at(-1)) : null;
}

const XTOOL = path.join(HERE, "xtool.py");
const xtool = (...args) => execFileSync("python3", [XTOOL, ...args]).toString().trim();

/** The tray menu as a panel sees it: libayatana-appindicator's com.canonical.dbusmenu. */
const MENU_PATH_RE = /node (\/org\/ayatana\/NotificationItem\/[^ /]+\/Menu) /;
function gdbus(...args) {
  return execFileSync("gdbus", args, { encoding: "utf8" }).trim();
}
function trayMenu() {
  const names = gdbus("call", "--session", "--dest", "org.freedesktop.DBus", "--object-path", "/",
    "--method", "org.freedesktop.DBus.ListNames").match(/':[0-9.]+'/g).map((n) => n.slice(1, -1));
  for (const name of names) {
    try {
      const pid = gdbus("call", "--session", "--dest", "org.freedesktop.DBus", "--object-path", "/",
        "--method", "org.freedesktop.DBus.GetConnectionUnixProcessID", name).match(/\d+/g)[1];
      if (Number(pid) !== appPid) continue;
      const tree = gdbus("introspect", "--session", "--dest", name, "--object-path", "/", "--recurse");
      const path = MENU_PATH_RE.exec(tree)?.[1];
      if (path) return { name, path };
    } catch {}
  }
  throw new Error("the app exports no tray menu");
}
/** The menu's items: [{id, label, enabled, checked}]. */
function trayItems(menu) {
  const layout = gdbus("call", "--session", "--dest", menu.name, "--object-path", menu.path,
    "--method", "com.canonical.dbusmenu.GetLayout", "--", "0", "-1", "[]");
  return [...layout.matchAll(/<\((\d+), \{([^}]*)\}/g)].map(([, id, props]) => ({
    id: Number(id),
    label: /'label': <'([^']*)'>/.exec(props)?.[1] ?? "",
    enabled: !/'enabled': <false>/.test(props),
    checked: /'toggle-state': <1>/.test(props),
  })).filter((item) => item.label);
}
/** Clicks the item labelled `label`, as a panel does when a person picks it. */
function trayClick(menu, label) {
  const item = trayItems(menu).find((i) => i.label === label);
  assert.ok(item, `no tray item '${label}' in ${JSON.stringify(trayItems(menu))}`);
  gdbus("call", "--session", "--dest", menu.name, "--object-path", menu.path,
    "--method", "com.canonical.dbusmenu.Event", "--", String(item.id), "'clicked'", "<0>", "0");
}

function logLines(pattern) {
  const text = fs.existsSync(LOG) ? fs.readFileSync(LOG, "utf8") : "";
  return text.split("\n").filter((l) => pattern.test(l));
}

function cliRuns(job) {
  const out = execFileSync(CLI, ["--db", DB, "runs", "--job", job, "--limit", "1000", "--json"]);
  return JSON.parse(out.toString());
}

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  const log = fs.openSync(LOG, "w");
  driver = spawn("tauri-driver", ["--port", String(PORT), "--native-port", String(PORT + 1)], {
    stdio: ["ignore", log, log],
  });
  await until("tauri-driver", async () => (await fetch(`http://127.0.0.1:${PORT}/status`)).ok, 15000);
});

after(async () => {
  fs.writeFileSync(path.join(SHOTS, "figures.json"), JSON.stringify(figures, null, 2) + "\n");
  console.log("figures:", JSON.stringify(figures, null, 2));
  if (session) await wd("DELETE", `/session/${session}`).catch(() => {});
  // The session's end closes the app; make sure nothing of ours outlives the run.
  for (const pid of instances()) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {}
  }
  driver?.kill("SIGTERM");
  plainDriver?.kill("SIGTERM");
});

test("the app starts and the admin UI loads through kairos:// without a TCP port", { timeout: 120000 }, async () => {
  const t0 = Date.now();
  const created = await wd("POST", "/session", {
    capabilities: { alwaysMatch: { "tauri:options": { application: BIN } } },
  });
  session = created.sessionId;
  const page = await until("the admin page", async () => {
    const p = await exec(
      `return {ready: document.readyState, href: location.href, title: document.title,
        nav: !!document.querySelector('[data-testid="nav"]'),
        tauri: typeof window.__TAURI__?.event?.listen}`,
    );
    return p.ready === "complete" && p.nav ? p : null;
  });
  figures.cold_start_to_ui_ms = Date.now() - t0;
  // The UI took the token from ?token= and dropped it from the address.
  assert.doesNotMatch(page.href, /token=/);
  // Live: the UI's Tauri transport is listening to kairos://event.
  await waitText('[data-testid="stream-status"]', /Live/);
  figures.cold_start_to_live_ms = Date.now() - t0;
  const timing = await exec(
    `const n = performance.getEntriesByType('navigation')[0];
     const paint = performance.getEntriesByType('paint').map(p => [p.name, Math.round(p.startTime)]);
     return {load_ms: Math.round(n ? n.loadEventEnd : 0), paint: Object.fromEntries(paint)};`,
  );
  figures.page_load_event_ms = timing.load_ms;
  figures.page_paint_ms = timing.paint;
  const ready = logLines(/window ready in/)[0];
  figures.app_log_first_window = ready?.replace(/^.*window ready/, "window ready");

  assert.match(page.href, /^kairos:\/\/localhost\//);
  assert.match(page.title, /Kairos/);
  assert.equal(page.tauri, "function", "window.__TAURI__.event.listen is there (withGlobalTauri)");

  const pids = instances();
  assert.equal(pids.length, 1, `one app process, found ${pids}`);
  appPid = pids[0];
  // Under WebDriver, WebKit itself serves automation on a port it is given; nothing else.
  const ports = listeningPorts([appPid, ...children(appPid)]);
  const automation = automationPort(appPid);
  assert.deepEqual(ports.filter((p) => p !== automation), [], `listening: ${ports}, automation: ${automation}`);
  await screenshot("01-window.png");
  xtool("shot", path.join(SHOTS, "01-screen.png"));
  await sleep(5000); // let the dashboard settle (charts, first queries)
  figures.window_open_idle = await measureIdle(SAMPLE_S); // no jobs yet
});

test("a job created in the UI runs and shows in its history; events arrive live", { timeout: 120000 }, async () => {
  // Listen to the Tauri event the UI's transport uses, before anything happens.
  await execAsync(
    `const done = arguments[arguments.length - 1];
     window.__events = [];
     window.__TAURI__.event.listen('kairos://event', e => window.__events.push(e.payload))
       .then(() => done(true), e => done(String(e)));`,
  );
  // A person's way: Jobs, New job, name, command, an interval of 2 s, Save.
  await click(`xpath://*[@data-testid="nav"]//*[normalize-space(text())="Jobs"]`);
  await click('[data-testid="new-job"]');
  await find('[data-testid="job-editor"]');
  await type('[data-testid="job-name"]', "e2e tick");
  await type('[data-testid="shell-command"]', "echo tick");
  await click(`xpath://*[@data-testid="trigger-mode"]//*[contains(@class,"ant-radio-button-wrapper")][normalize-space(.)="Interval"]`);
  // Nothing is pre-filled: 2 s is 2 s.
  await find('input[id$="trigger_seconds"]');
  await type('input[id$="trigger_seconds"]', "2");
  assert.equal(await valueOf('[data-testid="job-name"]'), "e2e tick");
  assert.match(await valueOf('input[id$="trigger_seconds"]'), /^2(\.0)?$/);
  assert.equal(await valueOf('input[id$="trigger_minutes"]'), "");
  await screenshot("02-editor.png");
  await click('[data-testid="save-job"]');
  await waitText('[data-testid="job-title"]', /e2e tick/);
  const list = await api("GET", "/api/jobs");
  jobId = list.body.items.find((j) => j.name === "e2e tick")?.id;
  assert.ok(jobId, `the job is in the API: ${JSON.stringify(list.body)}`);
  assert.deepEqual(list.body.items.find((j) => j.id === jobId).trigger.seconds, 2);

  // Its runs show in the job's history on screen and in /api/runs.
  await waitText('[data-testid="run-history"]', /Succeeded/, 20000);
  const runs = await until("a succeeded run in /api/runs", async () => {
    const r = await api("GET", `/api/runs?job_id=${encodeURIComponent(jobId)}`);
    return r.body?.items?.some((run) => run.state === "succeeded") ? r.body.items : null;
  }, 20000, 500);
  assert.ok(runs.every((run) => run.job_id === jobId));
  await screenshot("03-job-detail.png");

  const events = await until("live events in the page", async () => {
    const seen = await exec("return window.__events");
    const types = seen.filter((e) => e.job_id === jobId).map((e) => e.type);
    return types.includes("job_added") && types.includes("run_succeeded") ? types : null;
  });
  assert.ok(events.includes("run_started"), events.join());

  // The CSP the desktop serves: scripts from the app only, IPC allowed.
  const csp = await execAsync(
    `const done = arguments[0];
     fetch('/').then(r => done(r.headers.get('content-security-policy')), e => done(String(e)));`,
  );
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /connect-src 'self' ipc: http:\/\/ipc\.localhost/);

  // The capability grants event listening only: the page cannot, say, turn on autostart.
  const denied = await execAsync(
    `const done = arguments[0];
     window.__TAURI__.core.invoke('plugin:autostart|enable').then(() => done('allowed'), e => done(String(e)));`,
  );
  assert.match(denied, /not allowed/i, denied);
});

test("a failing job raises a notification unless its notify option is off", { timeout: 120000 }, async () => {
  const failing = { trigger: { type: "interval", seconds: 2 }, action: { kind: "shell", command: "echo broken >&2; exit 3" } };
  const loud = await api("POST", "/api/jobs", { name: "e2e loud", ...failing });
  const quiet = await api("POST", "/api/jobs", { name: "e2e quiet", ...failing, options: { notify: false } });
  assert.equal(loud.status, 201, JSON.stringify(loud.body));
  assert.equal(quiet.status, 201, JSON.stringify(quiet.body));
  for (const job of [loud.body, quiet.body]) {
    await until(`a failed run of ${job.name}`, async () => {
      const r = await api("GET", `/api/runs?job_id=${encodeURIComponent(job.id)}&state=failed`);
      return r.body?.items?.length >= 2 ? true : null;
    }, 20000, 500);
    assert.equal((await api("DELETE", `/api/jobs/${encodeURIComponent(job.id)}`)).status, 204);
  }
  const shown = logLines(/notification/).join("\n");
  assert.match(shown, /“e2e loud” failed/);
  assert.doesNotMatch(shown, /e2e quiet/);
  // Two failures, one notification: at most one a minute per job.
  assert.equal(logLines(/“e2e loud” failed/).length, 1, shown);
});

test("the tray menu: status line, pause and resume all, start at login", { timeout: 120000 }, async () => {
  const menu = trayMenu();
  const labels = () => trayItems(menu).map((i) => i.label);
  const status = () => trayItems(menu).find((i) => !i.enabled)?.label;
  assert.deepEqual(labels().filter((l) => !/running|paused/.test(l)), ["Open Kairos", "Pause all", "Start at login", "Quit"]);
  await until("the status line", async () => (/^\d+ running · next /.test(status()) ? true : null), 10000);
  figures.tray_status_line = status();

  trayClick(menu, "Pause all");
  await until("the pause", async () => ((await api("GET", "/api/scheduler")).body?.paused === true ? true : null), 5000);
  assert.equal(status(), "All jobs paused");
  assert.ok(labels().includes("Resume all"));
  await screenshot("04-paused-from-tray.png");
  trayClick(menu, "Resume all");
  await until("the resume", async () => ((await api("GET", "/api/scheduler")).body?.paused === false ? true : null), 5000);
  assert.ok(labels().includes("Pause all"));

  const entry = path.join(process.env.HOME, ".config", "autostart", "Kairos.desktop");
  trayClick(menu, "Start at login");
  await until("the autostart entry", async () => (fs.existsSync(entry) ? true : null), 5000);
  assert.match(fs.readFileSync(entry, "utf8"), /^Exec=.*kairos-desktop --hidden$/m);
  assert.equal(trayItems(menu).find((i) => i.label === "Start at login").checked, true);
  trayClick(menu, "Start at login");
  await until("the entry to go", async () => (fs.existsSync(entry) ? null : true), 5000);
  assert.equal(trayItems(menu).find((i) => i.label === "Start at login").checked, false);
});

test("after the window is closed the app keeps running and the job keeps firing", { timeout: 120000 }, async () => {
  assert.ok(jobId, "needs the job from the previous test");
  const helpersOpen = children(appPid).map(comm);
  // As a window manager's close button does (WebDriver's "close window" only drops the webview).
  xtool("close", String(appPid));
  await until("the window to close", async () => (logLines(/window closed; its webview is released/).length ? true : null), 10000);
  await sleep(2000);
  assert.equal(xtool("count", String(appPid)), "0", "no window left on screen");
  assert.equal(logLines(/Kairos is still running/).length, 1, "the tray hint is shown on the first close");
  const state = path.join(process.env.XDG_CONFIG_HOME, "app.kairos.desktop", ".window-state.json");
  assert.ok(fs.existsSync(state), "the window's size and position are saved when it closes");
  xtool("shot", path.join(SHOTS, "04-screen-closed.png"));
  assert.deepEqual(instances(), [appPid], "the app process is still there");
  const helpersHidden = children(appPid).map(comm);

  const before = cliRuns(jobId).length;
  const after = await until("more runs in the database", async () => {
    const n = cliRuns(jobId).length;
    return n >= before + 2 ? n : null;
  }, 15000, 1000);
  assert.ok(after >= before + 2, `runs went from ${before} to ${after}`);
  // Idle as in the first test: no job firing (the CLI pauses it; the app notices within 1 s).
  execFileSync(CLI, ["--db", DB, "job", "pause", jobId]);
  // Some seconds after the close the app gives back what only the window needed.
  const trimmed = await until("the app to trim", async () => logLines(/heap given back to the system/).at(-1) ?? null, 30000, 500);
  figures.trim_log = trimmed.replace(/\x1b\[[0-9;]*m/g, "").replace(/^.*trim:\s*/, "");
  const alive = (pid) => !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  const helpersTrimmed = await until("no WebKit process left behind", async () => {
    const left = children(appPid).filter(alive).map(comm);
    return left.some((n) => n.startsWith("WebKit")) ? null : left;
  }, 5000);
  figures.helper_processes = { window_open: helpersOpen, window_closed: helpersHidden, trimmed: helpersTrimmed };
  await sleep(1500);
  figures.hidden_idle = await measureIdle(SAMPLE_S);
});

test("a second launch exits promptly, leaves one instance and re-opens the window", { timeout: 120000 }, async () => {
  const reopenedBefore = logLines(/window ready in/).length;
  const t0 = Date.now();
  const second = spawn(BIN, [], { stdio: ["ignore", "ignore", "pipe"], env: process.env });
  let stderr = "";
  second.stderr.on("data", (d) => (stderr += d));
  const stuck = setTimeout(() => second.kill("SIGKILL"), 15000);
  const code = await new Promise((resolve) => second.on("exit", (c, sig) => resolve(c ?? sig)));
  clearTimeout(stuck);
  figures.second_launch_exit_ms = Date.now() - t0;
  assert.equal(code, 0, `the second launch exited with ${code}: ${stderr}`);
  assert.ok(figures.second_launch_exit_ms < 10000, `it took ${figures.second_launch_exit_ms} ms`);
  assert.deepEqual(instances(), [appPid], "one instance, the first");

  const line = await until("the first instance to re-open its window", async () => {
    const lines = logLines(/window ready in/);
    return lines.length > reopenedBefore ? lines.at(-1) : null;
  }, 10000);
  figures.reopen = line.replace(/^.*window ready/, "window ready");
  figures.reopen_seen_by_test_ms = Date.now() - t0;
  assert.equal(xtool("count", String(appPid)), "1", "the window is back");
  await sleep(2000); // loaded is not yet painted
  xtool("shot", path.join(SHOTS, "05-screen-reopened.png"));
});

test("closing again gives no second hint; the tray re-opens the window and quits", { timeout: 120000 }, async () => {
  const menu = trayMenu();
  xtool("close", String(appPid));
  await until("the window to close again", async () => (logLines(/window closed; its webview/).length >= 2 ? true : null), 10000);
  assert.equal(logLines(/Kairos is still running/).length, 1, "the hint is shown once");

  const readyBefore = logLines(/window ready in/).length;
  trayClick(menu, "Open Kairos");
  await until("the window from the tray", async () => (logLines(/window ready in/).length > readyBefore ? true : null), 10000);
  assert.equal(xtool("count", String(appPid)), "1");
  figures.reopen_from_tray = logLines(/window ready in/).at(-1).replace(/^.*window ready/, "window ready");

  trayClick(menu, "Quit");
  await until("the app to exit", async () => (instances().length === 0 ? true : null), 40000, 200);
  assert.equal(logLines(/Kairos stopped/).length, 1);
});

test("--hidden (start at login) starts in the tray; a launch then opens the window", { timeout: 120000 }, async () => {
  assert.deepEqual(instances(), [], "the previous app is gone");
  const log = fs.openSync(LOG, "a");
  const hidden = spawn(BIN, ["--hidden"], { stdio: ["ignore", log, log], env: process.env });
  try {
    await until("the engine to start", async () => (logLines(/engine started/).length >= 2 ? true : null), 20000);
    await sleep(1500);
    assert.equal(xtool("count", String(hidden.pid)), "0", "no window at start");
    const readyBefore = logLines(/window ready in/).length;
    execFileSync(BIN, [], { env: process.env, stdio: "ignore", timeout: 15000 });
    await until("the window", async () => (logLines(/window ready in/).length > readyBefore ? true : null), 15000);
    assert.equal(xtool("count", String(hidden.pid)), "1");
  } finally {
    hidden.kill("SIGTERM");
    await new Promise((resolve) => hidden.on("exit", resolve));
  }
  assert.equal(logLines(/Kairos stopped/).length, 2, "SIGTERM quits gracefully");
});

test("without KAIROS_DB, Settings switches the database and the app restarts on it", { timeout: 180000 }, async () => {
  assert.deepEqual(instances(), [], "the previous app is gone");
  const env = { ...process.env };
  delete env.KAIROS_DB;
  const log = fs.openSync(LOG, "a");
  port = PORT + 2;
  plainDriver = spawn("tauri-driver", ["--port", String(port), "--native-port", String(port + 1)], {
    stdio: ["ignore", log, log],
    env,
  });
  await until("the second tauri-driver", async () => (await fetch(`http://127.0.0.1:${port}/status`)).ok, 15000);
  session = (await wd("POST", "/session", {
    capabilities: { alwaysMatch: { "tauri:options": { application: BIN } } },
  })).sessionId;
  const [first] = await until("the app", async () => (instances().length === 1 ? instances() : null), 20000);

  await click(`xpath://*[@data-testid="nav"]//*[normalize-space(text())="Settings"]`);
  const defaultDb = path.join(process.env.XDG_DATA_HOME, "kairos", "kairos.db");
  assert.equal(await waitText('[data-testid="database-in-use"]', /kairos\.db$/), defaultDb);
  await waitText('[data-testid="database-card"]', /Chosen by\s*the default/);

  // A relative name is refused on the field, and nothing is kept. The click is made again
  // while no answer shows: once in a few runs no answer ever showed after the first click on
  // the fresh page (the card unchanged for 15 s; the cause is not found), and a choice
  // refused changes nothing, so asking again is safe.
  await until("a relative name to be refused", async () => {
    const card = await textOf('[data-testid="database-card"]');
    if (/give the full path of a SQLite file/.test(card)) return card;
    await enterLocation("jobs.db");
    await click('[data-testid="database-choose"]');
    return null;
  }, 30000, 1000);
  const settingsFile = path.join(process.env.XDG_CONFIG_HOME, "kairos", "desktop.json");
  assert.equal(fs.existsSync(settingsFile), false);
  await screenshot("07-database-refused.png");

  // A full path opens (the file is made and migrated), is kept, and waits for a restart.
  const switched = path.join(path.dirname(DB), "switched.db");
  await enterLocation(switched);
  await click('[data-testid="database-choose"]');
  await waitText('[data-testid="database-next"]', new RegExp(`After a restart Kairos uses\\s*${switched}`));
  assert.deepEqual(JSON.parse(fs.readFileSync(settingsFile, "utf8")), { database: switched });
  assert.ok(fs.existsSync(switched), "the chosen file was created");
  await sleep(500); // the alert's entrance animation
  await screenshot("08-database-chosen.png");

  // Restart: this process quits, a new one starts on the chosen file with its window open.
  const t0 = Date.now();
  const stopped = logLines(/Kairos stopped/).length;
  const windows = logLines(/window ready in/).length;
  await click('[data-testid="database-restart"]');
  await click(".ant-modal-confirm-btns .ant-btn-primary");
  await until("the old process to exit", async () => (instances().includes(first) ? null : true), 45000);
  assert.equal(logLines(/Kairos stopped/).length, stopped + 1, "the old process stopped gracefully");
  const [second] = await until("the restarted app", async () => (instances().length === 1 ? instances() : null), 20000);
  assert.notEqual(second, first);
  const node = await until("the restarted app's node in the chosen file", async () => {
    const nodes = JSON.parse(execFileSync(CLI, ["--db", switched, "nodes", "--json"]).toString());
    return nodes.items.find((n) => n.pid === second && n.state === "alive") ?? null;
  }, 20000, 300);
  figures.database_restart_ms = Date.now() - t0;
  assert.ok(node.id);
  // The new process logs where the old one did: its window opens and its page loads.
  await until("its window", async () => (logLines(/window ready in/).length > windows ? true : null), 30000);
  assert.equal(xtool("count", String(second)), "1");
  assert.equal(logLines(/Kairos restarted as process/).length, 1);
  await sleep(1000);
  xtool("shot", path.join(SHOTS, "09-screen-restarted.png"));

  process.kill(second, "SIGTERM");
  await until("the restarted app to quit", async () => (instances().length === 0 ? true : null), 40000);
  await wd("DELETE", `/session/${session}`).catch(() => {});
  session = undefined;
});
