// Pure logic of the extension: no `vscode` import, so it runs under plain `node --test`.
//
// Wire types of the np server (SPEC §5: one JSON-object argument, plain snake_case JSON
// results), the tree model built from a plan, labels, icons, the status-bar text, the
// argument objects each command sends, settings parsing and error formatting.

export const STATUSES = ['pending', 'in_progress', 'completed', 'failed', 'cancelled'] as const;
export type Status = (typeof STATUSES)[number];

export interface SessionInfo {
  sid: string;
  dir: string;
  state: 'active' | 'archived';
  created_at: string;
  last_updated_at: string;
  archived_at: string | null;
  /** PostgreSQL only: the host name or NP_SCOPE the session was started in. */
  scope?: string;
}

export interface Goal {
  title: string;
  description: string;
  updated_at: string;
}

export interface Task {
  id: string;
  title: string;
  description: string;
  status: Status;
  created_at: string;
  updated_at: string;
  /** Why it failed or was cancelled (SPEC §2); null otherwise. */
  reason: string | null;
  /** The ids of the tasks it waits for (issue 21); empty when none. */
  after: string[];
  /** Who holds it (its claim, live or expired), until when; null when nobody does. */
  claimed_by: string | null;
  claim_expires_at: string | null;
  /** Its open question (an agent asked the operator, issue 23); null otherwise. */
  ask: Ask | null;
}

/** One item of a result's `changes`: what another actor did since you last looked. */
export interface Change {
  seq: number;
  at: string;
  actor: string | null;
  type: string;
  /** One neutral line: the task or goal touched, before → after. */
  summary: string;
  reason: string | null;
}

export interface Ask {
  question: string;
  choices: string[];
  by: string | null;
  at: string;
  seq: number;
}

/** Whether one other actor working on the plan has seen an event (np.events `receipts`). */
export interface Receipt {
  actor: string;
  seen: boolean;
  seen_at: string | null;
  last_looked: string | null;
}

/** One event of `np.events` (and of the JSON export, without `receipts`). */
export interface NpEvent {
  sid: string;
  seq: number;
  at: string;
  type: string;
  /** Why (a failure, a cancel, a goal change); null otherwise. */
  reason: string | null;
  /** The command line or the door's command that made it. */
  cmd: string;
  actor: string | null;
  payload: Record<string, unknown>;
  /** np.events only: which other actors working on the plan have seen it, and when. */
  receipts?: Receipt[];
}

/** An answer to this client's own question (a result's `answers`; shown first, once). */
export interface Answer {
  seq: number;
  at: string;
  /** Who answered. */
  by: string | null;
  task_id: string;
  title: string;
  question: string;
  answer: string;
  /** Whether the answer is one of the question's choices. */
  choice: boolean;
}

export type Counts = Record<Status, number>;

/** The plan result of `np.plan`, `np.session.start`, `np.goal.set`, … (SPEC §5). */
export interface Plan {
  session: SessionInfo;
  goal: Goal | null;
  tasks: Task[];
  counts: Counts;
  text: string;
  /** What other actors changed since this client last looked (newest last). */
  changes?: Change[];
  /** {count, from_seq, to_seq} of the older changes not listed. */
  changes_folded?: { count: number; from_seq: number; to_seq: number };
  /** The same as neutral text, to show first; only when there are changes. */
  notice?: string;
  /** Answers to this client's own questions, every one, to show first (once). */
  answers?: Answer[];
  /** A write sent again with the same idempotency `key`: nothing was written this time. */
  replayed?: boolean;
  first_at?: string;
}

/** `np.task.add`: the plan, and the new tasks' ids in the order given. */
export interface TaskAddResult extends Plan {
  added: string[];
  guide: string;
}

/** `np.task.answer`: the task (its question closed) and the answer as the asker gets it. */
export interface AnswerResult {
  sid: string;
  task: Task;
  answered: Answer & { asked_by: string | null };
  text: string;
}

/** `np.session.archive`. */
export interface ArchiveResult {
  session: SessionInfo;
  already_archived: boolean;
}

/** `np.events`: a page of the log (`total`: how many events the session has). */
export interface EventsResult {
  sid: string;
  events: NpEvent[];
  total: number;
}

export interface ExportResult {
  format: 'markdown' | 'json';
  sid: string;
  content: string;
}

/** `np/didChange` notification parameters. */
export interface DidChange {
  sid: string;
  dir: string;
  seq: number;
  type: string;
}

