// Pure logic: tree model, labels, icons, status bar, argument building, settings, errors.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  answerArgs,
  askLine,
  clockTime,
  isOwnActor,
  newQuestions,
  ownReceipts,
  receiptText,
  type NpEvent,
  type Plan,
  type Status,
  type Task,
  STATUSES,
  STATUS_INFO,
  buildTree,
  chooseFolder,
  counted,
  cleanMessage,
  exportArgs,
  goalChangeArgs,
  goalSetArgs,
  isNoActiveSession,
  needsReason,
  parseServerCommand,
  progress,
  readableError,
  resolveDatabasePath,
  sessionArgs,
  splitCommandLine,
  statusBarText,
  statusBarTooltip,
  statusPicks,
  taskAddArgs,
  taskDescription,
  taskEditArgs,
  taskPicks,
  taskTooltip,
  taskUpdateArgs,
  validateReason,
  validateTitle,
} from '../../src/model';

const AT = '2026-01-02T03:04:05Z';

function task(id: string, status: Status, title = `Task ${id}`, description = ''): Task {
  const reason = null;
  return { id, title, description, status, created_at: AT, updated_at: AT, reason, after: [], claimed_by: null, claim_expires_at: null, ask: null };
}

function plan(tasks: Task[], goal: Plan['goal'] = { title: 'Ship it', description: 'All of it.\nSee #4.', updated_at: AT }): Plan {
  const counts = { pending: 0, in_progress: 0, completed: 0, failed: 0, cancelled: 0 };
  for (const t of tasks) counts[t.status]++;
  return {
    session: { sid: '01ABCDEFGHJKMNPQRSTVWXYZ00', dir: '/w', state: 'active', created_at: AT, last_updated_at: AT, archived_at: null },
    goal,
    tasks,
    counts,
    text: '',
  };
}

const paths = { home: '/home/me', workspaceFolder: '/work/proj' };

describe('tree model', () => {
  it('is empty without a session', () => {
    assert.deepEqual(buildTree(null), []);
  });

  it('shows the goal first, then the tasks in order', () => {
    const nodes = buildTree(plan([task('b2', 'completed'), task('a1', 'pending', 'First', 'Do it well')]));
    assert.deepEqual(
      nodes.map((n) => [n.kind, n.label]),
      [
        ['goal', 'Ship it'],
        ['task', 'Task b2'],
        ['task', 'First'],
      ],
    );
    const goal = nodes[0]!;
    assert.equal(goal.icon, 'target');
    assert.equal(goal.contextValue, 'npGoal');
    assert.equal(goal.tooltip, 'Goal: Ship it\n\nAll of it.\nSee #4.');
    const first = nodes[2]!;
    assert.equal(first.description, 'a1');
    assert.equal(first.tooltip, '☐ a1 · pending\nFirst\n\nDo it well');
    assert.equal(first.contextValue, 'npTask.pending');
    assert.equal(first.task?.id, 'a1');
    assert.equal(nodes[1]!.description, 'b2 · completed');
  });

  it('offers to set the goal when there is none', () => {
    const nodes = buildTree(plan([], null));
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0]!.kind, 'noGoal');
    assert.equal(nodes[0]!.command, 'npPlan.setGoal');
    assert.equal(nodes[0]!.contextValue, 'npGoalMissing');
  });

  it('has one icon per status, spinning for in progress', () => {
    const icons = STATUSES.map((s) => buildTree(plan([task('x', s)]))[1]!.icon);
    assert.deepEqual(icons, ['circle-large-outline', 'sync~spin', 'pass-filled', 'error', 'circle-slash']);
    assert.equal(new Set(icons).size, STATUSES.length);
    assert.equal(STATUS_INFO.in_progress.glyph, '⟳');
  });

  it('gives every row a unique id scoped by session', () => {
    const ids = buildTree(plan([task('a', 'pending'), task('b', 'failed')])).map((n) => n.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(ids.every((id) => id.startsWith('01ABCDEFGHJKMNPQRSTVWXYZ00/')));
  });

  it('keeps a task tooltip short when there is no description', () => {
    const n = buildTree(plan([task('c3', 'cancelled', 'Drop')]))[1]!;
    assert.equal(n.tooltip, '⊗ c3 · cancelled\nDrop');
  });

  it("shows why a task failed or was cancelled, beside it and in its tooltip", () => {
    const failed = { ...task('f1', 'failed', 'Call the API', 'POST /login'), reason: 'the API\nanswers  503' };
    const cancelled = { ...task('c2', 'cancelled', 'Old idea'), reason: 'x'.repeat(100) };
    const [, f, c] = buildTree(plan([failed, cancelled]));
    assert.equal(f!.description, 'f1 · failed: the API answers 503');
    assert.equal(f!.tooltip, '☒ f1 · failed\nReason: the API answers 503\nCall the API\n\nPOST /login');
    assert.equal(c!.description, `c2 · cancelled: ${'x'.repeat(59)}…`); // cut beside the title
    assert.ok(c!.tooltip.includes(`Reason: ${'x'.repeat(100)}\n`)); // whole in the tooltip
    // A reason left on a task that was reopened is not shown; nor is a blank one.
    const reopened = { ...task('p3', 'pending'), reason: 'was failed once' };
    const blank = { ...task('b4', 'failed'), reason: ' ' };
    const [, p, b] = buildTree(plan([reopened, blank]));
    assert.equal(p!.description, 'p3');
    assert.equal(b!.description, 'b4 · failed');
    assert.ok(!p!.tooltip.includes('Reason') && !b!.tooltip.includes('Reason'));
  });
});

