// Interop test: the TypeScript MCP SDK (@modelcontextprotocol/sdk, the client Claude Code,
// Cursor, Cline and most other hosts embed) drives a real `np mcp` over stdio: the
// handshake and instructions, the tool list with its annotations, a session, an error the
// model can read (isError), and the plan after it. No result carries structuredContent.
//
// The server binary: $NP_BIN, else ../../.venv/bin/np (the repo's virtualenv), else `np`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function npBin() {
  if (process.env.NP_BIN) return process.env.NP_BIN;
  const local = path.resolve(here, '..', '..', '.venv', 'bin', 'np');
  return fs.existsSync(local) ? local : 'np';
}

test('the TypeScript MCP SDK drives np mcp', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'np-mcp-node-'));
  const project = path.join(tmp, 'project');
  fs.mkdirSync(project);
  const env = { ...process.env, NP_DB: path.join(tmp, 'np.db') };
  delete env.NP_DEBUG;
  const transport = new StdioClientTransport({
    command: npBin(),
    args: ['mcp', '-C', project],
    env,
    stderr: 'pipe',
  });
  const client = new Client({ name: 'node-interop', version: '1.0.0' });
  await client.connect(transport);
  try {
    assert.match(client.getInstructions(), /np_start/);

    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    assert.deepEqual(names, [
      'np_start', 'np_resume', 'np_plan', 'np_goal', 'np_add', 'np_update', 'np_edit', 'np_next',
    ]);
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    assert.equal(byName.np_plan.annotations.readOnlyHint, true);
    assert.equal(byName.np_update.annotations.idempotentHint, true);
    assert.equal(byName.np_update.annotations.destructiveHint, false);
    for (const t of tools) assert.equal(t.outputSchema, undefined, t.name);

    const call = async (name, args) => {
      const r = await client.callTool({ name, arguments: args });
      assert.equal(r.structuredContent, undefined, `${name} carries no structuredContent`);
      assert.equal(r.content.length, 1);
      assert.equal(r.content[0].type, 'text');
      return r;
    };

    let r = await call('np_start', {});
    assert.ok(!r.isError);
    assert.match(r.content[0].text, /np_goal/);
    r = await call('np_goal', { title: 'Ship it', description: 'From Node.' });
    assert.ok(!r.isError);
    r = await call('np_add', { tasks: [{ title: 'first' }, { title: 'second' }] });
    assert.ok(!r.isError);
    const ids = [...r.content[0].text.matchAll(/☐ ([0-9a-f]{6}) /g)].map((m) => m[1]);
    assert.equal(ids.length, 2);

    r = await call('np_update', { updates: [{ id: ids[0], status: 'failed' }] });
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /^Failed \(reason_required\): .*reason/);

    r = await call('np_update', { updates: [{ id: ids[0], status: 'completed' }] });
    assert.ok(!r.isError);
    r = await call('np_plan', {});
    assert.ok(!r.isError);
    assert.match(r.content[0].text, new RegExp(`☑ ${ids[0]} first`));
    assert.match(r.content[0].text, new RegExp(`☐ ${ids[1]} second`));

    const prompt = await client.getPrompt({ name: 'np' });
    assert.match(prompt.messages[0].content.text, /np_start/);
  } finally {
    await client.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
