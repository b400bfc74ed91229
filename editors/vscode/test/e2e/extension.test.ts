// End to end: the extension's real activate() (the built dist/extension.js, with its bundled
// vscode-languageclient) under plain Node, `vscode` resolved to test/support/vscode.ts,
// against the real `np serve` on a temporary database. Every contributed command runs
// through the stand-in UI; the database is checked with the np CLI in another process.
//
// np is found through $NP_BIN, else ../../.venv/bin/np from editors/vscode, else PATH.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { NpApi } from '../../src/extension';
import type { Plan, PlanNode } from '../../src/model';
import type * as VscodeStub from '../support/vscode';

const EXT_ROOT = resolve(__dirname, '..', '..', '..');
const STUB = join(__dirname, '..', 'support', 'vscode.js');
const BUNDLE = join(EXT_ROOT, 'dist', 'extension.js');

function findNp(): string {
  if (process.env['NP_BIN']) return process.env['NP_BIN'];
  const local = resolve(EXT_ROOT, '..', '..', '.venv', 'bin', 'np');
  return existsSync(local) ? local : 'np';
}
const NP = findNp();

// `require('vscode')` → the stand-in, for the bundle and for this file alike.
type Resolve = (request: string, ...rest: unknown[]) => string;
const M = Module as unknown as { _resolveFilename: Resolve };
const originalResolve = M._resolveFilename;
M._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
  if (request === 'vscode') return STUB;
  return originalResolve.call(this, request, ...rest);
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const vscode = require('vscode') as typeof VscodeStub;
const { harness } = vscode;

interface Extension {
  activate(ctx: unknown): Promise<NpApi>;
  deactivate(): Promise<void>;
}

function loadExtension(): Extension {
  assert.ok(existsSync(BUNDLE), `${BUNDLE} is missing; run npm run build first`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(BUNDLE) as Extension;
}

const contributed = (JSON.parse(readFileSync(join(EXT_ROOT, 'package.json'), 'utf8')) as { contributes: { commands: Array<{ command: string }> } }).contributes.commands.map(
  (c) => c.command,
);

// -- helpers ----------------------------------------------------------------------------------------

const run = promisify(execFile);

/** `np --db DB -C DIR ARGS… --json`, parsed; an error result is returned, not thrown. */
async function cli(db: string, dir: string, ...args: string[]): Promise<Record<string, unknown>> {
  try {
    const { stdout } = await run(NP, ['--db', db, '-C', dir, ...args, '--json'], { env: { ...process.env, NP_DB: '' } });
    return JSON.parse(stdout) as Record<string, unknown>;
  } catch (err) {
    const stdout = (err as { stdout?: string }).stdout;
    if (stdout) return JSON.parse(stdout) as Record<string, unknown>;
    throw err;
  }
}

async function cliPlan(db: string, dir: string): Promise<Plan> {
  const result = await cli(db, dir, 'p');
  assert.ok(!('error' in result), `np p failed: ${JSON.stringify(result)}`);
  return result as unknown as Plan;
}

async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 5000): Promise<T> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() - start > timeoutMs) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Row {
  node: PlanNode;
  item: VscodeStub.TreeItem;
}

async function rows(): Promise<Row[]> {
  const view = harness.treeViews.get('npPlan.plan');
  assert.ok(view, 'the Plan view was not created');
  const nodes = (await view.provider.getChildren()) as PlanNode[];
  return Promise.all(nodes.map(async (node) => ({ node, item: await view.provider.getTreeItem(node) })));
}

async function labels(): Promise<string[]> {
  return (await rows()).map((r) => r.item.label);
}

async function rowFor(taskId: string): Promise<Row> {
  const row = (await rows()).find((r) => r.node.task?.id === taskId);
  assert.ok(row, `no row for task ${taskId}`);
  return row;
}

function statusBar(): VscodeStub.StubStatusBarItem {
  const item = harness.statusBarItems.find((s) => s.id === 'npPlan.progress');
  assert.ok(item, 'no status bar item');
  return item;
}

const ran = new Set<string>();

