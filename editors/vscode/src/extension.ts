// The np VS Code extension: a Plan view, a status-bar item and commands, all talking to
// `np serve` (SPEC §5) through vscode-languageclient.
//
// The language client registers every server command id (np.*) as a VS Code command
// itself, so the extension's own commands live in the `npPlan.*` namespace and reach the
// server with `workspace/executeCommand` requests.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as vscode from 'vscode';
import { CloseAction, ErrorAction, ExecuteCommandRequest, LanguageClient, RevealOutputChannelOn, State } from 'vscode-languageclient/node';
import type { CloseHandlerResult, ErrorHandler, ErrorHandlerResult, LanguageClientOptions, ServerOptions } from 'vscode-languageclient/node';
import {
  answerArgs,
  counted,
  newQuestions,
  ownReceipts,
  type AnswerResult,
  type ArchiveResult,
  type Args,
  type EventsResult,
  type NpEvent,
  type DidChange,
  type ExportResult,
  type Plan,
  type PlanNode,
  type Status,
  type Task,
  type TaskAddResult,
  type TaskDraft,
  buildTree,
  chooseFolder,
  cleanMessage,
  exportArgs,
  goalChangeArgs,
  goalSetArgs,
  dirArgs,
  isNoActiveSession,
  needsReason,
  parseServerCommand,
  readableError,
  resolveDatabasePath,
  sessionArgs,
  statusBarText,
  statusBarTooltip,
  statusPicks,
  taskAddArgs,
  taskEditArgs,
  taskPicks,
  taskUpdateArgs,
  validateReason,
  validateTitle,
} from './model';

export const VIEW_ID = 'npPlan.plan';
export const DID_CHANGE = 'np/didChange';
const RECEIPT_POLL_MS = 2000; // while an own change is unseen: receipts are read again this often

/** What the Plan view shows; mirrored in the `npPlan.state` context key for welcome views. */
export type ViewState = 'loading' | 'noFolder' | 'noSession' | 'ready' | 'serverError';

/** Handed back from activate(): used by the tests, harmless for other extensions. */
export interface NpApi {
  readonly state: ViewState;
  readonly plan: Plan | null;
  readonly folder: vscode.WorkspaceFolder | undefined;
  readonly client: LanguageClient | undefined;
  /** Resolves once the view reflects the server's current plan. */
  refresh(): Promise<void>;
  /** For tests in a real extension host: the view, its rows as VS Code gets them, the status bar. */
  readonly view: vscode.TreeView<PlanNode>;
  rows(): vscode.TreeItem[];
  readonly statusBar: vscode.StatusBarItem;
  readonly statusBarVisible: boolean;
}

// -- the Plan view ------------------------------------------------------------------------------

class PlanTree implements vscode.TreeDataProvider<PlanNode> {
  private readonly changed = new vscode.EventEmitter<PlanNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private nodes: PlanNode[] = [];

  show(plan: Plan | null, seen: Record<string, string> = {}): void {
    this.nodes = buildTree(plan, seen);
    this.changed.fire(undefined);
  }

  getChildren(parent?: PlanNode): PlanNode[] {
    return parent ? [] : this.nodes;
  }

