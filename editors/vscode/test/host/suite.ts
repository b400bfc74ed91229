// In-host tests: this module runs INSIDE a real VS Code extension host (extensionTestsPath,
// started by scripts/real-host/run.mjs), with the real `vscode` API, the extension loaded as a
// development extension and the real `np serve` on a temporary database.
//
// Input boxes, quick picks and message boxes are answered by replacing the functions of
// `vscode.window` in this host: the test module belongs to the same extension, so it shares
// the extension's API object. Everything else — the view, the status bar, commands, settings,
// workspace folders, Workspace Trust, the language client and the server process — is real.
// The CLI checks what reached the database, in another process.
//
// run() resolves when every test passed and rejects otherwise; the workbench turns that into
// the exit code. Progress goes to the log file named in $NP_HOST_TEST_CONFIG.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as vscode from 'vscode';
import type { NpApi } from '../../src/extension';
import type { Plan } from '../../src/model';

interface Config {
  np: string;
  db: string;
  db2: string;
  alpha: string;
  beta: string;
  marker: string;
  evil: string;
  log: string;
  logs: string;
}

const config = JSON.parse(readFileSync(process.env['NP_HOST_TEST_CONFIG'] ?? '', 'utf8')) as Config;
const log = (line: string) => appendFileSync(config.log, `${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const execFileP = promisify(execFile);

async function cli(dir: string, ...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await execFileP(config.np, ['--db', config.db, '-C', dir, ...args, '--json'], { env: { ...process.env, NP_DB: '' } });
  return JSON.parse(stdout) as Record<string, unknown>;
}
const cliPlan = async (dir: string) => (await cli(dir, 'p')) as unknown as Plan;

async function until<T>(what: string, probe: () => T | Promise<T>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${String(last)})`);
    await sleep(40);
  }
}

// -- scripted answers to the extension's questions ---------------------------------------------

type InputAnswer = string | undefined | ((options: vscode.InputBoxOptions) => string | undefined);
type PickAnswer = string | undefined; // a substring of the label to choose; undefined = Escape
interface Shown {
  level: 'info' | 'warning' | 'error';
  message: string;
  items: string[];
}

const ui = {
  inputs: [] as InputAnswer[],
  picks: [] as PickAnswer[],
  buttons: [] as (string | undefined)[], // answers to message boxes that offer buttons and wait
  shown: [] as Shown[],
  prompts: [] as string[],
  rejected: [] as string[], // what validateInput refused
};

function stubWindow(): void {
  const w = vscode.window as unknown as Record<string, unknown>;
  w['showInputBox'] = async (options: vscode.InputBoxOptions = {}) => {
    for (;;) {
      assert.ok(ui.inputs.length > 0, `unexpected input box: ${options.title ?? ''} ${options.prompt ?? ''}`);
      ui.prompts.push(`${options.title ?? ''}: ${options.prompt ?? ''}`);
      const a = ui.inputs.shift();
      const value = typeof a === 'function' ? a(options) : a;
      if (value !== undefined && options.validateInput) {
        const problem = await options.validateInput(value);
        if (problem) {
          ui.rejected.push(typeof problem === 'string' ? problem : problem.message);
          continue; // a person would read the message and type again
        }
      }
      return value;
    }
  };
  w['showQuickPick'] = async (items: readonly vscode.QuickPickItem[] | Thenable<readonly vscode.QuickPickItem[]>, options?: vscode.QuickPickOptions) => {
    assert.ok(ui.picks.length > 0, `unexpected quick pick: ${options?.placeHolder ?? ''}`);
    const want = ui.picks.shift();
    if (want === undefined) return undefined;
    const list = await items;
    const hit = list.find((i) => i.label.includes(want));
    assert.ok(hit, `no quick pick item with "${want}" in: ${list.map((i) => i.label).join(' | ')}`);
    return hit;
  };
  const message =
    (level: Shown['level']) =>
    async (text: string, ...rest: unknown[]) => {
      const modal = typeof rest[0] === 'object' && rest[0] !== null && !('title' in (rest[0] as object));
      if (modal) rest.shift();
      const items = rest.map((r) => (typeof r === 'string' ? r : String((r as { title?: string }).title)));
      ui.shown.push({ level, message: text, items });
      if (modal || (items.length && ui.buttons.length)) return ui.buttons.shift();
      return undefined;
    };
  w['showInformationMessage'] = message('info');
  w['showWarningMessage'] = message('warning');
  w['showErrorMessage'] = message('error');
}

