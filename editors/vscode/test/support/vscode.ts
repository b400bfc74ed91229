// A small stand-in for the `vscode` module, enough for the real vscode-languageclient and
// for the extension's activate() to run under plain Node. The e2e tests resolve
// `require('vscode')` to this file (Module._resolveFilename hook) and drive it through
// `harness`: scripted answers for input boxes, quick picks and modal dialogs, and records
// of everything the extension showed.

import { URI, Utils } from 'vscode-uri';

export const version = '1.91.0';

// -- basics -----------------------------------------------------------------------------------

type Listener<T> = (e: T) => unknown;

export class Disposable {
  static from(...items: Array<{ dispose(): unknown } | undefined>): Disposable {
    return new Disposable(() => {
      for (const d of items) d?.dispose();
    });
  }
  constructor(private readonly cb: () => unknown) {}
  dispose(): void {
    this.cb();
  }
}

export class EventEmitter<T> {
  private listeners: Array<Listener<T>> = [];
  readonly event = (listener: Listener<T>, thisArg?: unknown, disposables?: Disposable[]): Disposable => {
    const bound: Listener<T> = (e) => listener.call(thisArg, e);
    this.listeners.push(bound);
    const d = new Disposable(() => {
      this.listeners = this.listeners.filter((l) => l !== bound);
    });
    disposables?.push(d);
    return d;
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
  dispose(): void {
    this.listeners = [];
  }
}

export class CancellationError extends Error {
  constructor() {
    super('Canceled');
    this.name = 'Canceled';
  }
}

export class CancellationTokenSource {
  private readonly emitter = new EventEmitter<void>();
  readonly token = { isCancellationRequested: false, onCancellationRequested: this.emitter.event };
  cancel(): void {
    if (!this.token.isCancellationRequested) {
      this.token.isCancellationRequested = true;
      this.emitter.fire();
    }
  }
  dispose(): void {
    this.emitter.dispose();
  }
}

export const Uri = Object.assign(URI, { joinPath: Utils.joinPath });
export type Uri = URI;

export enum TreeItemCollapsibleState {
  None = 0,
  Collapsed = 1,
  Expanded = 2,
}
export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}
export enum LogLevel {
  Off = 0,
  Trace = 1,
  Debug = 2,
  Info = 3,
  Warning = 4,
  Error = 5,
}
export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}
export enum ConfigurationTarget {
  Global = 1,
  Workspace = 2,
  WorkspaceFolder = 3,
}

export class ThemeColor {
  constructor(readonly id: string) {}
}
export class ThemeIcon {
  constructor(
    readonly id: string,
    readonly color?: ThemeColor,
  ) {}
}
export class MarkdownString {
  constructor(public value = '') {}
}
export class TreeItem {
  id?: string;
  description?: string | boolean;
  tooltip?: string | MarkdownString;
  contextValue?: string;
  iconPath?: ThemeIcon;
  command?: { command: string; title: string; arguments?: unknown[] };
  constructor(
    public label: string,
    public collapsibleState: TreeItemCollapsibleState = TreeItemCollapsibleState.None,
  ) {}
}
// Base classes vscode-languageclient extends at load time; never instantiated here.
export class CallHierarchyItem {}
export class CodeLens {}
export class CompletionItem {}
export class DocumentLink {}
export class InlayHint {}
export class SymbolInformation {}
export class TypeHierarchyItem {}
export class CodeAction {}
export class Diagnostic {}
/** Enum-like values the client maps eagerly (e.g. CodeActionKind.Empty); any member is a unique token. */
function tokens(name: string): Record<string, unknown> {
  return new Proxy({} as Record<string, unknown>, { get: (_t, p) => `${name}.${String(p)}` });
}
export const CodeActionKind = tokens('CodeActionKind');
export class TabInputText {}
export class TabInputTextDiff {}
export class TabInputNotebook {}
export class TabInputCustom {}

// -- the harness the tests drive ----------------------------------------------------------------

export interface InputBoxOptions {
  title?: string;
  prompt?: string;
  value?: string;
  placeHolder?: string;
  validateInput?(value: string): string | undefined | null | Promise<string | undefined | null>;
}

/** A scripted answer: a value, or a function of the prompt's options (to inspect them). */
export type Answer =
  | { kind: 'input'; answer: string | undefined | ((o: InputBoxOptions) => string | undefined) }
  | { kind: 'pick'; answer: (items: readonly QuickPickItemLike[], o: unknown) => QuickPickItemLike | undefined }
  | { kind: 'warning'; answer: string | undefined };

export interface QuickPickItemLike {
  label: string;
  description?: string;
  [key: string]: unknown;
}

export interface Message {
  level: 'info' | 'warning' | 'error';
  message: string;
  items: string[];
  options: unknown;
}

export interface StubStatusBarItem {
  id: string;
  text: string;
  tooltip: string | undefined;
  command: string | undefined;
  name: string | undefined;
  visible: boolean;
  show(): void;
  hide(): void;
  dispose(): void;
}