// -- statuses -------------------------------------------------------------------------------

export interface StatusInfo {
  label: string; // human label, as in the CLI legend
  glyph: string; // the plan-text glyph of SPEC §2
  icon: string; // codicon id; `~spin` makes it spin
  color: string | undefined; // theme color id
}

export const STATUS_INFO: Record<Status, StatusInfo> = {
  pending: { label: 'pending', glyph: '☐', icon: 'circle-large-outline', color: undefined },
  in_progress: { label: 'in progress', glyph: '⟳', icon: 'sync~spin', color: 'charts.blue' },
  completed: { label: 'completed', glyph: '☑', icon: 'pass-filled', color: 'testing.iconPassed' },
  failed: { label: 'failed', glyph: '☒', icon: 'error', color: 'testing.iconFailed' },
  cancelled: { label: 'cancelled', glyph: '⊗', icon: 'circle-slash', color: 'disabledForeground' },
};

export function isStatus(value: unknown): value is Status {
  return typeof value === 'string' && (STATUSES as readonly string[]).includes(value);
}

/** Failing or cancelling a task needs a reason (SPEC §2). */
export function needsReason(status: Status): boolean {
  return status === 'failed' || status === 'cancelled';
}

// -- the tree -------------------------------------------------------------------------------

export type NodeKind = 'goal' | 'noGoal' | 'task';

/** One row of the Plan view, independent of VS Code's TreeItem. */
export interface PlanNode {
  kind: NodeKind;
  id: string; // unique and stable within a session (TreeItem.id)
  label: string;
  description: string; // the dimmed text beside the label
  tooltip: string;
  icon: string; // codicon id
  color: string | undefined; // theme color id for the icon
  contextValue: string; // for `viewItem` when-clauses in package.json menus
  command: string | undefined; // extension command run on click
  task: Task | undefined;
}

export const GOAL_ICON = 'target';

/** The rows of the Plan view: the goal (or a "set the goal" row), then the tasks in order.
 *  `seen` (by task id): the receipt of the operator's newest change to that task. */
export function buildTree(plan: Plan | null, seen: Record<string, string> = {}): PlanNode[] {
  if (plan === null) return [];
  const sid = plan.session.sid;
  const nodes: PlanNode[] = [];
  if (plan.goal) {
    nodes.push({
      kind: 'goal',
      id: `${sid}/goal`,
      label: plan.goal.title,
      description: 'goal',
      tooltip: goalTooltip(plan.goal),
      icon: GOAL_ICON,
      color: undefined,
      contextValue: 'npGoal',
      command: undefined,
      task: undefined,
    });
  } else {
    nodes.push({
      kind: 'noGoal',
      id: `${sid}/goal`,
      label: 'Set the goal…',
      description: 'no goal yet',
      tooltip: 'This session has no goal yet. Click to set it: one title and a thorough description.',
      icon: GOAL_ICON,
      color: 'disabledForeground',
      contextValue: 'npGoalMissing',
      command: 'npPlan.setGoal',
      task: undefined,
    });
  }
  for (const task of plan.tasks) nodes.push(taskNode(sid, task, seen[task.id]));
  return nodes;
}

export function taskNode(sid: string, task: Task, seen?: string): PlanNode {
  const info = STATUS_INFO[task.status] ?? STATUS_INFO.pending;
  const asked = task.ask ? ` · ? ${task.ask.question}` : '';
  return {
    kind: 'task',
    id: `${sid}/task/${task.id}`,
    label: task.title,
    description: taskDescription(task) + asked + (seen ? ` · ${seen}` : ''),
    tooltip: taskTooltip(task) + (task.ask ? `\n\n${askLine(task.ask)}` : '') + (seen ? `\n\nYour change: ${seen}` : ''),
    icon: info.icon,
    color: info.color,
    contextValue: `npTask.${task.status}${task.ask ? '.asked' : ''}`,
    command: undefined,
    task,
  };
}

export function goalTooltip(goal: Goal): string {
  const description = goal.description.trim();
  return description ? `Goal: ${goal.title}\n\n${description}` : `Goal: ${goal.title}`;
}

/** Why a failed or cancelled task ended so, on one line; undefined for other tasks. */
export function taskReason(task: Task): string | undefined {
  if (task.status !== 'failed' && task.status !== 'cancelled') return undefined;
  const reason = (task.reason ?? '').split(/\s+/).filter(Boolean).join(' ');
  return reason || undefined;
}

