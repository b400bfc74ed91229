// Run the extension in a real VS Code: the VS Code 1.100.3 server inside code-server,
// its web workbench in Debian's headless Chromium (driven by playwright-core; no browser
// is downloaded), the real `np serve` on temporary databases.
//
//   node scripts/real-host/run.mjs [--package | --vsix FILE] [--shots DIR] [--no-host] [--no-ui]
//
//   --package   build np-plan-<version>.vsix first and install it for the UI check (else the UI
//               window loads this folder as a development extension)
//
// Two code-servers run side by side, each with its own home, user data and settings (so the
// in-host suite's changes to global settings never reach the UI window), each with a window:
//
// 1. In-host tests: a window opens with code-server's test payload (extensionDevelopmentPath
//    = this folder, extensionTestsPath = out/host/suite.js), so test/host/suite.ts runs inside
//    the real extension host with the real `vscode` API. Workspace Trust is on and the
//    workspace untrusted: its own np.serverCommand must be ignored. The workbench reports the
//    suite's exit code through window.codeAutomationExit.
// 2. UI check (unless --no-ui): the other window (trusted, the .vsix installed when given)
//    shows a CLI-made plan; the checks look at the DOM a person sees, a CLI change must
//    appear live, a task is added through the view's + button and the quick input, and
//    screenshots are saved (to --shots, else the run's temporary folder).
// 3. The extension hosts' logs must hold no `[error]` of this extension.
//
// Set-up: scripts/real-host/setup.sh (apt packages, code-server built once under
// ~/.cache/np-ci/). Exit code 0 only when everything passed. Environment: NP_BIN (else
// ../../.venv/bin/np, else np on PATH), NP_CI_CACHE, KEEP=1 keeps the temporary folder.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const EXT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const SHOTS = opt('--shots') ? resolve(opt('--shots')) : undefined;
const PACKAGE = args.includes('--package');
const VERSION = JSON.parse(readFileSync(join(EXT, 'package.json'), 'utf8')).version;
const VSIX = opt('--vsix') ? resolve(opt('--vsix')) : PACKAGE ? join(EXT, `np-plan-${VERSION}.vsix`) : undefined;
const UI = !args.includes('--no-ui');
const HOST = !args.includes('--no-host');
const PORT = Number(process.env.PORT ?? 0) || 20000 + Math.floor(Math.random() * 20000); // and PORT+1