  getTreeItem(node: PlanNode): vscode.TreeItem {
    const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
    item.id = node.id;
    item.description = node.description;
    item.tooltip = node.tooltip;
    item.contextValue = node.contextValue;
    item.iconPath = new vscode.ThemeIcon(node.icon, node.color ? new vscode.ThemeColor(node.color) : undefined);
    if (node.command) item.command = { command: node.command, title: node.label, arguments: [node] };
    return item;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/**
 * The language client, minus its own error pop-ups: they are multi-line and technical
 * ("couldn't create connection to server. Code: -32099"). Everything still goes to the np
 * output channel; the extension shows one readable notification instead.
 */
class NpLanguageClient extends LanguageClient {
  override error(message: string, data?: unknown, _showNotification?: boolean | 'force'): void {
    super.error(message, data, false);
  }
}

/** Restart a crashed server up to 4 times in 3 minutes, then give up with one readable message. */
class RestartPolicy implements ErrorHandler {
  private restarts: number[] = [];
  running = false;

  constructor(private readonly giveUp: (message: string) => void) {}

  error(_error: Error, _message: unknown, count: number | undefined): ErrorHandlerResult {
    return { action: count !== undefined && count <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown, handled: true };
  }

  closed(): CloseHandlerResult {
    if (!this.running) return { action: CloseAction.DoNotRestart, handled: true }; // start() reports it
    const now = Date.now();
    this.restarts = [...this.restarts.filter((t) => now - t < 3 * 60_000), now];
    if (this.restarts.length <= 4) return { action: CloseAction.Restart, handled: true };
    this.running = false;
    this.giveUp('np: the server stopped 5 times in 3 minutes and will not be restarted; see the np output, then run "np: Restart Server".');
    return { action: CloseAction.DoNotRestart, handled: true };
  }
}

/**
 * The language client's trace channel: the np log, except that while the np.trace.server
 * setting is "messages" or "verbose" it reports the Trace log level and writes the trace at
 * Info. vscode-languageclient 11 traces only when its channel's level is Trace, so without
 * this the setting did nothing unless one also ran "Developer: Set Log Level… → np → Trace".
 */
function traceChannel(log: vscode.LogOutputChannel, subscriptions: vscode.Disposable[]): vscode.LogOutputChannel {
  const enabled = () => vscode.workspace.getConfiguration('np').get<string>('trace.server', 'off') !== 'off';
  const level = () => (enabled() ? vscode.LogLevel.Trace : log.logLevel);
  const changed = new vscode.EventEmitter<vscode.LogLevel>();
  subscriptions.push(
    changed,
    log.onDidChangeLogLevel(() => changed.fire(level())),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('np.trace.server')) changed.fire(level());
    }),
  );
  return {
    get name() {
      return log.name;
    },
    get logLevel() {
      return level();
    },
    onDidChangeLogLevel: changed.event,
    trace: (message, ...args) => (enabled() ? log.info(message, ...args) : log.trace(message, ...args)),
    debug: (message, ...args) => log.debug(message, ...args),
    info: (message, ...args) => log.info(message, ...args),
    warn: (message, ...args) => log.warn(message, ...args),
    error: (error, ...args) => log.error(error, ...args),
    append: (value) => log.append(value),
    appendLine: (value) => log.appendLine(value),
    replace: (value) => log.replace(value),
    clear: () => log.clear(),
    show: (preserveFocus?: unknown) => log.show(preserveFocus === true),
    hide: () => log.hide(),
    dispose: () => undefined, // the np log is disposed with the extension
  };
}

// -- the extension --------------------------------------------------------------------------------

class NpExtension implements NpApi {
  state: ViewState = 'loading';
  plan: Plan | null = null;
  folder: vscode.WorkspaceFolder | undefined;
  client: LanguageClient | undefined;

  private readonly tree = new PlanTree();
  readonly view: vscode.TreeView<PlanNode>;
  readonly statusBar: vscode.StatusBarItem;
  readonly log: vscode.LogOutputChannel;
  private readonly trace: vscode.LogOutputChannel;
  statusBarVisible = false;
  private refreshSeq = 0;
  private restarting: Promise<void> = Promise.resolve();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private starting: Promise<void> | undefined;
  private disposed = false;
  /** By task id: the receipt of this editor's newest change to it (np.events `receipts`). */
  seen: Record<string, string> = {};
  /** The questions already announced (`sid:seq`), so each pops up once. */
  private readonly announced = new Set<string>();
  private receiptTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(ctx: vscode.ExtensionContext) {
    this.log = vscode.window.createOutputChannel('np', { log: true });
    this.view = vscode.window.createTreeView(VIEW_ID, { treeDataProvider: this.tree, showCollapseAll: false });
    this.statusBar = vscode.window.createStatusBarItem('npPlan.progress', vscode.StatusBarAlignment.Left, 50);
    this.statusBar.name = 'np plan progress';
    this.statusBar.command = 'npPlan.showPlan';
    ctx.subscriptions.push(this.log, this.view, this.statusBar, this.tree);
    this.trace = traceChannel(this.log, ctx.subscriptions);
  }

  // -- server lifecycle ------------------------------------------------------------------------