const REASON_IN_ROW = 60; // characters of the reason beside the title; the tooltip has it whole

/** What an open task waits for and who holds it, as the plan text shows them:
 *  `after 6cc09c`, `agent-2 until 14:05Z`; empty when neither. */
export function taskWaitsAndHolder(task: Task): string {
  const marks: string[] = [];
  const open = task.status === 'pending' || task.status === 'in_progress';
  if (open && task.after && task.after.length > 0) marks.push(`after ${task.after.join(',')}`);
  if (task.status === 'in_progress' && task.claimed_by) {
    const until = (task.claim_expires_at ?? '').slice(11, 16);
    marks.push(until ? `${task.claimed_by} until ${until}Z` : task.claimed_by);
  }
  return marks.join('; ');
}

/** The dimmed text beside a task's title: its id, its status unless pending, what it waits
 *  for and who holds it, and the reason of a failed or cancelled task (cut to fit; the
 *  tooltip has all of it). */
export function taskDescription(task: Task): string {
  const info = STATUS_INFO[task.status] ?? STATUS_INFO.pending;
  const marks = taskWaitsAndHolder(task);
  if (marks) return task.status === 'pending' ? `${task.id} · ${marks}` : `${task.id} · ${info.label} · ${marks}`;
  if (task.status === 'pending') return task.id;
  const reason = taskReason(task);
  if (!reason) return `${task.id} · ${info.label}`;
  const cut = reason.length > REASON_IN_ROW ? `${reason.slice(0, REASON_IN_ROW - 1).trimEnd()}…` : reason;
  return `${task.id} · ${info.label}: ${cut}`;
}

export function taskTooltip(task: Task): string {
  const info = STATUS_INFO[task.status] ?? STATUS_INFO.pending;
  const reason = taskReason(task);
  const marks = taskWaitsAndHolder(task);
  const head = `${info.glyph} ${task.id} · ${info.label}${marks ? ` · ${marks}` : ''}${reason ? `\nReason: ${reason}` : ''}\n${task.title}`;
  const description = task.description.trim();
  return description ? `${head}\n\n${description}` : head;
}

// -- questions and receipts (issue 23) ---------------------------------------------------------

/** `? claude-code asks: Which CSV dialect? [excel | rfc4180]`, as the plan text says it. */
export function askLine(ask: Ask): string {
  const choices = ask.choices.length ? ` [${ask.choices.join(' | ')}]` : '';
  return `? ${ask.by ?? 'someone'} asks: ${ask.question}${choices}`;
}

/** The open questions of a plan, oldest first, that are not in `known` (keys `sid:seq`). */
export function newQuestions(plan: Plan | null, known: Set<string>): Task[] {
  if (!plan) return [];
  return plan.tasks
    .filter((t) => t.ask && !known.has(`${plan.session.sid}:${t.ask.seq}`))
    .sort((a, b) => (a.ask?.seq ?? 0) - (b.ask?.seq ?? 0));
}

export function answerArgs(dir: string, id: string, answer: string): Args {
  return { dir, id, answer: answer.trim() };
}

/** `14:05` (UTC) of an RFC 3339 time, with the date when it is not today. */
export function clockTime(at: string, now: Date = new Date()): string {
  const today = now.toISOString().slice(0, 10);
  return at.slice(0, 10) === today ? at.slice(11, 16) : `${at.slice(0, 10)} ${at.slice(11, 16)}`;
}

/** `seen by claude-code 14:05; not yet seen — codex last looked 13:40`, as np log says it. */
export function receiptText(receipts: Receipt[], now: Date = new Date()): string {
  return receipts
    .map((r) =>
      r.seen
        ? `seen by ${r.actor}${r.seen_at ? ` ${clockTime(r.seen_at, now)}` : ''}`
        : `not yet seen — ${r.actor}${r.last_looked ? ` last looked ${clockTime(r.last_looked, now)}` : ''}`,
    )
    .join('; ');
}

/** Whether `actor` (an event's) is this editor: np serve records the client's name, on a
 *  shared PostgreSQL database followed by `@<host name>`. */
export function isOwnActor(actor: string | null, client: string): boolean {
  return actor !== null && (actor === client || actor.startsWith(`${client}@`));
}