/** Run an extension command through the stand-in with scripted answers; all must be used. */
async function command<T = unknown>(id: string, answers: VscodeStub.Answer[], ...args: unknown[]): Promise<T> {
  harness.answers = [...answers];
  harness.problems = [];
  const before = harness.messages.length;
  ran.add(id);
  const result = (await vscode.commands.executeCommand(id, ...args)) as T;
  assert.deepEqual(harness.problems, [], `${id}: UI problems`);
  assert.equal(harness.answers.length, 0, `${id}: ${harness.answers.length} scripted answer(s) left unused`);
  for (const m of harness.messages.slice(before)) {
    assert.ok(!/Traceback|\n\s+at |\.py", line/.test(m.message), `a stack trace reached the user: ${m.message}`);
  }
  return result;
}

const input = (answer: string | undefined | ((o: VscodeStub.InputBoxOptions) => string | undefined)): VscodeStub.Answer => ({ kind: 'input', answer });
const pick = (match: (item: VscodeStub.QuickPickItemLike) => boolean): VscodeStub.Answer => ({
  kind: 'pick',
  answer: (items) => {
    const found = items.find(match);
    assert.ok(found, `no quick pick item matched among ${items.map((i) => i.label).join(', ')}`);
    return found;
  },
});
const warning = (answer: string | undefined): VscodeStub.Answer => ({ kind: 'warning', answer });

function errorsSince(n: number): string[] {
  return harness.messages.slice(n).filter((m) => m.level === 'error').map((m) => m.message);
}

function context(extensionPath: string): { subscriptions: Array<{ dispose(): unknown }>; extensionPath: string } {
  return { subscriptions: [], extensionPath };
}

async function shutdown(ext: Extension, ctx: { subscriptions: Array<{ dispose(): unknown }> }): Promise<void> {
  await ext.deactivate();
  for (const d of ctx.subscriptions.splice(0)) await d.dispose();
}

// A leaked client or server process would keep this file running until CI's time limit;
// once every test is done, fail instead if something still holds the event loop open.
after(() => {
  setTimeout(() => {
    console.error('# e2e: handles still open 10 s after the last test (a client or server leaked); failing');
    process.exit(1);
  }, 10_000).unref();
});

// -- the tests --------------------------------------------------------------------------------------

describe('extension against the real np server', { timeout: 120_000 }, () => {
  const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'np-vscode-')));
  const db = join(tmp, 'np.db');
  const dirA = join(tmp, 'alpha');
  const dirB = join(tmp, 'beta');
  let ext: Extension;
  let api: NpApi;
  const ctx = context(EXT_ROOT);
  let t1 = '';
  let t2 = '';
  let t3 = '';

  before(async () => {
    mkdirSync(dirA);
    mkdirSync(dirB);
    harness.reset();
    vscode.workspace.workspaceFolders = [harness.folder(dirA, 0), harness.folder(dirB, 1)];
    harness.config.set('np.serverCommand', [NP, 'serve']);
    harness.config.set('np.databasePath', db);
    ext = loadExtension();
    api = await ext.activate(ctx);
  });

  after(async () => {
    await shutdown(ext, ctx);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('activates: starts np serve and shows the welcome (no session) state', async () => {
    assert.equal(api.state, 'noSession');
    assert.equal(harness.contexts.get('npPlan.state'), 'noSession');
    assert.deepEqual(await labels(), []);
    assert.equal(statusBar().visible, false);
    for (const id of contributed) assert.ok(harness.commands.has(id), `${id} is not registered`);
    // The language client registered the server's own commands, in their own namespace.
    for (const id of ['np.plan', 'np.session.start', 'np.task.update', 'np.export']) assert.ok(harness.commands.has(id), `${id} missing`);
    assert.ok(api.client?.isRunning());
  });

  it('npPlan.start starts a session in the first folder', async () => {
    const plan = await command<Plan>('npPlan.start', []);
    assert.equal(plan.session.dir, dirA);
    const db1 = await cliPlan(db, dirA);
    assert.equal(db1.session.state, 'active');
    assert.equal(db1.session.sid, plan.session.sid);
    const r = await rows();
    assert.equal(r.length, 1);
    assert.equal(r[0]!.node.kind, 'noGoal');
    assert.equal(r[0]!.item.command?.command, 'npPlan.setGoal');
    assert.equal(harness.contexts.get('npPlan.state'), 'ready');
    assert.equal(statusBar().visible, true);
    assert.equal(statusBar().text, '$(checklist) 0/0');
    assert.equal(statusBar().command, 'npPlan.showPlan');
  });

  it('a second start shows a readable error instead of throwing', async () => {
    const n = harness.messages.length;
    await command('npPlan.start', []);
    const errors = errorsSince(n);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^np: .*already/i);
  });

  it('npPlan.setGoal asks title and description', async () => {
    await command('npPlan.setGoal', [
      input((o) => {
        assert.ok(o.validateInput?.('  '), 'a blank title is refused');
        return 'Ship the extension';
      }),
      input('Issue 4; editors/vscode/'),
    ]);
    const p = await cliPlan(db, dirA);
    assert.deepEqual([p.goal?.title, p.goal?.description], ['Ship the extension', 'Issue 4; editors/vscode/']);
    const r = await rows();
    assert.equal(r[0]!.item.label, 'Ship the extension');
    assert.equal(r[0]!.item.tooltip, 'Goal: Ship the extension\n\nIssue 4; editors/vscode/');
    assert.equal((r[0]!.item.iconPath as VscodeStub.ThemeIcon).id, 'target');
    assert.equal(harness.contexts.get('npPlan.hasGoal'), true);
  });

  it('npPlan.setGoal when a goal is set offers to change it instead', async () => {
    const n = harness.messages.length;
    await command('npPlan.setGoal', []);
    assert.deepEqual(
      harness.messages.slice(n).map((m) => [m.level, m.message, m.items]),
      [['info', 'np: this session already has a goal.', ['Change Goal…']]],
    );
    assert.equal((await cliPlan(db, dirA)).goal?.title, 'Ship the extension');
  });

  it('npPlan.addTasks adds several tasks in one batch, repeatably', async () => {
    // A title over the server's limit: its invalid_argument error, as one sentence; nothing written.
    const n = harness.messages.length;
    await command('npPlan.addTasks', [input('x'.repeat(301)), input(''), input('')]);
    const errors = errorsSince(n);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^np: .*300/);
    assert.ok(!errors[0]!.includes('\n'));
    // Escape on the first title: nothing.
    await command('npPlan.addTasks', [input(undefined)]);
    assert.equal((await cliPlan(db, dirA)).tasks.length, 0);
    // Two tasks, finished with an empty title.
    await command('npPlan.addTasks', [input('Scaffold'), input('package.json, tsconfig'), input('Write tests'), input(''), input('')]);
    // One more, finished with Escape.
    await command('npPlan.addTasks', [input('Package'), input('vsix'), input(undefined)]);
    const p = await cliPlan(db, dirA);
    assert.deepEqual(
      p.tasks.map((t) => [t.title, t.description, t.status]),
      [
        ['Scaffold', 'package.json, tsconfig', 'pending'],
        ['Write tests', '', 'pending'],
        ['Package', 'vsix', 'pending'],
      ],
    );
    [t1, t2, t3] = p.tasks.map((t) => t.id) as [string, string, string];
    assert.deepEqual(await labels(), ['Ship the extension', 'Scaffold', 'Write tests', 'Package']);
    const row = await rowFor(t1);
    assert.equal(row.item.description, t1);
    assert.equal(row.item.tooltip, `☐ ${t1} · pending\nScaffold\n\npackage.json, tsconfig`);
    assert.equal((row.item.iconPath as VscodeStub.ThemeIcon).id, 'circle-large-outline');
    assert.equal(statusBar().text, '$(checklist) 0/3');
  });

  it('npPlan.markInProgress on a tree row: spinning icon', async () => {
    await command('npPlan.markInProgress', [], (await rowFor(t1)).node);
    const row = await rowFor(t1);
    assert.equal((row.item.iconPath as VscodeStub.ThemeIcon).id, 'sync~spin');
    assert.equal(row.item.contextValue, 'npTask.in_progress');
    // in progress claims the task for the editor (issue 21): the row names the holder; then
    // the receipt of the editor's own change (issue 23): the agent (the CLI) has not read it yet
    assert.match(String(row.item.description), new RegExp(`^${t1} · in progress · vscode-stub until \\d\\d:\\d\\dZ`));
    await waitFor('the receipt of the change', async () => /not yet seen — agent/.test(String((await rowFor(t1)).item.description ?? '')));
    // The agent reads (only now: a read before the editor's first receipt read would make the
    // change seen before it was ever shown unseen): the status it finds, then seen.
    assert.equal((await cliPlan(db, dirA)).tasks[0]!.status, 'in_progress');
    await waitFor('the change seen by the agent', async () => /· seen by agent \d\d:\d\d$/.test(String((await rowFor(t1)).item.description ?? '')), 8000);
  });

  it('npPlan.markCompleted on a tree row updates the status bar', async () => {
    await command('npPlan.markCompleted', [], (await rowFor(t1)).node);
    assert.equal((await cliPlan(db, dirA)).tasks[0]!.status, 'completed');
    assert.equal(((await rowFor(t1)).item.iconPath as VscodeStub.ThemeIcon).id, 'pass-filled');
    assert.equal(statusBar().text, '$(checklist) 1/3');
  });

  it('npPlan.setStatus from the palette: picks the task, the status, and asks a reason for failed', async () => {
    await command('npPlan.setStatus', [
      pick((i) => i['id'] === t2),
      pick((i) => i['status'] === 'failed'),
      input((o) => {
        assert.ok(o.validateInput?.(''), 'a blank reason is refused');
        return 'No VS Code binary here';
      }),
    ]);
    assert.equal((await cliPlan(db, dirA)).tasks[1]!.status, 'failed');
    const log = (await cli(db, dirA, 'log')) as { events: Array<{ type: string; reason: string | null; cmd: string }> };
    const last = log.events[0]!;
    assert.equal(last.type, 'task_status_changed');
    assert.equal(last.reason, 'No VS Code binary here');
    assert.match(last.cmd, /^lsp:np\.task\.update/);
    assert.equal(((await rowFor(t2)).item.iconPath as VscodeStub.ThemeIcon).id, 'error');
  });

  it('npPlan.setStatus: Escape at the reason changes nothing; cancelled with a reason works', async () => {
    await command('npPlan.setStatus', [pick((i) => i['status'] === 'cancelled'), input(undefined)], (await rowFor(t3)).node);
    assert.equal((await cliPlan(db, dirA)).tasks[2]!.status, 'pending');
    await command('npPlan.setStatus', [pick((i) => i['status'] === 'cancelled'), input('Out of scope')], (await rowFor(t3)).node);
    assert.equal((await cliPlan(db, dirA)).tasks[2]!.status, 'cancelled');
    assert.equal(((await rowFor(t3)).item.iconPath as VscodeStub.ThemeIcon).id, 'circle-slash');
    // Re-open the failed one (no reason needed).
    await command('npPlan.setStatus', [pick((i) => i['status'] === 'pending')], t2);
    assert.equal((await cliPlan(db, dirA)).tasks[1]!.status, 'pending');
  });

  it('npPlan.editTask rewords a task with a reason', async () => {
    await command(
      'npPlan.editTask',
      [
        input((o) => {
          assert.equal(o.value, 'Write tests');
          return 'Write the e2e tests';
        }),
        input((o) => o.value),
        input('Be precise'),
      ],
      (await rowFor(t2)).node,
    );
    const p = await cliPlan(db, dirA);
    assert.equal(p.tasks[1]!.title, 'Write the e2e tests');
    const log = (await cli(db, dirA, 'log')) as { events: Array<{ type: string; reason: string | null }> };
    assert.deepEqual([log.events[0]!.type, log.events[0]!.reason], ['task_updated', 'Be precise']);
    assert.equal((await rowFor(t2)).item.label, 'Write the e2e tests');
    // Unchanged text: no request, no reason asked.
    const n = harness.messages.length;
    await command('npPlan.editTask', [pick((i) => i['id'] === t2), input((o) => o.value), input((o) => o.value)]);
    assert.match(harness.messages[n]!.message, /unchanged/);
  });

  it("an agent's question: announced once with its choices, answered with npPlan.answer", async () => {
    const n = harness.messages.length;
    await cli(db, dirA, '--actor', 'claude-code', 't', 'q', '-i', t3, '-q', 'Which dialect?', '-o', 'excel', '-o', 'rfc4180');
    const shown = await waitFor('the question announced', () => harness.messages.slice(n).find((m) => /asks on/.test(m.message)));
    assert.ok(shown);
    assert.equal(shown.message, `np: claude-code asks on ${t3} "Package": Which dialect?`);
    assert.deepEqual(shown.items, ['excel', 'rfc4180', 'Answer…']);
    await waitFor('the question beside the task', async () => /\? Which dialect\?/.test(String((await rowFor(t3)).item.description ?? '')));
    assert.match(String((await rowFor(t3)).item.contextValue ?? ''), /\.asked$/);
    await command('npPlan.refresh', []);
    assert.equal(harness.messages.slice(n).filter((m) => /asks on/.test(m.message)).length, 1, 'announced once');
    await command('npPlan.answer', [pick((i) => i.label === 'rfc4180')], (await rowFor(t3)).node);
    const next = (await cli(db, dirA, '--actor', 'claude-code', 'p')) as { answers?: Array<{ answer: string; task_id: string }> };
    assert.deepEqual(
      next.answers?.map((a) => [a.task_id, a.answer]),
      [[t3, 'rfc4180']],
    );
    assert.doesNotMatch(String((await rowFor(t3)).item.description ?? ''), /\?/);
    // Words of one's own, through the palette: the task with a question, then an input box.
    await cli(db, dirA, '--actor', 'claude-code', 't', 'q', '-i', t3, '-q', 'Anything else?');
    await waitFor('the second question', async () => /\? Anything else\?/.test(String((await rowFor(t3)).item.description ?? '')));
    await command('npPlan.answer', [pick((i) => i['id'] === t3), input('No, ship it')]);
    const again = (await cli(db, dirA, '--actor', 'claude-code', 'p')) as { answers?: Array<{ answer: string }> };
    assert.deepEqual(again.answers?.map((a) => a.answer), ['No, ship it']);
  });

  it('npPlan.changeGoal asks for a reason', async () => {
    await command('npPlan.changeGoal', [input((o) => o.value), input('Issue 4: the live plan in the editor'), input('Clearer')]);
    const p = await cliPlan(db, dirA);
    assert.deepEqual([p.goal?.title, p.goal?.description], ['Ship the extension', 'Issue 4: the live plan in the editor']);
    const log = (await cli(db, dirA, 'log')) as { events: Array<{ type: string; reason: string | null }> };
    assert.deepEqual([log.events[0]!.type, log.events[0]!.reason], ['goal_updated', 'Clearer']);
    assert.match((await rows())[0]!.item.tooltip as string, /the live plan in the editor/);
  });

  it('npPlan.export opens the Markdown export in an editor tab', async () => {
    await command('npPlan.export', []);
    const doc = harness.shown.at(-1);
    assert.ok(doc, 'no document shown');
    assert.equal(doc.languageId, 'markdown');
    assert.match(doc.content, /^# /);
    assert.match(doc.content, /Ship the extension/);
    assert.match(doc.content, /Write the e2e tests/);
    assert.match(doc.content, /Out of scope/); // the reasons are in the event log
  });

  it('a CLI write in another process refreshes the tree and status bar (np/didChange)', async () => {
    const changesBefore = harness.treeViews.get('npPlan.plan')!.changes;
    const started = Date.now();
    const added = (await cli(db, dirA, 't', 'a', '-t', 'From the CLI', '-d', 'an agent in a terminal')) as { added: string[] };
    const written = Date.now();
    await waitFor('the CLI task in the tree', async () => (await labels()).includes('From the CLI'), 5000);
    const seen = Date.now();
    assert.ok(harness.treeViews.get('npPlan.plan')!.changes > changesBefore);
    assert.equal(statusBar().text, '$(checklist) 1/4');
    await cli(db, dirA, 't', 'u', '-i', added.added[0]!, '-s', 'in_progress');
    await waitFor('the spinning icon', async () => ((await rowFor(added.added[0]!)).item.iconPath as VscodeStub.ThemeIcon).id === 'sync~spin', 5000);
    console.log(`# live refresh: CLI write took ${written - started} ms, tree updated ${seen - written} ms after it returned`);
  });

  it('npPlan.refresh re-reads the plan', async () => {
    const plan = await command<Plan>('npPlan.refresh', []);
    const p = await cliPlan(db, dirA);
    assert.deepEqual(plan.tasks, p.tasks);
    assert.deepEqual(await labels(), ['Ship the extension', ...p.tasks.map((t) => t.title)]);
  });

  it('a crashed server is restarted and the view carries on', async () => {
    const proc = (api.client as unknown as { _serverProcess?: { pid?: number } } | undefined)?._serverProcess;
    assert.ok(proc?.pid, 'no server process');
    const errorsBefore = harness.messages.filter((m) => m.level === 'error').length;
    process.kill(proc.pid, 'SIGKILL');
    await waitFor('a new server process', () => {
      const next = (api.client as unknown as { _serverProcess?: { pid?: number } } | undefined)?._serverProcess;
      return next?.pid !== undefined && next.pid !== proc.pid && api.client?.isRunning();
    }, 15000);
    await cli(db, dirA, 't', 'a', '-t', 'After the crash');
    await waitFor('a change after the restart', async () => (await labels()).includes('After the crash'), 5000);
    assert.equal(harness.messages.filter((m) => m.level === 'error').length, errorsBefore, 'no error pop-up for one crash');
    assert.equal(api.state, 'ready');
  });

  it('npPlan.showPlan focuses the view; npPlan.showLog opens the log', async () => {
    await command('npPlan.showPlan', []);
    assert.equal(harness.executed.at(-1), 'npPlan.plan.focus');
    await command('npPlan.showLog', []);
  });

  it('multi-root: commands act in the folder of the active editor', async () => {
    harness.openEditor(join(dirB, 'src', 'main.ts'));
    await waitFor('the beta folder (no session)', () => api.state === 'noSession' && api.folder?.name === 'beta');
    assert.deepEqual(await labels(), []);
    assert.equal(statusBar().visible, false);
    // The container's only view has no visible header: the folder goes into the title.
    assert.equal(harness.treeViews.get('npPlan.plan')!.title, 'Plan — beta');
    const plan = await command<Plan>('npPlan.start', []);
    assert.equal(plan.session.dir, dirB);
    assert.equal((await cliPlan(db, dirB)).session.dir, dirB);
    assert.equal((await cliPlan(db, dirA)).tasks.length, 5);
    // An editor outside every folder (an untitled export, say) keeps the folder shown.
    harness.openEditor(join(tmp, 'elsewhere.md'));
    await api.refresh();
    assert.equal(api.folder?.name, 'beta');
    harness.openEditor(join(dirA, 'README.md'));
    await waitFor('back to alpha', () => api.state === 'ready' && api.folder?.name === 'alpha' && api.plan?.tasks.length === 5);
    assert.equal(harness.treeViews.get('npPlan.plan')!.title, 'Plan — alpha');
  });

  it('npPlan.archive asks a modal confirmation and archives', async () => {
    await command('npPlan.archive', [warning(undefined)]);
    assert.equal((await cliPlan(db, dirA)).session.state, 'active');
    const n = harness.messages.length;
    await command('npPlan.archive', [warning('Archive')]);
    const confirm = harness.messages[n]!;
    assert.equal(confirm.level, 'warning');
    assert.deepEqual(confirm.options && (confirm.options as { modal?: boolean }).modal, true);
    assert.deepEqual(confirm.items, ['Archive']);
    const after = await cli(db, dirA, 'p');
    assert.equal((after as { error: { kind: string } }).error.kind, 'no_active_session');
    const all = (await cli(db, dirA, 'ls', '--all')) as { sessions: Array<{ dir: string; state: string }> };
    assert.ok(all.sessions.some((s) => s.dir === dirA && s.state === 'archived'));
    assert.equal(api.state, 'noSession');
    assert.deepEqual(await labels(), []);
    assert.equal(statusBar().visible, false);
  });

  it('commands without a session say so readably and offer to start one', async () => {
    const n = harness.messages.length;
    await command('npPlan.addTasks', []);
    const err = harness.messages.slice(n).find((m) => m.level === 'error');
    assert.ok(err);
    assert.match(err.message, /^np: /);
    assert.deepEqual(err.items, ['Start Session']);
  });

  it('npPlan.restartServer restarts the client (server commands re-registered without clashes)', async () => {
    const state = await command('npPlan.restartServer', []);
    assert.equal(state, 'noSession');
    assert.ok(harness.commands.has('np.plan'));
    await command('npPlan.start', []);
    assert.equal((await cliPlan(db, dirA)).session.state, 'active');
    assert.equal(api.state, 'ready');
  });

  it('a changed database setting restarts the server on the new database', async () => {
    const db2 = join(tmp, 'other.db');
    harness.setConfig('np.databasePath', db2);
    await waitFor('restart on the new database', () => api.state === 'noSession', 10000);
    await command('npPlan.start', []);
    assert.equal((await cliPlan(db2, dirA)).session.state, 'active');
    const sid1 = (await cliPlan(db, dirA)).session.sid;
    harness.setConfig('np.databasePath', db);
    await waitFor('back on the first database', () => api.state === 'ready' && api.plan?.session.sid === sid1 && api.client?.isRunning(), 10000);
  });

  it('settings changed twice in a row restart once after the other (never two clients)', async () => {
    const errorsBefore = harness.messages.filter((m) => m.level === 'error').length;
    const sid = api.plan?.session.sid;
    assert.ok(sid);
    harness.setConfig('np.serverCommand', [NP, 'serve']);
    harness.setConfig('np.serverCommand', `"${NP}" serve`);
    await new Promise((r) => setTimeout(r, 100));
    await waitFor('the restarted server', () => api.state === 'ready' && api.plan?.session.sid === sid && api.client?.isRunning(), 15000);
    await api.refresh();
    assert.equal(api.state, 'ready');
    assert.equal(harness.messages.filter((m) => m.level === 'error').length, errorsBefore);
    assert.ok(!harness.log.some((l) => /already exists/.test(l)), 'a command was registered twice');
    await command('npPlan.refresh', []);
  });

  it('deactivate stops the server process', async () => {
    const pid = (api.client as unknown as { _serverProcess?: { pid?: number } } | undefined)?._serverProcess?.pid;
    assert.ok(pid, 'no server process');
    await shutdown(ext, ctx);
    await waitFor('the server to exit', () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    assert.equal(harness.commands.has('np.plan'), false, 'server commands unregistered');
    assert.equal(harness.commands.has('npPlan.start'), false, 'extension commands unregistered');
  });

  it('every contributed command ran end to end', () => {
    assert.deepEqual(
      contributed.filter((id) => !ran.has(id)),
      [],
    );
  });
});