  async startClient(): Promise<void> {
    const config = vscode.workspace.getConfiguration('np');
    const first = vscode.workspace.workspaceFolders?.[0];
    const paths = { home: os.homedir(), workspaceFolder: first?.uri.fsPath };
    let serverOptions: ServerOptions;
    let commandLine: string;
    let db: string | undefined;
    try {
      const server = parseServerCommand(config.get<unknown>('serverCommand'), paths, process.env);
      db = resolveDatabasePath(config.get<unknown>('databasePath'), paths, process.env);
      commandLine = [server.command, ...server.args].join(' ');
      if (!findExecutable(server.command, first?.uri.fsPath)) {
        this.serverFailed(
          server.command.includes('/') || server.command.includes('\\')
            ? `np: could not start the server: \`${server.command}\` was not found. Point the np.serverCommand setting at np's absolute path, e.g. ["/home/me/.local/bin/np", "serve"].`
            : `np: could not start the server: \`${server.command}\` is not on the PATH of VS Code's extension host (which comes from your login shell, not from the terminal you started VS Code in). Set np.serverCommand to np's absolute path, e.g. ["/home/me/.local/bin/np", "serve"] (\`command -v np\` in a terminal prints it).`,
        );
        return;
      }
      serverOptions = {
        // No `transport`: plain stdio. TransportKind.stdio would append `--stdio` to the arguments.
        command: server.command,
        args: server.args,
        options: {
          // For an executable the client does not merge env with process.env itself.
          ...(db !== undefined ? { env: { ...process.env, NP_DB: db } } : {}),
          ...(first ? { cwd: first.uri.fsPath } : {}),
        },
      };
    } catch (err) {
      this.serverFailed(readableError(err).message);
      return;
    }
    const policy = new RestartPolicy((message) => {
      if (this.client === client) this.serverFailed(message);
    });
    const stderrTail: string[] = []; // the server's last words, for the start-failure message
    const lines = (input: NodeJS.ReadableStream, sink: (line: string) => void) =>
      readline.createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 }).on('line', sink);
    const clientOptions: LanguageClientOptions = {
      documentSelector: [], // a planning backend: no document sync
      outputChannel: this.log,
      traceOutputChannel: this.trace,
      stdioOptions: {
        stdout: (input, channel) => lines(input, (l) => channel.info(l)),
        stderr: (input, channel) =>
          lines(input, (l) => {
            channel.warn(`[server] ${l}`);
            if (l.trim()) stderrTail.push(l.trim());
            if (stderrTail.length > 5) stderrTail.shift();
          }),
      },
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      errorHandler: policy,
      // We show our own readable notification when the server can't start.
      initializationFailedHandler: () => false,
    };
    const client = new NpLanguageClient('np', 'np', serverOptions, clientOptions);
    client.onNotification(DID_CHANGE, (params: DidChange) => {
      this.log.debug(`np/didChange ${JSON.stringify(params)}`);
      this.scheduleRefresh();
    });
    client.onDidChangeState((e) => {
      // After an automatic restart, re-read the plan (changes may have been missed).
      if (e.newState === State.Running && policy.running && this.client === client) this.scheduleRefresh();
    });
    this.client = client;
    this.log.info(`starting np server: ${commandLine}${db !== undefined ? ` (NP_DB=${db})` : ''}`);
    try {
      await client.start();
      policy.running = true;
    } catch (err) {
      if (this.client === client) this.client = undefined;
      try {
        await client.dispose(2000);
      } catch {
        // already stopped
      }
      await new Promise((r) => setTimeout(r, 50)); // let the last stderr lines arrive
      const said = stderrTail.filter((l) => !/^(Traceback|File "|\s)/.test(l)).at(-1);
      const why = cleanMessage(said ?? (err instanceof Error ? err.message : String(err)));
      this.serverFailed(
        `np: could not start the server \`${commandLine}\` (${why}). Check that it runs in a terminal, or set the np.serverCommand setting.`,
      );
    }
  }

  private serverFailed(message: string): void {
    this.log.error(message);
    this.setPlan(null, 'serverError');
    void vscode.window.showErrorMessage(message, 'Open Settings', 'Show Log').then((choice) => {
      if (choice === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'np.');
      if (choice === 'Show Log') this.log.show();
    });
  }

  /** (Re)start the server; calls queue up, so two clients never run at once. */
  restartClient(): Promise<void> {
    const next = this.restarting.then(() => this.doRestart());
    this.restarting = next.catch(() => undefined);
    return next;
  }

  private async doRestart(): Promise<void> {
    if (this.disposed) return;
    const old = this.client;
    this.client = undefined;
    if (old) {
      try {
        await old.stop(3000);
      } catch (err) {
        this.log.warn(`stopping the np server: ${String(err)}`);
      }
    }
    this.setPlan(null, 'loading');
    const starting = this.startClient();
    this.starting = starting;
    try {
      await starting;
    } finally {
      if (this.starting === starting) this.starting = undefined;
    }
    if (this.client) await this.refresh();
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.receiptTimer) clearTimeout(this.receiptTimer);
    if (this.starting) await Promise.race([this.starting, new Promise((r) => setTimeout(r, 5000))]);
    const client = this.client;
    this.client = undefined;
    if (client) {
      try {
        await client.stop(3000);
      } catch {
        // the server may already be gone
      }
    }
  }

  /** One `workspace/executeCommand` with one JSON-object argument. */
  async request<T>(command: string, args: Args): Promise<T> {
    if (this.starting) await this.starting;
    const client = this.client;
    if (!client) throw new Error('The np server is not running; check the np.serverCommand setting, then run "np: Restart Server".');
    const result: unknown = await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [args] });
    return result as T;
  }

  // -- state ----------------------------------------------------------------------------------

  currentFolder(): vscode.WorkspaceFolder | undefined {
    const editor = vscode.window.activeTextEditor;
    const active = editor ? vscode.workspace.getWorkspaceFolder(editor.document.uri) : undefined;
    return chooseFolder(active, vscode.workspace.workspaceFolders, this.folder, (a, b) => a.uri.toString() === b.uri.toString());
  }

  /** The directory to act in, or an error the user can act on. */
  dir(): string {
    const folder = this.currentFolder();
    if (!folder) throw new Error('Open a folder first: np plans work per directory.');
    return folder.uri.fsPath;
  }

  refresh(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const seq = ++this.refreshSeq;
    return this.load(seq);
  }

  private scheduleRefresh(): void {
    if (this.timer || this.disposed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, 50);
  }

  private async load(seq: number): Promise<void> {
    const folder = this.currentFolder();
    this.folder = folder;
    if (!folder) {
      this.setPlan(null, 'noFolder');
      return;
    }
    if (!this.client && !this.starting) return;
    try {
      const plan = await this.request<Plan>('np.plan', dirArgs(folder.uri.fsPath));
      if (seq === this.refreshSeq) this.setPlan(plan, 'ready');
      if (seq === this.refreshSeq) void this.loadReceipts(plan); // after the plan, never holding it up
    } catch (err) {
      if (seq !== this.refreshSeq) return;
      if (isNoActiveSession(err)) this.setPlan(null, 'noSession');
      else if (!this.client) this.setPlan(null, 'serverError');
      else this.log.warn(`refreshing the plan: ${readableError(err).message}`);
    }
  }

  /** The receipts of this editor's own changes (np.events), shown beside their tasks. An
   *  agent's read writes no event, so while a change is unseen they are read again every
   *  two seconds. */
  private async loadReceipts(plan: Plan): Promise<void> {
    if (this.receiptTimer) clearTimeout(this.receiptTimer);
    this.receiptTimer = undefined;
    let events: NpEvent[];
    try {
      const found = await this.request<EventsResult>('np.events', { sid: plan.session.sid, newest_first: true, limit: 200 });
      events = found.events;
    } catch (err) {
      this.log.debug(`reading receipts: ${readableError(err).message}`);
      return;
    }
    if (this.plan?.session.sid !== plan.session.sid || this.disposed) return;
    const seen = ownReceipts(events, vscode.env.appName);
    if (JSON.stringify(seen) !== JSON.stringify(this.seen)) {
      this.seen = seen;
      this.tree.show(this.plan, seen);
    }
    if (Object.values(seen).some((t) => t.includes('not yet seen'))) {
      this.receiptTimer = setTimeout(() => {
        this.receiptTimer = undefined;
        if (this.plan) void this.loadReceipts(this.plan);
      }, RECEIPT_POLL_MS);
    }
  }

  /** A question an agent asked that this editor has not announced yet: a notification with
   *  its choices as buttons (and "Answer…" for words of one's own). Never waits for it. */
  private announceQuestions(plan: Plan | null): void {
    for (const task of newQuestions(plan, this.announced)) {
      if (!plan || !task.ask) continue;
      this.announced.add(`${plan.session.sid}:${task.ask.seq}`);
      const buttons = [...task.ask.choices.slice(0, 3), 'Answer…'];
      const text = `np: ${task.ask.by ?? 'an agent'} asks on ${task.id} "${task.title}": ${task.ask.question}`;
      void vscode.window.showInformationMessage(text, ...buttons).then(async (choice) => {
        if (choice === undefined) return;
        try {
          if (choice === 'Answer…') await vscode.commands.executeCommand('npPlan.answer', task.id);
          else await answer(this, plan.session.dir, task, choice);
        } catch (err) {
          void showError(this, err);
        }
      });
    }
  }

  rows(): vscode.TreeItem[] {
    return this.tree.getChildren().map((node) => this.tree.getTreeItem(node));
  }

  /** Show a plan a command returned, without waiting for the notification round trip. */
  apply(plan: Plan): void {
    ++this.refreshSeq;
    this.setPlan(plan, 'ready');
  }

  private setPlan(plan: Plan | null, state: ViewState): void {
    if (this.disposed) return;
    if (plan?.session.sid !== this.plan?.session.sid) this.seen = {};
    this.plan = plan;
    if (this.state !== state) {
      this.state = state;
      void vscode.commands.executeCommand('setContext', 'npPlan.state', state);
    }
    void vscode.commands.executeCommand('setContext', 'npPlan.hasGoal', Boolean(plan?.goal));
    this.tree.show(plan, this.seen);
    this.announceQuestions(plan);
    const text = statusBarText(plan);
    if (plan && text) {
      this.statusBar.text = text;
      this.statusBar.tooltip = statusBarTooltip(plan);
      this.statusBar.show();
    } else {
      this.statusBar.hide();
    }
    this.statusBarVisible = Boolean(plan && text);
    // VS Code hides the pane header (and so the description) of a container's only view and
    // shows "NP PLAN: <title>" instead: the folder's name goes into the title.
    const multiRoot = (vscode.workspace.workspaceFolders?.length ?? 0) > 1;
    const title = multiRoot && this.folder ? `Plan — ${this.folder.name}` : 'Plan';
    if (this.view.title !== title) this.view.title = title;
  }

  onActiveFolderMaybeChanged(): void {
    const folder = this.currentFolder();
    if (folder?.uri.toString() !== this.folder?.uri.toString()) void this.refresh();
  }

  // -- helpers for commands -----------------------------------------------------------------------

  /** The task a command acts on: the clicked tree row, an id string, or a quick pick. */
  async pickTask(arg: unknown, placeHolder: string, filter?: (t: Task) => boolean): Promise<Task | undefined> {
    const plan = await this.currentPlan();
    const id = taskIdOf(arg);
    if (id !== undefined) {
      const task = plan.tasks.find((t) => t.id === id);
      if (!task) throw new Error(`No task with id ${id} in this session; refresh the view.`);
      return task;
    }
    const picks = taskPicks(plan, filter);
    if (picks.length === 0) {
      void vscode.window.showInformationMessage('np: no tasks to choose from; add some first.');
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(picks, { placeHolder, matchOnDescription: true, matchOnDetail: true });
    return pick ? plan.tasks.find((t) => t.id === pick.id) : undefined;
  }

  /** The plan of the current folder, fresh from the server. */
  async currentPlan(): Promise<Plan> {
    const plan = await this.request<Plan>('np.plan', dirArgs(this.dir()));
    this.apply(plan);
    return plan;
  }
}