const t0 = Date.now();
const secs = () => ((Date.now() - t0) / 1000).toFixed(1);
const say = (s) => console.log(`[real-host ${secs()}s] ${s}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function findNp() {
  if (process.env.NP_BIN) return resolve(process.env.NP_BIN);
  const local = resolve(EXT, '..', '..', '.venv', 'bin', 'np');
  if (existsSync(local)) return local;
  return execFileSync('sh', ['-c', 'command -v np'], { encoding: 'utf8' }).trim();
}
const NP = findNp();
if (PACKAGE) execFileSync('npm', ['run', '--silent', 'package'], { cwd: EXT, stdio: ['ignore', 'ignore', 'inherit'] });
execFileSync('node', [join(EXT, 'scripts', 'build.mjs'), '--host'], { cwd: EXT, stdio: 'inherit' });
// setup.sh prints the code-server directory on stdout and nothing else (its progress is on stderr).
const CS = execFileSync(join(EXT, 'scripts', 'real-host', 'setup.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
if (CS.includes('\n') || !existsSync(join(CS, 'out', 'node', 'entry.js'))) {
  console.error(`real-host: setup.sh printed ${JSON.stringify(CS)} on stdout, not a code-server directory`);
  process.exit(1);
}
say(`code-server ${CS}, np ${NP}`);

// -- a scratch world: home, databases, folders, plans made with the CLI -------------------------
const TMP = realpathSync(mkdtempSync(join(tmpdir(), 'np-vscode-')));
const WS = join(TMP, 'ws');
mkdirSync(WS, { recursive: true });
const DB = join(TMP, 'np.db');
const DB2 = join(TMP, 'np2.db');
const DB3 = join(TMP, 'np3.db'); // the UI window's, named by its (trusted) workspace settings
const folder = (name) => {
  const p = join(WS, name);
  mkdirSync(p, { recursive: true });
  return p;
};
const np = (db, dir, ...a) => execFileSync(NP, ['--db', db, '-C', dir, ...a, '--json'], { encoding: 'utf8', env: { ...process.env, NP_DB: '' } });
const ALPHA = folder('alpha');
const BETA = folder('beta');
const UIWS = folder('login-page');
writeFileSync(join(ALPHA, 'notes.md'), '# alpha\n');
writeFileSync(join(BETA, 'notes.md'), '# beta\n');
writeFileSync(
  join(UIWS, 'login.html'),
  [
    '<form id="login" method="post" action="/api/login">',
    '  <label>E-mail <input name="email" type="email" autocomplete="username" required></label>',
    '  <label>Password <input name="password" type="password" autocomplete="current-password" required></label>',
    '  <button type="submit">Sign in</button>',
    '</form>',
    '',
  ].join('\n'),
);
np(DB, ALPHA, 's');
np(DB, ALPHA, 'g', 's', '-t', 'Alpha goal', '-d', 'Made by the CLI before VS Code started');
np(DB, ALPHA, 't', 'a', '-t', 'First task', '-d', 'one', '-t', 'Second task', '-t', 'Third task');
np(DB, BETA, 's');
np(DB, BETA, 'g', 's', '-t', 'Beta goal', '-d', 'The second folder');
np(DB, BETA, 't', 'a', '-t', 'Beta task');
np(DB2, ALPHA, 's');
np(DB2, ALPHA, 'g', 's', '-t', 'Goal in the second database', '-d', 'Used when np.databasePath points at it');
np(DB3, UIWS, 's');
np(DB3, UIWS, 'g', 's', '-t', 'Ship the login page', '-d', 'Issue 42: a login form with validation and a session cookie.\nFiles: login.html, src/session.ts');
const uiTasks = JSON.parse(np(DB3, UIWS, 't', 'a', '-t', 'Design the form', '-d', 'Fields, errors, focus order', '-t', 'Validate the input', '-t', 'Call the login API', '-t', 'Set the session cookie', '-t', 'Write the end-to-end test')).added;
np(DB3, UIWS, 't', 'u', '-i', uiTasks[0], '-s', 'completed', '-i', uiTasks[1], '-s', 'completed', '-i', uiTasks[2], '-s', 'in_progress');

// The untrusted workspace names a program of its own; it must never run.
const MARKER = join(TMP, 'untrusted-program-ran');
const EVIL = join(TMP, 'evil-np');
writeFileSync(EVIL, `#!/bin/sh\ntouch '${MARKER}'\nexec '${NP}' "$@"\n`);
chmodSync(EVIL, 0o755);
const WORKSPACE_FILE = join(WS, 'np-test.code-workspace');
writeFileSync(WORKSPACE_FILE, JSON.stringify({ folders: [{ path: 'alpha' }], settings: { 'np.serverCommand': [EVIL, 'serve'], 'np.databasePath': join(TMP, 'evil.db') } }, null, 2));

// The UI window: two folders, the login page first; VS Code's terminal finds `np` on PATH.
const UI_WORKSPACE = join(WS, 'login.code-workspace');
const API = folder('api-server');
writeFileSync(join(API, 'server.ts'), 'export const port = 8080;\n');
// Trusted, so its own np.databasePath counts: the plan shows only if it does.
writeFileSync(
  UI_WORKSPACE,
  JSON.stringify({ folders: [{ path: 'login-page' }, { path: 'api-server' }], settings: { 'np.databasePath': DB3, 'terminal.integrated.env.linux': { NP_DB: DB3 } } }, null, 2),
);

const CONFIG = join(TMP, 'host-test.json');
const LOG = join(TMP, 'host-test.log');

// -- code-server: one per window, each with its own home, user data and settings, so the
//    in-host suite's global setting changes never reach the UI window; they run side by side.
let browser;
const failed = [];
const servers = [];

async function startCodeServer(tag, { trust, env = {} }) {
  const home = join(TMP, `home-${tag}`);
  const data = join(TMP, `data-${tag}`);
  const port = PORT + servers.length;
  mkdirSync(join(data, 'User'), { recursive: true });
  mkdirSync(join(home, '.local', 'bin'), { recursive: true });
  // A login shell that finds np, with a short prompt (for VS Code's terminal in the pictures).
  execFileSync('ln', ['-sf', NP, join(home, '.local', 'bin', 'np')]);
  writeFileSync(join(home, '.profile'), 'export PATH="$HOME/.local/bin:$PATH"\n[ -f ~/.bashrc ] && . ~/.bashrc\n');
  writeFileSync(join(home, '.bashrc'), 'export PATH="$HOME/.local/bin:$PATH"\nPS1="\\W \\$ "\n');
  const settings = {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'security.workspace.trust.enabled': trust,
    'security.workspace.trust.startupPrompt': 'never',
    'security.workspace.trust.banner': 'never',
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'git.enabled': false,
    'window.commandCenter': false,
    'chat.commandCenter.enabled': false,
    'workbench.colorTheme': 'Default Dark Modern',
    'np.serverCommand': [NP, 'serve'],
  };
  writeFileSync(join(data, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  writeFileSync(join(data, 'config.yaml'), `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const csEnv = {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_CACHE_HOME: join(home, '.cache'),
    NP_DB: DB,
    NP_BIN: NP,
    ...env, // the extension host inherits these (its PATH comes from the login shell)
  };
  const csArgs = [join(CS, 'out', 'node', 'entry.js'), '--config', join(data, 'config.yaml'), '--user-data-dir', data, '--extensions-dir', join(data, 'ext')];
  if (VSIX && tag === 'ui') {
    execFileSync('node', [...csArgs, '--install-extension', VSIX], { env: csEnv, stdio: ['ignore', 'ignore', 'inherit'] });
    say(`${tag}: installed ${VSIX}`);
  }
  const proc = spawn('node', [...csArgs, '--disable-telemetry', '--disable-update-check', '--disable-getting-started-override', '--ignore-last-opened'], {
    env: csEnv,
    detached: true, // its own process group: extension hosts and np serve go with it
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server = { tag, proc, data, port, url: `http://127.0.0.1:${port}`, out: [] };
  proc.stdout.on('data', (b) => server.out.push(b));
  proc.stderr.on('data', (b) => server.out.push(b));
  servers.push(server);
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${server.url}/healthz`)).ok) break;
    } catch {}
    if (i > 240 || proc.exitCode !== null) throw new Error(`code-server (${tag}) did not start:\n${Buffer.concat(server.out)}`);
    await sleep(250);
  }
  say(`${tag}: code-server up at ${server.url}`);
  return server;
}

async function cleanup() {
  try {
    await browser?.close();
  } catch {}
  for (const s of servers) {
    try {
      process.kill(-s.proc.pid, 'SIGTERM');
    } catch {}
  }
  await sleep(300);
  for (const s of servers) {
    try {
      process.kill(-s.proc.pid, 'SIGKILL');
    } catch {}
    writeFileSync(join(TMP, `code-server-${s.tag}.log`), Buffer.concat(s.out));
  }
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
process.on('SIGTERM', () => void cleanup().then(() => process.exit(143)));

// 1. in-host tests: Workspace Trust on, so the test workspace is untrusted.
async function inHost() {
  const server = await startCodeServer('host', { trust: true, env: { NP_HOST_TEST_CONFIG: CONFIG } });
  writeFileSync(CONFIG, JSON.stringify({ np: NP, db: DB, db2: DB2, alpha: ALPHA, beta: BETA, marker: MARKER, evil: EVIL, log: LOG, logs: join(server.data, 'logs') }, null, 2));
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  let resolveExit;
  const exit = new Promise((r) => (resolveExit = r));
  await page.exposeFunction('codeAutomationExit', (code) => resolveExit(code));
  const remote = (p) => `vscode-remote://127.0.0.1:${server.port}${p}`;
  const payload = JSON.stringify([
    ['extensionDevelopmentPath', remote(EXT)],
    ['extensionTestsPath', remote(join(EXT, 'out', 'host', 'suite.js'))],
  ]);
  say('host: opening the workbench with the test payload');
  await page.goto(`${server.url}/?workspace=${encodeURIComponent(WORKSPACE_FILE)}&payload=${encodeURIComponent(payload)}`);
  const code = await Promise.race([exit, sleep(180_000).then(() => 'timeout')]);
  if (existsSync(LOG)) process.stdout.write(readFileSync(LOG, 'utf8').replace(/^/gm, '  '));
  if (code !== 0) {
    failed.push(`in-host tests: exit ${code}`);
    for (const e of consoleErrors.slice(-10)) console.log(`  console: ${e}`);
  }
  say(`host: in-host tests exit code ${code}`);
  await page.close();
}

// 2. UI check: a trusted window, as most people have it.
async function ui() {
  const server = await startCodeServer('ui', { trust: false });
  const shots = SHOTS ?? join(TMP, 'shots');
  mkdirSync(shots, { recursive: true });
  const { uiCheck } = await import('./ui.mjs');
  try {
    await uiCheck({ browser, url: server.url, workspace: UI_WORKSPACE, np: (...a) => np(DB3, UIWS, ...a), npOther: (...a) => np(DB3, API, ...a), shots, devExtension: VSIX ? undefined : EXT, port: server.port, say });
    say(`ui: UI check passed; screenshots in ${shots}`);
  } catch (err) {
    failed.push(`UI check: ${err.message}`);
    say(`ui: UI check FAILED: ${err.stack}`);
  }
}

try {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const runs = [];
  if (HOST) runs.push(inHost());
  if (UI) runs.push(ui());
  for (const r of await Promise.allSettled(runs)) if (r.status === 'rejected') failed.push(String(r.reason?.stack ?? r.reason));
} catch (err) {
  failed.push(String(err.stack ?? err));
} finally {
  await cleanup();
}

// 3. the extension hosts' logs ----------------------------------------------------------------
const hostLogs = [];
const walk = (d) => {
  if (!existsSync(d)) return;
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name === 'remoteexthost.log' || e.name === 'exthost.log') hostLogs.push(p);
  }
};
for (const s of servers) walk(join(s.data, 'logs'));
if (hostLogs.length === 0) failed.push('no extension host log was written');
for (const file of hostLogs) {
  // An entry is a timestamped line plus its continuation lines (a stack).
  const entries = readFileSync(file, 'utf8').split(/\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)/);
  for (const e of entries) {
    if (/\[error\]/.test(e) && /np-plan|nasin-pali|editors\/vscode/.test(e)) failed.push(`extension host log ${file}:\n${e}`);
  }
  const activated = entries.filter((e) => /nasin-pali\.np-plan/.test(e) && /activat/i.test(e)).length;
  say(`${file.slice(TMP.length + 1)}: ${activated} activation line(s) of np-plan`);
}

if (failed.length) {
  // What the extension itself logged (its np output channel), for the failure's story.
  for (const file of hostLogs) {
    const npLog = join(dirname(file), 'nasin-pali.np-plan', 'np.log');
    if (existsSync(npLog)) console.log(`--- ${npLog.slice(TMP.length + 1)} (last 40 lines)\n${readFileSync(npLog, 'utf8').split('\n').slice(-40).join('\n')}`);
  }
  for (const s of servers) console.log(`--- code-server (${s.tag}) output, last 20 lines\n${Buffer.concat(s.out).toString().split('\n').slice(-20).join('\n')}`);
}
say(failed.length ? `FAILED\n${failed.join('\n')}` : 'passed');
if (!failed.length && process.env.KEEP !== '1') rmSync(TMP, { recursive: true, force: true });
else say(`kept ${TMP}`);
process.exit(failed.length ? 1 : 0);