// -- the extension, as VS Code shows it -------------------------------------------------------------

let api: NpApi;
const contributed: string[] = [];
const ran = new Set<string>();

async function command<T = unknown>(id: string, ...args: unknown[]): Promise<T> {
  ran.add(id);
  const result = (await vscode.commands.executeCommand(id, ...args)) as T;
  assert.equal(ui.inputs.length, 0, `${id}: ${ui.inputs.length} input answer(s) left unused`);
  assert.equal(ui.picks.length, 0, `${id}: ${ui.picks.length} quick pick answer(s) left unused`);
  assert.equal(ui.buttons.length, 0, `${id}: ${ui.buttons.length} button answer(s) left unused`);
  return result;
}

const labels = () => api.rows().map((r) => String(typeof r.label === 'object' ? r.label?.label : r.label));
const errors = () => ui.shown.filter((s) => s.level === 'error');
const lastError = () => errors().at(-1)?.message ?? '';

function serverPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (cmd.includes('serve')) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

const npSettings = () => vscode.workspace.getConfiguration('np');
async function setGlobal(key: string, value: unknown): Promise<void> {
  await npSettings().update(key, value, vscode.ConfigurationTarget.Global);
}

function npLogFile(): string | undefined {
  let best: { path: string; mtime: number } | undefined;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/(^|-)np\.log$/.test(e.name) && /np-plan/.test(p)) {
        const mtime = statSync(p).mtimeMs;
        if (!best || mtime > best.mtime) best = { path: p, mtime };
      }
    }
  };
  walk(config.logs);
  return best?.path;
}

// -- the tests ---------------------------------------------------------------------------------------

const tests: Array<[string, () => Promise<void>]> = [];
const test = (name: string, fn: () => Promise<void>) => tests.push([name, fn]);

test('activates in an untrusted workspace and ignores its np.serverCommand (Workspace Trust)', async () => {
  const ext = vscode.extensions.getExtension<NpApi>('nasin-pali.np-plan');
  assert.ok(ext, 'extension not found');
  contributed.push(...(ext.packageJSON as { contributes: { commands: Array<{ command: string }> } }).contributes.commands.map((c) => c.command));
  api = await ext.activate();
  assert.ok(ext.isActive);
  assert.equal(vscode.workspace.isTrusted, false, 'the test workspace should be untrusted');
  const file = vscode.workspace.workspaceFile?.fsPath ?? '';
  assert.match(readFileSync(file, 'utf8'), new RegExp(config.evil), 'the workspace names its own program');
  assert.equal(npSettings().inspect('serverCommand')?.workspaceValue, undefined, 'VS Code hands out the restricted workspace value');
  assert.deepEqual(npSettings().get('serverCommand'), [config.np, 'serve']);
  await until('the plan', () => api.state === 'ready');
  assert.equal(api.plan?.goal?.title, 'Alpha goal');
  assert.equal(existsSync(config.marker), false, "the untrusted workspace's program ran");
  const registered = await vscode.commands.getCommands(true);
  for (const id of contributed) assert.ok(registered.includes(id), `${id} is not registered`);
  const serverCommands = registered.filter((c) => c.startsWith('np.'));
  assert.ok(serverCommands.includes('np.plan') && serverCommands.includes('np.task.update'), `server commands: ${serverCommands.join(' ')}`);
  log(`    ${contributed.length} extension commands, ${serverCommands.length} server commands registered by the language client`);
});