/** Is `command` an executable file: as a path, or found on PATH? */
function findExecutable(command: string, cwd: string | undefined): boolean {
  const exts = process.platform === 'win32' ? ['', ...(process.env['PATHEXT'] ?? '.EXE;.CMD;.BAT').split(';')] : [''];
  const runnable = (file: string) =>
    exts.some((ext) => {
      try {
        fs.accessSync(file + ext, fs.constants.X_OK);
        return fs.statSync(file + ext).isFile();
      } catch {
        return false;
      }
    });
  if (command.includes('/') || command.includes('\\')) return runnable(path.resolve(cwd ?? process.cwd(), command));
  return (process.env['PATH'] ?? '').split(path.delimiter).some((dir) => dir && runnable(path.join(dir, command)));
}

function taskIdOf(arg: unknown): string | undefined {
  if (typeof arg === 'string' && arg) return arg;
  if (typeof arg === 'object' && arg !== null) {
    const task = (arg as { task?: unknown }).task;
    if (typeof task === 'object' && task !== null && typeof (task as { id?: unknown }).id === 'string') {
      return (task as { id: string }).id;
    }
    if (typeof (arg as { id?: unknown }).id === 'string' && !(arg as { kind?: unknown }).kind) return (arg as { id: string }).id;
  }
  return undefined;
}