/** By task id: the receipt of this editor's newest change to each task (events newest first). */
export function ownReceipts(events: NpEvent[], client: string, now: Date = new Date()): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of events) {
    if (!isOwnActor(e.actor, client)) continue;
    const id = typeof e.payload['task_id'] === 'string' ? e.payload['task_id'] : undefined;
    if (!id || id in out) continue;
    const text = receiptText(e.receipts ?? [], now);
    if (text) out[id] = text;
  }
  return out;
}

/** `1 task`, `2 tasks`, `0 tasks`: a count and its noun in agreement. */
export function counted(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

// -- the status bar ---------------------------------------------------------------------------

export interface Progress {
  done: number;
  total: number;
}

/** Completed tasks out of all tasks, as the Markdown export counts them. */
export function progress(plan: Plan): Progress {
  return { done: plan.tasks.filter((t) => t.status === 'completed').length, total: plan.tasks.length };
}

/** `$(checklist) 3/7`, or undefined when the item should be hidden (no session). */
export function statusBarText(plan: Plan | null): string | undefined {
  if (plan === null) return undefined;
  const p = progress(plan);
  return `$(checklist) ${p.done}/${p.total}`;
}

export function statusBarTooltip(plan: Plan): string {
  const p = progress(plan);
  const lines = [`np: ${p.done} of ${counted(p.total, 'task')} completed`];
  const extra = (['in_progress', 'failed', 'cancelled'] as const)
    .filter((s) => plan.counts[s] > 0)
    .map((s) => `${plan.counts[s]} ${STATUS_INFO[s].label}`);
  if (extra.length) lines[0] += ` (${extra.join(', ')})`;
  lines.push(plan.goal ? `Goal: ${plan.goal.title}` : 'No goal set yet');
  lines.push('Click to show the plan');
  return lines.join('\n');
}

// -- quick picks ------------------------------------------------------------------------------

export interface StatusPick {
  label: string;
  description: string;
  status: Status;
}

/** The status quick-pick entries, the current one marked. */
export function statusPicks(current: Status | undefined): StatusPick[] {
  return STATUSES.map((status) => {
    const info = STATUS_INFO[status];
    const notes: string[] = [];
    if (status === current) notes.push('current');
    if (needsReason(status)) notes.push('asks for a reason');
    return { label: `$(${info.icon.replace('~spin', '')}) ${info.label}`, description: notes.join(' · '), status };
  });
}

export interface TaskPick {
  label: string;
  description: string;
  detail: string | undefined;
  id: string;
}

export function taskPicks(plan: Plan, filter: (t: Task) => boolean = () => true): TaskPick[] {
  return plan.tasks.filter(filter).map((t) => ({
    label: `${STATUS_INFO[t.status].glyph} ${t.title}`,
    description: `${t.id} · ${STATUS_INFO[t.status].label}`,
    detail: t.description.trim() ? firstLine(t.description) : undefined,
    id: t.id,
  }));
}

function firstLine(text: string): string {
  const line = text.trim().split('\n', 1)[0] ?? '';
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

// -- input validation ---------------------------------------------------------------------------

/** For showInputBox's validateInput: a reason must not be blank. */
export function validateReason(value: string): string | undefined {
  return value.trim() ? undefined : 'A reason is required; it is recorded in the event log.';
}

export function validateTitle(value: string): string | undefined {
  return value.trim() ? undefined : 'The title must not be blank.';
}

// -- command arguments (one JSON object each, SPEC §5) ---------------------------------------

export type Args = Record<string, unknown>;

export interface TaskDraft {
  title: string;
  description: string;
}

export function dirArgs(dir: string): Args {
  return { dir };
}

export function goalSetArgs(dir: string, title: string, description: string): Args {
  return { dir, title: title.trim(), description };
}

/** Only the fields that changed; null when nothing changed. */
export function goalChangeArgs(
  dir: string,
  current: Goal | null,
  title: string,
  description: string,
  reason: string,
): Args | null {
  const args: Args = { dir };
  if (!current || title.trim() !== current.title) args['title'] = title.trim();
  if (!current || description !== current.description) args['description'] = description;
  if (!('title' in args) && !('description' in args)) return null;
  args['reason'] = reason.trim();
  return args;
}

export function taskAddArgs(dir: string, drafts: TaskDraft[]): Args {
  return {
    dir,
    tasks: drafts.map((d) => (d.description.trim() ? { title: d.title.trim(), description: d.description } : { title: d.title.trim() })),
  };
}

export function taskUpdateArgs(dir: string, id: string, status: Status, reason?: string): Args {
  const update: Args = { id, status };
  if (reason !== undefined && reason.trim()) update['reason'] = reason.trim();
  return { dir, updates: [update] };
}

/** Only the fields that changed; null when nothing changed. */
export function taskEditArgs(dir: string, task: Task, title: string, description: string, reason: string): Args | null {
  const args: Args = { dir, id: task.id };
  if (title.trim() !== task.title) args['title'] = title.trim();
  if (description !== task.description) args['description'] = description;
  if (!('title' in args) && !('description' in args)) return null;
  args['reason'] = reason.trim();
  return args;
}

/** Archive/export act on the session shown when there is one, else on the folder's. */
export function sessionArgs(dir: string, plan: Plan | null): Args {
  return plan ? { sid: plan.session.sid } : { dir };
}

export function exportArgs(dir: string, plan: Plan | null): Args {
  return { ...sessionArgs(dir, plan), format: 'markdown' };
}

// -- settings ---------------------------------------------------------------------------------

export interface ServerCommand {
  command: string;
  args: string[];
}

export const DEFAULT_SERVER_COMMAND: readonly string[] = ['np', 'serve'];

/** Split a command line on whitespace, honouring "double" and 'single' quotes and \-escapes. */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line.charAt(i);
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) word += line.charAt(++i);
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      word += line.charAt(++i);
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new Error('The np.serverCommand setting has an unclosed quote.');
  if (inWord) words.push(word);
  return words;
}