describe('dependencies and claims', () => {
  it('shows what an open task waits for and who holds it, as the plan text does', () => {
    const waiting = { ...task('b2', 'pending'), after: ['a1', 'c3'] };
    assert.equal(taskDescription(waiting), 'b2 · after a1,c3');
    const held = {
      ...task('a1', 'in_progress'),
      claimed_by: 'agent-2',
      claim_expires_at: '2026-12-06T14:05:00.000000Z',
    };
    assert.equal(taskDescription(held), 'a1 · in progress · agent-2 until 14:05Z');
    assert.match(taskTooltip(held), /agent-2 until 14:05Z/);
    const done = { ...task('c3', 'completed'), after: ['a1'] };
    assert.equal(taskDescription(done), 'c3 · completed');
  });
});

describe('status bar', () => {
  it('is hidden without a session', () => {
    assert.equal(statusBarText(null), undefined);
  });

  it('counts completed out of all tasks', () => {
    const p = plan([task('a', 'completed'), task('b', 'completed'), task('c', 'completed'), task('d', 'in_progress'), task('e', 'pending'), task('f', 'failed'), task('g', 'cancelled')]);
    assert.deepEqual(progress(p), { done: 3, total: 7 });
    assert.equal(statusBarText(p), '$(checklist) 3/7');
    assert.equal(statusBarTooltip(p), 'np: 3 of 7 tasks completed (1 in progress, 1 failed, 1 cancelled)\nGoal: Ship it\nClick to show the plan');
  });

  it('agrees in number: 1 task, 0 tasks', () => {
    assert.match(statusBarTooltip(plan([task('a', 'pending')])), /^np: 0 of 1 task completed\n/);
    assert.match(statusBarTooltip(plan([])), /^np: 0 of 0 tasks completed\n/);
    assert.deepEqual([0, 1, 2].map((n) => counted(n, 'task')), ['0 tasks', '1 task', '2 tasks']);
  });

  it('shows 0/0 for a fresh session', () => {
    assert.equal(statusBarText(plan([], null)), '$(checklist) 0/0');
    assert.match(statusBarTooltip(plan([], null)), /No goal set yet/);
  });
});

describe('quick picks and validation', () => {
  it('lists every status, marks the current one and the ones needing a reason', () => {
    const picks = statusPicks('in_progress');
    assert.deepEqual(
      picks.map((p) => p.status),
      [...STATUSES],
    );
    assert.equal(picks[1]!.description, 'current');
    assert.equal(picks[1]!.label, '$(sync) in progress');
    assert.equal(picks[3]!.description, 'asks for a reason');
    assert.equal(picks[4]!.description, 'asks for a reason');
  });

  it('knows which statuses need a reason', () => {
    assert.deepEqual(
      STATUSES.filter(needsReason),
      ['failed', 'cancelled'],
    );
  });

  it('lists tasks with glyph, id and first description line', () => {
    const picks = taskPicks(plan([task('a1', 'pending', 'One', 'line one\nline two'), task('b2', 'completed')]), (t) => t.status !== 'completed');
    assert.deepEqual(picks, [{ label: '☐ One', description: 'a1 · pending', detail: 'line one', id: 'a1' }]);
  });

  it('rejects blank reasons and titles', () => {
    assert.ok(validateReason('  '));
    assert.equal(validateReason('flaky CI'), undefined);
    assert.ok(validateTitle(''));
    assert.equal(validateTitle('x'), undefined);
  });
});