// -- commands ---------------------------------------------------------------------------------------

async function askText(options: vscode.InputBoxOptions): Promise<string | undefined> {
  return vscode.window.showInputBox({ ignoreFocusOut: true, ...options });
}

function askReason(prompt: string): Promise<string | undefined> {
  return askText({ title: 'np: reason', prompt, placeHolder: 'Why? (recorded in the event log)', validateInput: validateReason });
}

type Handler = (np: NpExtension, ...args: unknown[]) => Promise<unknown>;

const COMMANDS: Record<string, Handler> = {
  'npPlan.start': async (np) => {
    const plan = await np.request<Plan>('np.session.start', dirArgs(np.dir()));
    np.apply(plan);
    void vscode.window.showInformationMessage(`np: session started in ${plan.session.dir}. Next: set the goal.`);
    return plan;
  },

  'npPlan.setGoal': async (np) => {
    const dir = np.dir();
    if ((await np.currentPlan()).goal) {
      const choice = await vscode.window.showInformationMessage('np: this session already has a goal.', 'Change Goal…');
      if (choice === 'Change Goal…') return vscode.commands.executeCommand('npPlan.changeGoal');
      return undefined;
    }
    const title = await askText({ title: 'np: set the goal (1/2)', prompt: 'Goal title: one short line', validateInput: validateTitle });
    if (title === undefined) return undefined;
    const description = await askText({
      title: 'np: set the goal (2/2)',
      prompt: 'Goal description: the request, issue references, file paths, constraints',
      placeHolder: 'Optional, but it is what a fresh context resumes from',
    });
    if (description === undefined) return undefined;
    const plan = await np.request<Plan>('np.goal.set', goalSetArgs(dir, title, description));
    np.apply(plan);
    return plan;
  },

  'npPlan.changeGoal': async (np) => {
    const dir = np.dir();
    const current = (await np.currentPlan()).goal;
    if (!current) {
      void vscode.window.showInformationMessage('np: this session has no goal yet; set it first.');
      return undefined;
    }
    const title = await askText({ title: 'np: change the goal (1/3)', prompt: 'Goal title', value: current.title, validateInput: validateTitle });
    if (title === undefined) return undefined;
    const description = await askText({ title: 'np: change the goal (2/3)', prompt: 'Goal description', value: current.description });
    if (description === undefined) return undefined;
    const probe = goalChangeArgs(dir, current, title, description, 'x');
    if (!probe) {
      void vscode.window.showInformationMessage('np: the goal is unchanged.');
      return undefined;
    }
    const reason = await askReason('Why does the goal change?');
    if (reason === undefined) return undefined;
    const plan = await np.request<Plan>('np.goal.change', goalChangeArgs(dir, current, title, description, reason) ?? probe);
    np.apply(plan);
    return plan;
  },

  'npPlan.addTasks': async (np) => {
    const dir = np.dir();
    await np.currentPlan(); // no session: say so before asking for anything
    const drafts: TaskDraft[] = [];
    for (;;) {
      const n = drafts.length + 1;
      const title = await askText({
        title: `np: add tasks (task ${n})`,
        prompt: drafts.length ? `Title of task ${n}; leave empty and press Enter to add ${drafts.length === 1 ? 'the task' : `the ${counted(drafts.length, 'task')}`}` : 'Task title',
        placeHolder: drafts.length ? 'Empty: done' : 'What is to be done',
        validateInput: drafts.length ? undefined : validateTitle,
      });
      if (title === undefined) {
        if (drafts.length === 0) return undefined;
        break; // Escape after some tasks: add those
      }
      if (!title.trim()) break;
      const description = await askText({ title: `np: add tasks (task ${n})`, prompt: `Description of "${title.trim()}" (optional)` });
      if (description === undefined) {
        if (drafts.length === 0) return undefined;
        break;
      }
      drafts.push({ title, description });
    }
    const plan = await np.request<TaskAddResult>('np.task.add', taskAddArgs(dir, drafts));
    np.apply(plan);
    return plan;
  },

  'npPlan.setStatus': async (np, arg) => {
    const dir = np.dir();
    const task = await np.pickTask(arg, 'Which task?');
    if (!task) return undefined;
    const pick = await vscode.window.showQuickPick(statusPicks(task.status), { placeHolder: `Status of ${task.id} "${task.title}"` });
    if (!pick) return undefined;
    return setStatus(np, dir, task, pick.status);
  },

  'npPlan.markInProgress': async (np, arg) => {
    const dir = np.dir();
    const task = await np.pickTask(arg, 'Which task starts now?', (t) => t.status !== 'in_progress');
    return task ? setStatus(np, dir, task, 'in_progress') : undefined;
  },

  'npPlan.markCompleted': async (np, arg) => {
    const dir = np.dir();
    const task = await np.pickTask(arg, 'Which task is done?', (t) => t.status !== 'completed');
    return task ? setStatus(np, dir, task, 'completed') : undefined;
  },

  'npPlan.answer': async (np, arg, given?: unknown) => {
    const dir = np.dir();
    const task = await np.pickTask(arg, 'Answer the question of which task?', (t) => Boolean(t.ask));
    if (!task) return undefined;
    if (!task.ask) {
      void vscode.window.showInformationMessage(`np: task ${task.id} has no open question.`);
      return undefined;
    }
    let text = typeof given === 'string' ? given : undefined;
    if (text === undefined) {
      const own = 'Your own words…';
      const picks = [...task.ask.choices.map((c) => ({ label: c })), { label: own }];
      const pick =
        task.ask.choices.length > 0
          ? await vscode.window.showQuickPick(picks, { placeHolder: `${task.ask.by ?? 'The agent'} asks: ${task.ask.question}` })
          : { label: own };
      if (!pick) return undefined;
      text =
        pick.label === own
          ? await askText({
              title: `np: answer ${task.ask.by ?? 'the agent'}`,
              prompt: task.ask.question,
              validateInput: (v) => (v.trim() ? undefined : 'Type an answer; it reaches the agent in its next output.'),
            })
          : pick.label;
      if (text === undefined) return undefined;
    }
    return answer(np, dir, task, text);
  },

  'npPlan.editTask': async (np, arg) => {
    const dir = np.dir();
    const task = await np.pickTask(arg, 'Which task to edit?');
    if (!task) return undefined;
    const title = await askText({ title: `np: edit ${task.id} (1/3)`, prompt: 'Task title', value: task.title, validateInput: validateTitle });
    if (title === undefined) return undefined;
    const description = await askText({ title: `np: edit ${task.id} (2/3)`, prompt: 'Task description', value: task.description });
    if (description === undefined) return undefined;
    if (!taskEditArgs(dir, task, title, description, 'x')) {
      void vscode.window.showInformationMessage(`np: task ${task.id} is unchanged.`);
      return undefined;
    }
    const reason = await askReason(`Why is task ${task.id} reworded?`);
    if (reason === undefined) return undefined;
    const args = taskEditArgs(dir, task, title, description, reason);
    if (!args) return undefined;
    const plan = await np.request<Plan>('np.task.edit', args);
    np.apply(plan);
    return plan;
  },

  'npPlan.export': async (np) => {
    const dir = np.dir();
    const result = await np.request<ExportResult>('np.export', exportArgs(dir, null));
    const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: result.content });
    await vscode.window.showTextDocument(doc, { preview: false });
    return result;
  },

  'npPlan.archive': async (np) => {
    const dir = np.dir();
    const plan = await np.currentPlan();
    const what = plan.goal ? `"${plan.goal.title}"` : 'the session';
    const choice = await vscode.window.showWarningMessage(
      `Archive ${what}?`,
      {
        modal: true,
        detail: `The np session for ${plan.session.dir} becomes read-only history (it stays in np ls --all and can be exported). ${plan.tasks.length === 1 ? 'Its task is' : `Its ${counted(plan.tasks.length, 'task')} are`} kept as they are.`,
      },
      'Archive',
    );
    if (choice !== 'Archive') return undefined;
    const result = await np.request<ArchiveResult>('np.session.archive', sessionArgs(dir, plan));
    await np.refresh();
    void vscode.window.showInformationMessage(`np: session ${result.session.sid} archived.`);
    return result;
  },

  'npPlan.refresh': async (np) => {
    await np.refresh();
    return np.plan;
  },

  'npPlan.showPlan': async () => {
    await vscode.commands.executeCommand(`${VIEW_ID}.focus`);
    return undefined;
  },

  'npPlan.showLog': async (np) => {
    np.log.show();
    return undefined;
  },

  'npPlan.restartServer': async (np) => {
    await np.restartClient();
    return np.state;
  },
};