export interface StubTreeView {
  id: string;
  provider: {
    getChildren(parent?: unknown): unknown;
    getTreeItem(node: unknown): TreeItem | Promise<TreeItem>;
    onDidChangeTreeData?: (l: Listener<unknown>) => Disposable;
  };
  title: string | undefined;
  description: string | undefined;
  message: string | undefined;
  changes: number;
  dispose(): void;
}

export interface StubDocument {
  uri: URI;
  languageId: string;
  content: string;
  getText(): string;
}

export interface WorkspaceFolder {
  uri: URI;
  name: string;
  index: number;
}

export const harness = {
  answers: [] as Answer[],
  problems: [] as string[],
  messages: [] as Message[],
  contexts: new Map<string, unknown>(),
  commands: new Map<string, (...args: unknown[]) => unknown>(),
  executed: [] as string[],
  config: new Map<string, unknown>(),
  treeViews: new Map<string, StubTreeView>(),
  statusBarItems: [] as StubStatusBarItem[],
  documents: [] as StubDocument[],
  shown: [] as StubDocument[],
  log: [] as string[],
  activeEditorChanged: new EventEmitter<unknown>(),
  foldersChanged: new EventEmitter<unknown>(),
  configChanged: new EventEmitter<{ affectsConfiguration(s: string): boolean }>(),

  reset(): void {
    this.answers = [];
    this.problems = [];
    this.messages = [];
    this.contexts.clear();
    this.commands.clear();
    this.executed = [];
    this.config.clear();
    this.treeViews.clear();
    this.statusBarItems = [];
    this.documents = [];
    this.shown = [];
    this.log = [];
    window.activeTextEditor = undefined;
    workspace.workspaceFolders = undefined;
  },

  folder(path: string, index: number): WorkspaceFolder {
    return { uri: URI.file(path), name: Utils.basename(URI.file(path)), index };
  },

  /** Pretend a file in `path` is open in the active editor. */
  openEditor(path: string | undefined): void {
    window.activeTextEditor = path === undefined ? undefined : { document: { uri: URI.file(path) } };
    this.activeEditorChanged.fire(window.activeTextEditor);
  },

  setConfig(key: string, value: unknown): void {
    this.config.set(key, value);
    this.configChanged.fire({ affectsConfiguration: (s: string) => key === s || key.startsWith(`${s}.`) });
  },

  next<K extends Answer['kind']>(kind: K, what: string): Extract<Answer, { kind: K }> | undefined {
    const a = this.answers[0];
    if (!a || a.kind !== kind) {
      this.problems.push(`unexpected ${kind} prompt: ${what} (next scripted answer: ${a ? a.kind : 'none'})`);
      return undefined;
    }
    this.answers.shift();
    return a as Extract<Answer, { kind: K }>;
  },
};

function message(level: Message['level'], text: string, rest: unknown[]): Promise<string | undefined> {
  let options: unknown;
  if (rest.length && typeof rest[0] === 'object' && rest[0] !== null && !('title' in (rest[0] as object))) options = rest.shift();
  const items = rest.map((r) => (typeof r === 'string' ? r : String((r as { title?: string }).title)));
  harness.messages.push({ level, message: text, items, options });
  if (level === 'warning' && (options as { modal?: boolean } | undefined)?.modal) {
    return Promise.resolve(harness.next('warning', text)?.answer);
  }
  return Promise.resolve(undefined);
}

const noEvent = (): Disposable => new Disposable(() => undefined);

/** Supplies a no-op `onDid*`/`onWill*` event for anything not written out. */
function withEvents<T extends object>(target: T): T {
  return new Proxy(target, {
    get(t, p, r) {
      if (p in t) return Reflect.get(t, p, r);
      if (typeof p === 'string' && /^on(Did|Will)/.test(p)) return noEvent;
      return undefined;
    },
  });
}

function logChannel(name: string) {
  const line = (level: string) => (msg: unknown) => {
    harness.log.push(`[${name}] ${level} ${String(msg)}`);
  };
  return {
    name,
    logLevel: LogLevel.Info,
    onDidChangeLogLevel: noEvent,
    trace: line('trace'),
    debug: line('debug'),
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    append: line('append'),
    appendLine: line('line'),
    replace: line('replace'),
    clear() {},
    show() {},
    hide() {},
    dispose() {},
  };
}

// -- namespaces -----------------------------------------------------------------------------------