test("the Plan view shows the CLI's plan", async () => {
  assert.deepEqual(labels(), ['Alpha goal', 'First task', 'Second task', 'Third task']);
  const [goal, first] = api.rows();
  assert.equal(goal?.description, 'goal');
  assert.equal((goal?.iconPath as vscode.ThemeIcon).id, 'target');
  assert.match(String(goal?.tooltip), /Made by the CLI before VS Code started/);
  assert.equal(first?.contextValue, 'npTask.pending');
  assert.equal((first?.iconPath as vscode.ThemeIcon).id, 'circle-large-outline');
  assert.match(String(first?.tooltip), /one/);
  assert.equal(api.view.title, 'Plan', 'one folder: no folder name in the title');
  await command('npPlan.showPlan');
  await until('the view to be visible', () => api.view.visible);
});

test('the status bar counts completed tasks and opens the plan', async () => {
  assert.ok(api.statusBarVisible);
  assert.equal(api.statusBar.text, '$(checklist) 0/3');
  assert.equal(api.statusBar.command, 'npPlan.showPlan');
  assert.match(String(api.statusBar.tooltip), /Goal: Alpha goal/);
});

test('a CLI change arrives live', async () => {
  const t0 = Date.now();
  await cli(config.alpha, 't', 'a', '-t', 'Added by the CLI');
  await until('the CLI task in the view', () => labels().includes('Added by the CLI'));
  log(`    CLI change in the view after ${Date.now() - t0} ms`);
  const id = api.plan?.tasks.find((t) => t.title === 'Added by the CLI')?.id ?? '';
  await cli(config.alpha, 't', 'u', '-i', id, '-s', 'completed');
  await until('the status bar to count it', () => api.statusBar.text === '$(checklist) 1/4');
});

const task = (plan: Plan, title: string) => {
  const t = plan.tasks.find((x) => x.title === title);
  assert.ok(t, `no task "${title}"`);
  return t;
};

test('Start Task and Complete Task: by id (an inline button) and through the quick pick', async () => {
  const plan = await cliPlan(config.alpha);
  const first = task(plan, 'First task');
  await command('npPlan.markInProgress', first.id);
  assert.equal(task(await cliPlan(config.alpha), 'First task').status, 'in_progress');
  const row = api.rows().find((r) => r.id?.endsWith(first.id));
  assert.equal(row?.contextValue, 'npTask.in_progress');
  assert.equal((row?.iconPath as vscode.ThemeIcon).id, 'sync~spin');
  ui.picks.push('First task');
  await command('npPlan.markCompleted');
  assert.equal(task(await cliPlan(config.alpha), 'First task').status, 'completed');
  assert.equal(api.statusBar.text, '$(checklist) 2/4');
});

test('Set Task Status…: quick picks, and a reason that must not be blank', async () => {
  ui.picks.push('Third task', 'failed');
  ui.inputs.push('', 'blocked by the API');
  await command('npPlan.setStatus');
  assert.equal(ui.rejected.length, 1, 'the blank reason was not refused');
  const third = task(await cliPlan(config.alpha), 'Third task');
  assert.equal(third.status, 'failed');
  const events = JSON.stringify(await cli(config.alpha, 'log'));
  assert.match(events, /blocked by the API/);
  // The view says why, beside the title and in the tooltip.
  const row = api.rows().find((r) => r.id?.endsWith(third.id));
  // (then the receipt of this change, issue 23: "· not yet seen — agent last looked …")
  assert.ok(String(row?.description).startsWith(`${third.id} · failed: blocked by the API`), String(row?.description));
  assert.match(String(row?.tooltip), /\nReason: blocked by the API\n/);
});