async function setStatus(np: NpExtension, dir: string, task: Task, status: Status): Promise<Plan | undefined> {
  let reason: string | undefined;
  if (needsReason(status)) {
    reason = await askReason(`Why is task ${task.id} ${status === 'failed' ? 'failed' : 'cancelled'}?`);
    if (reason === undefined) return undefined;
  }
  const plan = await np.request<Plan>('np.task.update', taskUpdateArgs(dir, task.id, status, reason));
  np.apply(plan);
  return plan;
}

/** Send the operator's answer; the agent gets it first in its next output. */
async function answer(np: NpExtension, dir: string, task: Task, text: string): Promise<unknown> {
  const result = await np.request<AnswerResult>('np.task.answer', answerArgs(dir, task.id, text));
  void vscode.window.showInformationMessage(`np: answered ${task.id}; ${result.answered.asked_by ?? 'the agent'} gets it first in its next output.`);
  await np.refresh();
  return result;
}

async function showError(np: NpExtension, err: unknown): Promise<void> {
  const readable = readableError(err);
  np.log.warn(readable.message);
  const actions = readable.kind === 'no_active_session' ? ['Start Session'] : readable.kind === 'internal' || readable.kind === 'connection' ? ['Show Log'] : [];
  const choice = await vscode.window.showErrorMessage(readable.message, ...actions);
  if (choice === 'Start Session') await vscode.commands.executeCommand('npPlan.start');
  if (choice === 'Show Log') np.log.show();
}