export interface PathContext {
  home: string;
  workspaceFolder: string | undefined;
}

/** Expand `~`, `${workspaceFolder}` and `${env:NAME}`; resolve a relative path against the folder. */
export function expandPath(value: string, ctx: PathContext, env: Record<string, string | undefined> = {}): string {
  let out = value.replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => env[name] ?? '');
  out = out.replace(/\$\{(workspaceFolder|workspaceRoot)\}/g, () => ctx.workspaceFolder ?? '');
  out = out.replace(/\$\{userHome\}/g, ctx.home);
  if (out === '~') out = ctx.home;
  else if (out.startsWith('~/')) out = joinPath(ctx.home, out.slice(2));
  return out;
}

function isAbsolute(p: string): boolean {
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\');
}

function joinPath(a: string, b: string): string {
  const sep = a.includes('\\') && !a.includes('/') ? '\\' : '/';
  return a.endsWith('/') || a.endsWith('\\') ? a + b : a + sep + b;
}

/**
 * The `np.serverCommand` setting: an array of strings (program then arguments) or one
 * string split like a shell command line. The program, when it is a relative path with a
 * separator (`.venv/bin/np`), is resolved against the workspace folder; a bare name (`np`)
 * is looked up on PATH.
 */
export function parseServerCommand(setting: unknown, ctx: PathContext, env: Record<string, string | undefined> = {}): ServerCommand {
  let words: string[];
  if (setting === undefined || setting === null || setting === '' || (Array.isArray(setting) && setting.length === 0)) {
    words = [...DEFAULT_SERVER_COMMAND];
  } else if (typeof setting === 'string') {
    words = splitCommandLine(setting);
  } else if (Array.isArray(setting) && setting.every((w) => typeof w === 'string')) {
    words = [...(setting as string[])];
  } else {
    throw new Error('The np.serverCommand setting must be a string or an array of strings, for example ["np", "serve"].');
  }
  if (words.length === 0 || !words[0]) throw new Error('The np.serverCommand setting names no program.');
  const expanded = words.map((w) => expandPath(w, ctx, env));
  let command = expanded[0] as string;
  if (!isAbsolute(command) && /[\\/]/.test(command) && ctx.workspaceFolder) {
    command = joinPath(ctx.workspaceFolder, command.replace(/^\.[\\/]/, ''));
  }
  return { command, args: expanded.slice(1) };
}

/** The database path setting, expanded; undefined leaves NP_DB/the default alone. */
export function resolveDatabasePath(setting: unknown, ctx: PathContext, env: Record<string, string | undefined> = {}): string | undefined {
  if (typeof setting !== 'string' || !setting.trim()) return undefined;
  let p = expandPath(setting.trim(), ctx, env);
  if (!isAbsolute(p) && ctx.workspaceFolder) p = joinPath(ctx.workspaceFolder, p.replace(/^\.[\\/]/, ''));
  return p;
}

// -- folders ----------------------------------------------------------------------------------