describe('extension when the server cannot start', { timeout: 60_000 }, () => {
  it('shows a readable error and the server-error welcome state', async () => {
    harness.reset();
    const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'np-vscode-')));
    vscode.workspace.workspaceFolders = [harness.folder(tmp, 0)];
    harness.config.set('np.serverCommand', join(tmp, 'no-such-np') + ' serve');
    const ext = loadExtension();
    const ctx = context(EXT_ROOT);
    try {
      const api = await ext.activate(ctx);
      assert.equal(api.state, 'serverError');
      assert.equal(harness.contexts.get('npPlan.state'), 'serverError');
      const errors = harness.messages.filter((m) => m.level === 'error');
      assert.deepEqual(
        errors.map((m) => m.message),
        [`np: could not start the server: \`${join(tmp, 'no-such-np')}\` was not found. Point the np.serverCommand setting at np's absolute path, e.g. ["/home/me/.local/bin/np", "serve"].`],
      );
      for (const m of errors) assert.ok(!/\n\s+at /.test(m.message));
      const n = harness.messages.length;
      await command('npPlan.start', []);
      assert.match(errorsSince(n)[0] ?? '', /np server is not running/);
    } finally {
      await shutdown(ext, ctx);
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('extension when the server exits at once', { timeout: 60_000 }, () => {
  it('reports it readably and stays usable', async () => {
    harness.reset();
    const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'np-vscode-')));
    vscode.workspace.workspaceFolders = [harness.folder(tmp, 0)];
    harness.config.set('np.serverCommand', ['/bin/sh', '-c', 'echo "np: the database is newer than this np" >&2; sleep 0.2; exit 3']);
    const ext = loadExtension();
    const ctx = context(EXT_ROOT);
    try {
      const api = await ext.activate(ctx);
      assert.equal(api.state, 'serverError');
      const errors = harness.messages.filter((m) => m.level === 'error').map((m) => m.message);
      assert.equal(errors.length, 1, JSON.stringify(errors));
      assert.match(errors[0]!, /^np: could not start the server `\/bin\/sh -c .*\(np: the database is newer than this np\)\..*np\.serverCommand/);
      for (const m of errors) assert.ok(!/\n\s+at |Traceback/.test(m), m);
      assert.ok(harness.log.some((l) => l.includes('the database is newer')), 'the server stderr reaches the np log');
    } finally {
      await shutdown(ext, ctx);
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('extension without a workspace folder', { timeout: 60_000 }, () => {
  it('shows the open-a-folder state and explains', async () => {
    harness.reset();
    harness.config.set('np.serverCommand', [NP, 'serve']);
    const ext = loadExtension();
    const ctx = context(EXT_ROOT);
    try {
      const api = await ext.activate(ctx);
      assert.equal(api.state, 'noFolder');
      assert.equal(harness.contexts.get('npPlan.state'), 'noFolder');
      const n = harness.messages.length;
      await command('npPlan.start', []);
      assert.match(errorsSince(n)[0] ?? '', /Open a folder first/);
    } finally {
      await shutdown(ext, ctx);
    }
  });
});