describe('command arguments', () => {
  it('builds np.goal.set', () => {
    assert.deepEqual(goalSetArgs('/w', '  Ship it ', 'desc'), { dir: '/w', title: 'Ship it', description: 'desc' });
  });

  it('sends only the changed goal fields with the reason', () => {
    const g = { title: 'A', description: 'd', updated_at: AT };
    assert.deepEqual(goalChangeArgs('/w', g, 'B', 'd', ' why '), { dir: '/w', title: 'B', reason: 'why' });
    assert.deepEqual(goalChangeArgs('/w', g, 'A', 'e', 'why'), { dir: '/w', description: 'e', reason: 'why' });
    assert.equal(goalChangeArgs('/w', g, 'A', 'd', 'why'), null);
  });

  it('builds one np.task.add batch, leaving out empty descriptions', () => {
    assert.deepEqual(
      taskAddArgs('/w', [
        { title: ' A ', description: 'a' },
        { title: 'B', description: '' },
      ]),
      { dir: '/w', tasks: [{ title: 'A', description: 'a' }, { title: 'B' }] },
    );
  });

  it('builds np.task.update with the reason on the item', () => {
    assert.deepEqual(taskUpdateArgs('/w', 'a1', 'completed'), { dir: '/w', updates: [{ id: 'a1', status: 'completed' }] });
    assert.deepEqual(taskUpdateArgs('/w', 'a1', 'failed', ' broke '), { dir: '/w', updates: [{ id: 'a1', status: 'failed', reason: 'broke' }] });
  });

  it('builds np.task.edit with only what changed', () => {
    const t = task('a1', 'pending', 'Old', 'd');
    assert.deepEqual(taskEditArgs('/w', t, 'New', 'd', 'typo'), { dir: '/w', id: 'a1', title: 'New', reason: 'typo' });
    assert.deepEqual(taskEditArgs('/w', t, 'Old', 'more', 'detail'), { dir: '/w', id: 'a1', description: 'more', reason: 'detail' });
    assert.equal(taskEditArgs('/w', t, 'Old', 'd', 'x'), null);
  });

  it('targets the shown session by sid for archive/export, else the folder', () => {
    assert.deepEqual(sessionArgs('/w', null), { dir: '/w' });
    assert.deepEqual(sessionArgs('/w', plan([])), { sid: '01ABCDEFGHJKMNPQRSTVWXYZ00' });
    assert.deepEqual(exportArgs('/w', null), { dir: '/w', format: 'markdown' });
  });
});

describe('settings', () => {
  it('defaults the server command to np serve', () => {
    assert.deepEqual(parseServerCommand(undefined, paths), { command: 'np', args: ['serve'] });
    assert.deepEqual(parseServerCommand([], paths), { command: 'np', args: ['serve'] });
    assert.deepEqual(parseServerCommand('', paths), { command: 'np', args: ['serve'] });
  });

  it('takes an array or a command line', () => {
    assert.deepEqual(parseServerCommand(['/opt/np', '--db', '/x.db', 'serve'], paths), { command: '/opt/np', args: ['--db', '/x.db', 'serve'] });
    assert.deepEqual(parseServerCommand('uv run np serve', paths), { command: 'uv', args: ['run', 'np', 'serve'] });
    assert.deepEqual(parseServerCommand('"/opt/my np/np" serve', paths), { command: '/opt/my np/np', args: ['serve'] });
  });

  it('expands ~ and ${workspaceFolder} and resolves relative programs against the folder', () => {
    assert.deepEqual(parseServerCommand('~/bin/np serve', paths), { command: '/home/me/bin/np', args: ['serve'] });
    assert.deepEqual(parseServerCommand('.venv/bin/np serve', paths), { command: '/work/proj/.venv/bin/np', args: ['serve'] });
    assert.deepEqual(parseServerCommand('./.venv/bin/np serve', paths), { command: '/work/proj/.venv/bin/np', args: ['serve'] });
    assert.deepEqual(parseServerCommand(['${workspaceFolder}/np', 'serve'], paths), { command: '/work/proj/np', args: ['serve'] });
    assert.deepEqual(parseServerCommand('${env:NPBIN} serve', paths, { NPBIN: '/e/np' }), { command: '/e/np', args: ['serve'] });
  });

  it('rejects unusable values with a readable sentence', () => {
    assert.throws(() => parseServerCommand(42, paths), /must be a string or an array of strings/);
    assert.throws(() => parseServerCommand(['np', 3], paths), /must be a string or an array/);
    assert.throws(() => parseServerCommand('"np serve', paths), /unclosed quote/);
  });

  it('splits command lines like a shell', () => {
    assert.deepEqual(splitCommandLine(`a  'b c' "d \\"e\\"" f\\ g ''`), ['a', 'b c', 'd "e"', 'f g', '']);
  });

  it('resolves the database path', () => {
    assert.equal(resolveDatabasePath('', paths), undefined);
    assert.equal(resolveDatabasePath(undefined, paths), undefined);
    assert.equal(resolveDatabasePath('/data/np.db', paths), '/data/np.db');
    assert.equal(resolveDatabasePath('~/np.db', paths), '/home/me/np.db');
    assert.equal(resolveDatabasePath('.np/np.db', paths), '/work/proj/.np/np.db');
  });
});