/**
 * Multi-root: the active editor's folder; when the active editor belongs to no folder (an
 * untitled export, an output panel) the folder shown before, if still open; else the first.
 */
export function chooseFolder<F>(
  activeEditorFolder: F | undefined,
  folders: readonly F[] | undefined,
  previous?: F,
  same: (a: F, b: F) => boolean = (a, b) => a === b,
): F | undefined {
  if (activeEditorFolder !== undefined) return activeEditorFolder;
  if (previous !== undefined && folders?.some((f) => same(f, previous))) return folders.find((f) => same(f, previous));
  return folders?.[0];
}

// -- errors -----------------------------------------------------------------------------------

export const ERROR_KINDS: Record<number, string> = {
  1001: 'no_active_session',
  1002: 'session_already_active',
  1003: 'goal_already_set',
  1004: 'goal_not_set',
  1005: 'task_not_found',
  1006: 'reason_required',
  1007: 'invalid_argument',
  1008: 'storage_busy',
  1009: 'storage_error',
  1010: 'changed_since_seen',
  1011: 'task_claimed',
  1012: 'dependency_refused',
};

export interface ReadableError {
  kind: string; // an np kind, or 'server' / 'connection' / 'internal'
  message: string; // one readable sentence, prefixed for the notification
  retryable: boolean;
}

function objectField(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** Strip what should never reach a notification: Python tracebacks, stack frames, long noise. */
export function cleanMessage(message: string): string {
  let text = message.split(/\n\s*Traceback \(most recent call last\)/)[0] ?? '';
  text = text
    .split('\n')
    .filter((l) => !/^\s+at\s/.test(l) && !/^\s*File ".*", line \d+/.test(l))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (text.length > 400) text = `${text.slice(0, 399)}…`;
  return text || 'Unknown error.';
}

/**
 * Common error kinds in this extension's own terms: its command names, never the CLI's verbs
 * or flags (the server's message is written for every door; `data.kind` says what happened).
 */
export const KIND_MESSAGES: Readonly<Record<string, string>> = {
  no_active_session: 'np: this folder has no active np session. Run "np: Start Session" first.',
  session_already_active: 'np: this folder already has an active np session; the Plan view shows it.',
  goal_already_set: 'np: this session already has a goal. Run "np: Change Goal…" to change it.',
  goal_not_set: 'np: this session has no goal yet. Run "np: Set Goal…" first.',
  reason_required: 'np: this change needs a reason; it is recorded in the event log.',
  storage_busy: 'np: the database is busy (another np process is writing); try again.',
  changed_since_seen: 'np: another agent changed this task since the Plan view last showed it; nothing was written. Look at the view, then do it again if you still mean it.',
  task_claimed: 'np: another agent holds this task (it is in progress for them); leave it to them or pick another task.',
};

/** Turn whatever a request rejected with (ResponseError, Error, string) into a notification. */
export function readableError(err: unknown): ReadableError {
  const code = objectField(err, 'code');
  const raw = objectField(err, 'message');
  const message = cleanMessage(typeof raw === 'string' ? raw : typeof err === 'string' ? err : String(err));
  const data = objectField(err, 'data');
  const dataKind = objectField(data, 'kind');
  const detail = objectField(data, 'detail');
  if (typeof code === 'number') {
    const kind = typeof dataKind === 'string' ? dataKind : (ERROR_KINDS[code] ?? 'server');
    if (code >= 1001 && code <= 1099) {
      // np's application errors (SPEC §5): the editor's own words, else the neutral detail,
      // never the JSON door's hint (np.* commands and field names).
      const own = KIND_MESSAGES[kind] ?? (typeof detail === 'string' && detail.trim() ? `np: ${cleanMessage(detail)}` : `np: ${message}`);
      return { kind, message: own, retryable: kind === 'storage_busy' };
    }
    if (code === -32097 || code === -32099) {
      // vscode-jsonrpc: connection closed / stream error
      return { kind: 'connection', message: `np: the server connection was lost (${message}).`, retryable: true };
    }
    return { kind: typeof dataKind === 'string' ? dataKind : 'server', message: `np server error: ${message}`, retryable: false };
  }
  return { kind: 'internal', message: `np: ${message}`, retryable: false };
}

/** Is this the server saying the folder has no active session? */
export function isNoActiveSession(err: unknown): boolean {
  return objectField(err, 'code') === 1001 || objectField(objectField(err, 'data'), 'kind') === 'no_active_session';
}