// -- activation -------------------------------------------------------------------------------------

let current: NpExtension | undefined;

export async function activate(ctx: vscode.ExtensionContext): Promise<NpApi> {
  const np = new NpExtension(ctx);
  current = np;
  void vscode.commands.executeCommand('setContext', 'npPlan.state', 'loading');

  for (const [id, handler] of Object.entries(COMMANDS)) {
    ctx.subscriptions.push(
      vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        try {
          return await handler(np, ...args);
        } catch (err) {
          void showError(np, err);
          return undefined;
        }
      }),
    );
  }

  ctx.subscriptions.push(
    vscode.window.onDidChangeActiveTextEditor(() => np.onActiveFolderMaybeChanged()),
    vscode.workspace.onDidChangeWorkspaceFolders(() => void np.refresh()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('np.serverCommand') || e.affectsConfiguration('np.databasePath')) {
        np.log.info('np settings changed; restarting the server');
        void np.restartClient();
      }
    }),
    { dispose: () => void np.dispose() },
  );

  if (!vscode.workspace.workspaceFolders?.length) {
    // Nothing to plan in; the server starts once a folder is opened.
    np.folder = undefined;
    await np.refresh();
    const once = vscode.workspace.onDidChangeWorkspaceFolders(() => {
      once.dispose();
      if (!np.client) void np.restartClient();
    });
    ctx.subscriptions.push(once);
    return np;
  }
  await np.restartClient();
  return np;
}

export async function deactivate(): Promise<void> {
  const np = current;
  current = undefined;
  if (np) await np.dispose();
}