export const window = withEvents({
  activeTextEditor: undefined as undefined | { document: { uri: URI } },
  visibleTextEditors: [] as unknown[],
  tabGroups: withEvents({ all: [] as unknown[] }),
  onDidChangeActiveTextEditor: (l: Listener<unknown>) => harness.activeEditorChanged.event(l),
  createOutputChannel: (name: string) => logChannel(name),
  createTreeView(id: string, options: { treeDataProvider: StubTreeView['provider'] }): StubTreeView {
    const view: StubTreeView = {
      id,
      provider: options.treeDataProvider,
      title: undefined,
      description: undefined,
      message: undefined,
      changes: 0,
      dispose: () => harness.treeViews.delete(id),
    };
    options.treeDataProvider.onDidChangeTreeData?.(() => {
      view.changes++;
    });
    harness.treeViews.set(id, view);
    return view;
  },
  createStatusBarItem(id: string): StubStatusBarItem {
    const item: StubStatusBarItem = {
      id,
      text: '',
      tooltip: undefined,
      command: undefined,
      name: undefined,
      visible: false,
      show() {
        this.visible = true;
      },
      hide() {
        this.visible = false;
      },
      dispose() {
        this.visible = false;
      },
    };
    harness.statusBarItems.push(item);
    return item;
  },
  async showInputBox(o: InputBoxOptions): Promise<string | undefined> {
    const a = harness.next('input', o.title ?? o.prompt ?? '');
    if (!a) return undefined;
    const value = typeof a.answer === 'function' ? a.answer(o) : a.answer;
    if (value !== undefined && o.validateInput) {
      const problem = await o.validateInput(value);
      if (problem) {
        harness.problems.push(`input ${JSON.stringify(value)} rejected by validateInput: ${problem}`);
        return undefined;
      }
    }
    return value;
  },
  async showQuickPick(items: readonly QuickPickItemLike[] | Promise<readonly QuickPickItemLike[]>, o: unknown) {
    const list = await items;
    const a = harness.next('pick', (o as { placeHolder?: string } | undefined)?.placeHolder ?? '');
    return a ? a.answer(list, o) : undefined;
  },
  showInformationMessage: (m: string, ...rest: unknown[]) => message('info', m, rest),
  showWarningMessage: (m: string, ...rest: unknown[]) => message('warning', m, rest),
  showErrorMessage: (m: string, ...rest: unknown[]) => message('error', m, rest),
  async showTextDocument(doc: StubDocument) {
    harness.shown.push(doc);
    return { document: doc };
  },
  async withProgress<R>(_o: unknown, task: (p: { report(): void }, t: unknown) => Promise<R>): Promise<R> {
    return task({ report() {} }, new CancellationTokenSource().token);
  },
});

export const workspace = withEvents({
  workspaceFolders: undefined as WorkspaceFolder[] | undefined,
  textDocuments: [] as unknown[],
  notebookDocuments: [] as unknown[],
  onDidChangeWorkspaceFolders: (l: Listener<unknown>) => harness.foldersChanged.event(l),
  onDidChangeConfiguration: (l: Listener<{ affectsConfiguration(s: string): boolean }>) => harness.configChanged.event(l),
  getWorkspaceFolder(uri: URI): WorkspaceFolder | undefined {
    let best: WorkspaceFolder | undefined;
    for (const f of this.workspaceFolders ?? []) {
      const root = f.uri.fsPath;
      if ((uri.fsPath === root || uri.fsPath.startsWith(`${root}/`)) && (!best || root.length > best.uri.fsPath.length)) best = f;
    }
    return best;
  },
  getConfiguration(section?: string) {
    const full = (key: string) => (section ? `${section}.${key}` : key);
    return {
      get<T>(key: string, fallback?: T): T | undefined {
        return harness.config.has(full(key)) ? (harness.config.get(full(key)) as T) : fallback;
      },
      has: (key: string) => harness.config.has(full(key)),
      inspect: () => undefined,
      update: async (key: string, value: unknown) => void harness.config.set(full(key), value),
    };
  },
  async openTextDocument(o: { language?: string; content?: string }): Promise<StubDocument> {
    const doc: StubDocument = {
      uri: URI.from({ scheme: 'untitled', path: `Untitled-${harness.documents.length + 1}` }),
      languageId: o.language ?? 'plaintext',
      content: o.content ?? '',
      getText() {
        return this.content;
      },
    };
    harness.documents.push(doc);
    return doc;
  },
  createFileSystemWatcher: () => withEvents({ dispose() {} }),
  applyEdit: async () => false,
});

export const commands = {
  registerCommand(id: string, fn: (...args: unknown[]) => unknown): Disposable {
    // Like VS Code: a second registration of one id throws.
    if (harness.commands.has(id)) throw new Error(`command '${id}' already exists`);
    harness.commands.set(id, fn);
    return new Disposable(() => {
      if (harness.commands.get(id) === fn) harness.commands.delete(id);
    });
  },
  async executeCommand(id: string, ...args: unknown[]): Promise<unknown> {
    if (id === 'setContext') {
      harness.contexts.set(String(args[0]), args[1]);
      return undefined;
    }
    harness.executed.push(id);
    const fn = harness.commands.get(id);
    return fn ? fn(...args) : undefined;
  },
  async getCommands(): Promise<string[]> {
    return [...harness.commands.keys()];
  },
};

export const languages = withEvents({
  match: () => 0,
  createDiagnosticCollection: (name?: string) =>
    withEvents({ name, set() {}, delete() {}, clear() {}, forEach() {}, get: () => undefined, has: () => false, dispose() {} }),
});

export const notebooks = withEvents({});
export const extensions = withEvents({ all: [] as unknown[], getExtension: () => undefined });

export const env = {
  appName: 'vscode-stub',
  appRoot: '/',
  language: 'en',
  machineId: 'stub',
  sessionId: 'stub',
  uriScheme: 'vscode',
  openExternal: async () => false,
};