test('Edit Task…: prefilled, asks a reason', async () => {
  const second = task(await cliPlan(config.alpha), 'Second task');
  ui.inputs.push((o) => (assert.equal(o.value, 'Second task'), 'Second task, reworded'), (o) => o.value, 'clearer');
  await command('npPlan.editTask', second.id);
  assert.equal(task(await cliPlan(config.alpha), 'Second task, reworded').id, second.id);
  assert.ok(labels().includes('Second task, reworded'));
});

test('Add Tasks…: several, ended by an empty title', async () => {
  ui.inputs.push('Added in VS Code', 'with a description', 'Another one', '', '');
  await command('npPlan.addTasks');
  const plan = await cliPlan(config.alpha);
  assert.deepEqual(plan.tasks.slice(-2).map((t) => [t.title, t.description]), [
    ['Added in VS Code', 'with a description'],
    ['Another one', ''],
  ]);
  assert.deepEqual(labels().slice(-2), ['Added in VS Code', 'Another one']);
});

test("an agent's question pops up with its choices; Answer Question… answers it once", async () => {
  const asked = task(await cliPlan(config.alpha), 'Added in VS Code');
  await cli(config.alpha, '--actor', 'claude-code', 't', 'q', '-i', asked.id, '-q', 'Which dialect?', '-o', 'excel', '-o', 'rfc4180');
  const shown = await until('the question to pop up', () => ui.shown.find((s) => /asks on/.test(s.message)));
  assert.ok(shown);
  assert.equal(shown.message, `np: claude-code asks on ${asked.id} "Added in VS Code": Which dialect?`);
  assert.deepEqual(shown.items, ['excel', 'rfc4180', 'Answer…']);
  const row = await until('the question beside the task', () => api.rows().find((r) => r.id?.endsWith(asked.id) && /\? Which dialect\?/.test(String(r.description))));
  assert.match(String(row?.contextValue), /\.asked$/);
  ui.picks.push('rfc4180');
  await command('npPlan.answer', asked.id);
  const next = (await cli(config.alpha, '--actor', 'claude-code', 'p')) as { answers?: Array<{ answer: string }> };
  assert.deepEqual(next.answers?.map((a) => a.answer), ['rfc4180']);
  const again = (await cli(config.alpha, '--actor', 'claude-code', 'p')) as { answers?: unknown };
  assert.equal(again.answers, undefined, 'delivered once');
});

test("receipts: the editor's own change is not yet seen by the agent until it reads", async () => {
  const mine = task(await cliPlan(config.alpha), 'Another one');
  await command('npPlan.markInProgress', mine.id);
  const row = () => api.rows().find((r) => r.id?.endsWith(mine.id));
  await until('the unseen receipt', () => /not yet seen — agent/.test(String(row()?.description)));
  await cliPlan(config.alpha); // the agent (the CLI) reads the plan
  // (claude-code, which asked a question above, works on this plan too and has not read it)
  await until('the seen receipt', () => /seen by agent \d\d:\d\d/.test(String(row()?.description)), 15_000);
  assert.match(String(row()?.tooltip), /Your change: seen by agent/);
});

test('Change Goal…: asks a reason; Set Goal… on a session with a goal offers Change Goal', async () => {
  ui.inputs.push('Alpha goal v2', (o) => o.value, 'the scope grew');
  await command('npPlan.changeGoal');
  assert.equal((await cliPlan(config.alpha)).goal?.title, 'Alpha goal v2');
  assert.equal(labels()[0], 'Alpha goal v2');
  ui.buttons.push(undefined);
  await command('npPlan.setGoal');
  assert.match(ui.shown.at(-1)?.message ?? '', /already has a goal/);
});

test('Export Plan to Markdown opens the plan and its log', async () => {
  await command('npPlan.export');
  const doc = await until('the export tab', () => vscode.window.activeTextEditor?.document);
  assert.ok(doc);
  assert.equal(doc.languageId, 'markdown');
  assert.match(doc.getText(), /Alpha goal v2/);
  assert.match(doc.getText(), /the scope grew/);
  await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
});