describe('folders', () => {
  it("uses the active editor's folder, else the first", () => {
    assert.equal(chooseFolder('b', ['a', 'b']), 'b');
    assert.equal(chooseFolder(undefined, ['a', 'b']), 'a');
    assert.equal(chooseFolder(undefined, undefined), undefined);
  });

  it('keeps the folder shown before when the active editor is in no folder', () => {
    assert.equal(chooseFolder(undefined, ['a', 'b'], 'b'), 'b');
    assert.equal(chooseFolder(undefined, ['a', 'c'], 'b'), 'a'); // b was closed
    assert.equal(chooseFolder('a', ['a', 'b'], 'b'), 'a');
    assert.equal(chooseFolder(undefined, [{ n: 1 }, { n: 2 }], { n: 2 }, (x, y) => x.n === y.n)?.n, 2);
  });
});

describe('errors', () => {
  it('shows np errors as their one sentence', () => {
    const e = { code: 1006, message: 'Marking a task failed needs a reason.', data: { kind: 'reason_required' } };
    // Common kinds speak the editor's terms, whatever the server's wording.
    assert.deepEqual(readableError(e), { kind: 'reason_required', message: 'np: this change needs a reason; it is recorded in the event log.', retryable: false });
    assert.match(readableError({ code: 1001, message: 'No session; run `np s`.', data: { kind: 'no_active_session' } }).message, /Run "np: Start Session"/);
    assert.doesNotMatch(readableError({ code: 1001, message: 'No session; run `np s`.', data: { kind: 'no_active_session' } }).message, /`np s`/);
    // Other kinds: the neutral detail when the server sends one, else its message.
    assert.equal(readableError({ code: 1005, message: 'No task zz; list them with `np t`.', data: { kind: 'task_not_found', detail: 'No task with id zz in this session.' } }).message, 'np: No task with id zz in this session.');
    assert.equal(readableError({ code: 1005, message: 'No task with id zz.', data: { kind: 'task_not_found' } }).message, 'np: No task with id zz.');
    // Kinds added later (1010+) too: the server's message carries the JSON door's hint.
    const claimed = { code: 1011, message: 'Task t1 is held by a. Take another with np.task.next {}, or "take_over": true.', data: { kind: 'task_claimed', detail: 'Task t1 is held by a.' } };
    assert.doesNotMatch(readableError(claimed).message, /np\.task|take_over/);
    assert.equal(readableError(claimed).kind, 'task_claimed');
    const blocked = { code: 1012, message: 'Task t2 waits on t1. List the tasks with np.task.list.', data: { kind: 'dependency_refused', detail: 'Task t2 waits on t1.' } };
    assert.equal(readableError(blocked).message, 'np: Task t2 waits on t1.');
    assert.equal(readableError({ code: 1010, message: 'x (data.changes)' }).kind, 'changed_since_seen');
    assert.equal(readableError({ code: 1008, message: 'busy' }).kind, 'storage_busy');
    assert.equal(readableError({ code: 1008, message: 'busy' }).retryable, true);
  });

  it('recognises no_active_session by code or kind', () => {
    assert.ok(isNoActiveSession({ code: 1001, message: 'x' }));
    assert.ok(isNoActiveSession({ code: 5, data: { kind: 'no_active_session' } }));
    assert.ok(!isNoActiveSession(new Error('x')));
  });

  it('never shows stack traces', () => {
    const py = 'ValueError: boom\nTraceback (most recent call last):\n  File "/srv/x.py", line 3, in f\n    raise';
    assert.equal(cleanMessage(py), 'ValueError: boom');
    const js = new Error('spawn np ENOENT');
    js.stack = 'Error: spawn np ENOENT\n    at foo (/x.js:1:1)';
    assert.equal(readableError(js).message, 'np: spawn np ENOENT');
    assert.equal(readableError({ code: -32603, message: 'Internal\n    at x (y.js:1:1)' }).message, 'np server error: Internal');
    assert.equal(readableError('plain').message, 'np: plain');
  });
});

