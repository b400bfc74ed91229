'use strict';
// Contract test: vscode-jsonrpc (the JSON-RPC stack under VS Code's language client) drives
// a real `np serve` over stdio: initialize, a session, a goal, tasks, an application error,
// an np/didChange notification, shutdown/exit and exit code 0.
//
// The server binary: $NP_BIN, else ../../.venv/bin/np (the repo's virtualenv), else `np`.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  ResponseError,
} = require('vscode-jsonrpc/node');
const {
  InitializeRequest,
  InitializedNotification,
  ExecuteCommandRequest,
  ShutdownRequest,
  ExitNotification,
} = require('vscode-languageserver-protocol/node');

function npBin() {
  if (process.env.NP_BIN) return process.env.NP_BIN;
  const local = path.resolve(__dirname, '..', '..', '.venv', 'bin', 'np');
  return fs.existsSync(local) ? local : 'np';
}

function startServer(dbPath) {
  const env = { ...process.env, NP_DB: dbPath };
  delete env.NP_DEBUG;
  const proc = spawn(npBin(), ['serve'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise((resolve, reject) => {
    proc.on('error', reject); // e.g. the binary is missing
    proc.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const conn = createMessageConnection(
    new StreamMessageReader(proc.stdout),
    new StreamMessageWriter(proc.stdin),
  );
  return { proc, conn, exited, stderr: () => stderr };
}

/** Collects np/didChange notifications; waitFor resolves on the first match, past or future. */
function changeLog(conn) {
  const seen = [];
  const waiters = [];
  conn.onNotification('np/didChange', (params) => {
    seen.push(params);
    for (const w of waiters.splice(0)) {
      if (w.pred(params)) w.resolve(params);
      else waiters.push(w);
    }
  });
  return {
    seen,
    waitFor(pred, ms = 5000) {
      const found = seen.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching np/didChange in ${ms} ms; saw ${JSON.stringify(seen)}`)),
          ms,
        );
        waiters.push({
          pred,
          resolve: (p) => {
            clearTimeout(timer);
            resolve(p);
          },
        });
      });
    },
  };
}

test('np serve works for a vscode-jsonrpc client', { timeout: 60_000 }, async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'np-contract-'));
  const project = path.join(tmp, 'my project');
  fs.mkdirSync(project);
  const server = startServer(path.join(tmp, 'np.db'));
  const { conn, proc } = server;
  const changes = changeLog(conn); // registered before anything can trigger one
  conn.listen();
  t.after(() => {
    conn.dispose();
    if (proc.exitCode === null && proc.signalCode === null) proc.kill();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const init = await conn.sendRequest(InitializeRequest.type, {
    processId: process.pid,
    clientInfo: { name: 'node-contract' },
    rootUri: pathToFileURL(project).href,
    workspaceFolders: null,
    capabilities: {},
  });
  assert.equal(init.serverInfo.name, 'np');
  const commands = init.capabilities.executeCommandProvider.commands;
  for (const c of ['np.session.start', 'np.goal.set', 'np.task.add', 'np.plan', 'np.events']) {
    assert.ok(commands.includes(c), `${c} is advertised`);
  }
  await conn.sendNotification(InitializedNotification.type, {});

  const exec = (command, ...args) =>
    conn.sendRequest(ExecuteCommandRequest.type, { command, arguments: args });

  // a session in the workspace folder (dir defaults to rootUri)
  const started = await exec('np.session.start', {});
  const sid = started.session.sid;
  assert.equal(started.session.dir, fs.realpathSync(project));
  assert.equal(started.goal, null);
  assert.deepEqual(started.tasks, []);
  assert.equal(typeof started.text, 'string');
  assert.equal(typeof started.guide, 'string');

  const change = await changes.waitFor((c) => c.type === 'session_started');
  assert.deepEqual(change, { sid, dir: fs.realpathSync(project), seq: 1, type: 'session_started' });

  const goal = await exec('np.goal.set', { title: 'Ship the contract', description: 'From Node.' });
  assert.equal(goal.goal.title, 'Ship the contract');
  await changes.waitFor((c) => c.type === 'goal_set' && c.seq === 2);

  const added = await exec('np.task.add', {
    tasks: [{ title: 'spawn np serve', description: 'over stdio' }, { title: 'check errors' }],
  });
  assert.equal(added.added.length, 2);
  assert.deepEqual(
    added.tasks.map((task) => [task.title, task.status]),
    [['spawn np serve', 'pending'], ['check errors', 'pending']],
  );
  assert.equal(added.counts.pending, 2);
  await changes.waitFor((c) => c.type === 'task_added');

  // an application error: JSON-RPC error code 1006 with data.kind
  await assert.rejects(
    exec('np.goal.change', { title: 'Another goal' }),
    (err) => {
      assert.ok(err instanceof ResponseError, `a ResponseError, got ${err}`);
      assert.equal(err.code, 1006);
      assert.equal(err.data.kind, 'reason_required');
      assert.equal(err.data.field, 'reason');
      assert.match(err.message, /reason/i);
      return true;
    },
  );
  // wrong shapes are invalid_argument, unknown commands too
  await assert.rejects(exec('np.plan', 'not an object'), (err) => err.code === 1007);
  await assert.rejects(exec('np.nope', {}), (err) => err.code === 1007 && err.data.field === 'command');
  await assert.rejects(conn.sendRequest('np/nothing', {}), (err) => err.code === -32601);

  const plan = await exec('np.plan', { sid });
  assert.equal(plan.goal.title, 'Ship the contract');
  assert.equal(plan.tasks.length, 2);
  const events = await exec('np.events', { sid });
  assert.deepEqual(
    events.events.map((e) => e.type),
    ['session_started', 'goal_set', 'task_added', 'task_added'],
  );

  await conn.sendRequest(ShutdownRequest.type);
  await conn.sendNotification(ExitNotification.type);
  const { code, signal } = await server.exited;
  assert.equal(signal, null);
  assert.equal(code, 0, `exit code; stderr:\n${server.stderr()}`);
});