test('Refresh Plan and Show Server Log', async () => {
  const plan = await command<Plan>('npPlan.refresh');
  assert.equal(plan.tasks.length, 6);
  const before = errors().length;
  await command('npPlan.showLog');
  assert.equal(errors().length, before);
});

test("Archive Session…: Cancel keeps it; Archive ends it; errors then speak the editor's terms", async () => {
  ui.buttons.push(undefined);
  await command('npPlan.archive');
  assert.equal(api.state, 'ready');
  ui.buttons.push('Archive');
  await command('npPlan.archive');
  await until('the welcome view state', () => api.state === 'noSession');
  assert.equal(api.statusBarVisible, false);
  const sessions = JSON.stringify(await cli(config.alpha, 'ls', '--all'));
  assert.match(sessions, /archived/);
  // A command that needs a session: the message names this extension's command, not the CLI's.
  ui.inputs.push('never added', '', '');
  await vscode.commands.executeCommand('npPlan.addTasks').then(undefined, () => undefined);
  ui.inputs.length = 0;
  const shown = errors().at(-1);
  assert.ok(shown, 'no error shown');
  assert.match(shown.message, /np: Start Session/);
  assert.deepEqual(shown.items, ['Start Session']);
});

test('Start Session, then Set Goal… (a blank title is refused)', async () => {
  await command('npPlan.start');
  assert.equal(api.state, 'ready');
  assert.deepEqual(labels(), ['Set the goal…']);
  assert.equal(api.statusBar.text, '$(checklist) 0/0');
  ui.inputs.push('  ', 'A fresh goal', 'Its description');
  const rejected = ui.rejected.length;
  await command('npPlan.setGoal');
  assert.equal(ui.rejected.length, rejected + 1);
  assert.equal((await cliPlan(config.alpha)).goal?.title, 'A fresh goal');
  assert.deepEqual(labels(), ['A fresh goal']);
});

test('the server killed: restarted, and live again', async () => {
  const some = (pids: number[]) => (pids.length ? pids : undefined);
  const [pid] = (await until('the server process', () => some(serverPids()))) ?? [];
  assert.ok(pid);
  process.kill(pid, 'SIGKILL');
  const [next] = (await until('a new server process', () => some(serverPids().filter((p) => p !== pid)), 15_000)) ?? [];
  log(`    server ${pid} killed; restarted as ${next}`);
  await until('ready again', () => api.state === 'ready' && api.client?.isRunning());
  await cli(config.alpha, 't', 'a', '-t', 'After the restart');
  await until('the live update after the restart', () => labels().includes('After the restart'));
});

test('Restart Server starts a new server', async () => {
  const before = serverPids();
  const state = await command<string>('npPlan.restartServer');
  assert.equal(state, 'ready');
  const after = serverPids();
  assert.equal(after.length, 1);
  assert.ok(!before.includes(after[0] as number), 'the server process did not change');
});