describe('package.json', () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
    contributes: { commands: Array<{ command: string }>; menus: Record<string, Array<{ command: string }>>; configuration: { properties: Record<string, unknown> } };
  };
  const ids = pkg.contributes.commands.map((c) => c.command);

  it("keeps the extension's command ids out of the server's np.* namespace", () => {
    assert.ok(ids.length >= 10);
    for (const id of ids) assert.match(id, /^npPlan\./);
  });

  it('only references contributed commands in menus', () => {
    for (const [menu, entries] of Object.entries(pkg.contributes.menus)) {
      for (const e of entries) assert.ok(ids.includes(e.command), `${menu}: ${e.command}`);
    }
  });

  it('documents the server command and database settings', () => {
    assert.deepEqual(Object.keys(pkg.contributes.configuration.properties).sort(), ['np.databasePath', 'np.serverCommand', 'np.trace.server']);
  });
});

describe('questions and receipts (issue 23)', () => {
  const ask = { question: 'Which CSV dialect?', choices: ['excel', 'rfc4180'], by: 'claude-code', at: AT, seq: 7 };

  it('shows an open question beside its task, in the tooltip, and marks the row', () => {
    const asked = { ...task('a1', 'in_progress', 'Write the serializer'), ask };
    const [, node] = buildTree(plan([asked]));
    assert.equal(node!.description, 'a1 · in progress · ? Which CSV dialect?');
    assert.match(node!.tooltip, /\? claude-code asks: Which CSV dialect\? \[excel \| rfc4180\]/);
    assert.equal(node!.contextValue, 'npTask.in_progress.asked');
    assert.equal(askLine({ ...ask, choices: [], by: null }), '? someone asks: Which CSV dialect?');
  });

  it('announces each question once', () => {
    const p = plan([{ ...task('a1', 'pending'), ask }, task('b2', 'pending')]);
    const known = new Set<string>();
    assert.deepEqual(newQuestions(p, known).map((t) => t.id), ['a1']);
    known.add(`${p.session.sid}:7`);
    assert.deepEqual(newQuestions(p, known), []);
    assert.deepEqual(answerArgs('/w', 'a1', ' excel '), { dir: '/w', id: 'a1', answer: 'excel' });
  });

  it("says who has seen the editor's own changes, as np log does", () => {
    const now = new Date('2026-01-02T12:00:00Z');
    assert.equal(clockTime('2026-01-02T11:05:09Z', now), '11:05');
    assert.equal(clockTime('2026-01-01T11:05:09Z', now), '2026-01-01 11:05');
    const unseen = { actor: 'claude-code', seen: false, seen_at: null, last_looked: '2026-01-02T10:40:00Z' };
    const seen = { actor: 'codex', seen: true, seen_at: '2026-01-02T11:05:00Z', last_looked: null };
    assert.equal(receiptText([seen, unseen], now), 'seen by codex 11:05; not yet seen — claude-code last looked 10:40');
    assert.ok(isOwnActor('Visual Studio Code', 'Visual Studio Code'));
    assert.ok(isOwnActor('Visual Studio Code@box', 'Visual Studio Code'));
    assert.ok(!isOwnActor('agent', 'Visual Studio Code') && !isOwnActor(null, 'Visual Studio Code'));
    const events: NpEvent[] = [
      { sid: 's', seq: 9, at: AT, type: 'task_status_changed', reason: null, cmd: 'np.task.update', actor: 'Visual Studio Code', payload: { task_id: 'a1' }, receipts: [unseen] },
      { sid: 's', seq: 8, at: AT, type: 'task_status_changed', reason: null, cmd: 'np.task.update', actor: 'Visual Studio Code', payload: { task_id: 'a1' }, receipts: [seen] },
      { sid: 's', seq: 7, at: AT, type: 'task_asked', reason: null, cmd: 'np t q', actor: 'claude-code', payload: { task_id: 'b2' }, receipts: [seen] },
    ];
    assert.deepEqual(ownReceipts(events, 'Visual Studio Code', now), { a1: 'not yet seen — claude-code last looked 10:40' });
    const [, node] = buildTree(plan([task('a1', 'pending')]), { a1: 'seen by claude-code 11:05' });
    assert.equal(node!.description, 'a1 · seen by claude-code 11:05');
    assert.match(node!.tooltip, /Your change: seen by claude-code 11:05/);
  });
});