test('settings changed: np.databasePath and np.serverCommand restart the server', async () => {
  const original = npSettings().inspect('serverCommand')?.globalValue;
  await setGlobal('databasePath', config.db2);
  await until('the plan of the second database', () => api.state === 'ready' && api.plan?.goal?.title === 'Goal in the second database', 15_000);
  await setGlobal('databasePath', undefined);
  await until('the first database again', () => api.state === 'ready' && api.plan?.goal?.title === 'A fresh goal', 15_000);

  const shown = errors().length;
  await setGlobal('serverCommand', ['np-not-installed-here', 'serve']);
  await until('the server error state', () => api.state === 'serverError', 15_000);
  await until('the not-found message', () => errors().length > shown);
  assert.match(lastError(), /not on the PATH of VS Code's extension host/);
  assert.match(lastError(), /absolute path/);
  assert.equal(api.statusBarVisible, false);
  await setGlobal('serverCommand', ['/nonexistent/bin/np', 'serve']);
  await until('the second not-found message', () => errors().length > shown + 1, 15_000);
  assert.match(lastError(), /\/nonexistent\/bin\/np.*absolute path/);
  await setGlobal('serverCommand', original);
  await until('ready again', () => api.state === 'ready', 15_000);
  assert.equal(existsSync(config.marker), false, "the untrusted workspace's program ran");
});

test('np.trace.server logs the JSON-RPC traffic to the np channel, on its own', async () => {
  const file = (await until('the np log file', () => npLogFile())) ?? '';
  const traced = () => (readFileSync(file, 'utf8').match(/Sending request 'workspace\/executeCommand/g) ?? []).length;
  await command('npPlan.refresh');
  await sleep(300);
  const off = traced();
  await setGlobal('trace.server', 'messages');
  await command('npPlan.refresh');
  await until('traced requests in the np log', () => traced() > off, 8000);
  await setGlobal('trace.server', undefined);
  await sleep(300);
  const n = traced();
  await command('npPlan.refresh');
  await sleep(1000);
  assert.equal(traced(), n, 'still tracing after the setting went back to off');
});

test('multi-root: the view follows the active editor and names the folder in its title', async () => {
  const added = new Promise((r) => {
    const once = vscode.workspace.onDidChangeWorkspaceFolders(() => (once.dispose(), r(undefined)));
  });
  assert.ok(vscode.workspace.updateWorkspaceFolders(1, 0, { uri: vscode.Uri.file(config.beta) }));
  await added;
  await until('the title with the folder name', () => api.view.title === 'Plan — alpha');
  await vscode.window.showTextDocument(vscode.Uri.file(join(config.beta, 'notes.md')));
  await until("beta's plan", () => api.plan?.goal?.title === 'Beta goal' && api.view.title === 'Plan — beta');
  const betaTask = task(await cliPlan(config.beta), 'Beta task');
  await command('npPlan.markCompleted', betaTask.id);
  assert.equal(task(await cliPlan(config.beta), 'Beta task').status, 'completed');
  assert.equal(api.statusBar.text, '$(checklist) 1/1');
  await vscode.window.showTextDocument(vscode.Uri.file(join(config.alpha, 'notes.md')));
  await until("alpha's plan", () => api.plan?.goal?.title === 'A fresh goal' && api.view.title === 'Plan — alpha');
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  const removed = new Promise((r) => {
    const once = vscode.workspace.onDidChangeWorkspaceFolders(() => (once.dispose(), r(undefined)));
  });
  assert.ok(vscode.workspace.updateWorkspaceFolders(1, 1));
  await removed;
  await until('the plain title', () => api.view.title === 'Plan');
});

test('every contributed command ran, and no message showed a CLI command or a stack trace', async () => {
  assert.deepEqual(
    contributed.filter((c) => !ran.has(c)),
    [],
  );
  for (const s of ui.shown) {
    assert.doesNotMatch(s.message, /Traceback|\n\s+at |\.py", line/, `a stack trace reached the user: ${s.message}`);
    assert.doesNotMatch(s.message, /`np [a-z]|\bnp (s|r|p|g|t|a|ls)\b(?!:)/, `a CLI command reached the user: ${s.message}`);
  }
});

export async function run(): Promise<void> {
  stubWindow();
  log(`vscode ${vscode.version}, node ${process.version}, extension host pid ${process.pid}`);
  let failures = 0;
  for (const [name, fn] of tests) {
    const t0 = Date.now();
    try {
      await fn();
      log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (err) {
      failures++;
      log(`FAIL ${name} (${Date.now() - t0} ms)\n${String((err as Error).stack ?? err).replace(/^/gm, '     ')}`);
      ui.inputs.length = ui.picks.length = ui.buttons.length = 0;
    }
  }
  log(`${tests.length - failures} passed, ${failures} failed`);
  if (failures) throw new Error(`${failures} in-host test(s) failed`);
}
