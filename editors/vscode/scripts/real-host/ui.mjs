// The UI check: what a person sees in the workbench (the DOM of the real web workbench in
// headless Chromium), with screenshots. Called by run.mjs with a running code-server.
//
// The window holds a trusted two-folder workspace (the login page first) whose own
// np.databasePath names the database with the plan. The view's title must
// carry the folder's name, the Plan view the CLI-made plan, the status bar the count. A task
// is added through the view's + button and the quick input, one completed with its row's
// inline button; then the CLI, typed into VS
// Code's own terminal, changes the plan and the view must follow without a click. Last, a
// file of the second folder (no session there) brings the welcome view, whose Start Session
// button must start one.
//   vscode-plan.png          the plan, as the CLI made it
//   vscode-live-update.png   after the + button, the inline ✓ and `np t u …` / `np t a …` in the
//                            terminal (each picture once the status bar has settled)
//   vscode-question.png      an agent's question (np t q) popped up with its choices as buttons
import { setTimeout as sleep } from 'node:timers/promises';

const ROWS = '#workbench\\.parts\\.sidebar .monaco-list-row';
const STATUS = '#nasin-pali\\.np-plan\\.npPlan\\.progress';

// A picture is taken once VS Code has settled: its status bar no longer says "Activating
// Extensions…" (the README's pictures must show the window as a person works in it).
async function settled(page) {
  const bar = page.locator('#workbench\\.parts\\.statusbar');
  for (let i = 0; i < 120; i++) {
    if (!/Activating Extensions/.test(await bar.innerText().catch(() => ''))) return;
    await sleep(250);
  }
  throw new Error('the status bar still says "Activating Extensions…" after 30 s');
}

function check(cond, what) {
  if (!cond) throw new Error(what);
}

export async function uiCheck(options) {
  const page = await options.browser.newPage({ viewport: { width: 1280, height: 760 } });
  try {
    await steps(page, options);
  } catch (err) {
    await page.screenshot({ path: `${options.shots}/failure.png` }).catch(() => undefined);
    throw err;
  } finally {
    await page.close();
  }
}

async function steps(page, { url, workspace, np, npOther, shots, devExtension, port, say }) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  let target = `${url}/?workspace=${encodeURIComponent(workspace)}`;
  if (devExtension) {
    const payload = JSON.stringify([['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${port}${devExtension}`]]);
    target += `&payload=${encodeURIComponent(payload)}`;
  }
  await page.goto(target);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  const t0 = Date.now();

  // The np Plan container, from the activity bar.
  await page.locator('.activitybar [aria-label^="np Plan"]').first().click({ timeout: 60_000 });
  await page.locator(ROWS, { hasText: 'Ship the login page' }).first().waitFor({ timeout: 60_000 });
  say(`UI: the Plan view is filled ${((Date.now() - t0) / 1000).toFixed(1)}s after the workbench appeared`);
  const rowTexts = async () => (await page.locator(ROWS).allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
  let rows = await rowTexts();
  const want = ['Ship the login page', 'Design the form', 'Validate the input', 'Call the login API', 'Set the session cookie', 'Write the end-to-end test'];
  check(want.every((w, i) => rows[i]?.startsWith(w)), `rows: ${JSON.stringify(rows)}`);
  check(/in progress/.test(rows[3] ?? ''), `the task in progress is not marked: ${rows[3]}`);
  const title = (await page.locator('#workbench\\.parts\\.sidebar .composite.title').innerText()).replace(/\s+/g, ' ');
  check(/login-page/i.test(title), `the sidebar title does not name the folder: "${title}"`);
  await page.locator(STATUS).waitFor({ state: 'visible', timeout: 10_000 });
  const status = await page.locator(STATUS).innerText();
  check(/2\/5/.test(status), `status bar: "${status}"`);
  // Open the file being worked on, so the picture shows a working window.
  await page.keyboard.press('Control+P');
  await page.locator('.quick-input-widget .quick-input-box input').fill('login.html');
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'login.html' }).first().waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter');
  await page.locator('.editor-instance .view-lines', { hasText: 'Sign in' }).waitFor({ timeout: 15_000 });
  await page.locator('#workbench\\.parts\\.sidebar').click({ position: { x: 150, y: 600 } }); // focus the view, not the editor
  await sleep(800);
  await settled(page);
  await page.screenshot({ path: `${shots}/vscode-plan.png` });
  say(`UI: rows ${JSON.stringify(rows)}; title "${title}"; status "${status}"`);

  // A command through the UI: the view's + button and the quick input.
  await page.locator('#workbench\\.parts\\.sidebar .actions-container [aria-label^="Add Tasks"]').first().click({ timeout: 10_000 });
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill('Review the copy with design');
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget .quick-input-message', { hasText: /Description/ }).or(page.locator('.quick-input-widget', { hasText: /Description/ })).first().waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter'); // no description
  await page.locator('.quick-input-widget', { hasText: /leave empty/ }).first().waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter'); // an empty title ends the list
  await page.locator(ROWS, { hasText: 'Review the copy with design' }).first().waitFor({ timeout: 10_000 });
  check((await page.locator(STATUS).innerText()).includes('2/6'), 'the status bar did not count the added task');

  // The inline buttons of a task row (menus with `viewItem` when-clauses): a pending task
  // offers Complete Task; once completed, it no longer does.
  const cookie = () => page.locator(ROWS, { hasText: 'Set the session cookie' }).first();
  await cookie().hover();
  await cookie().locator('.action-label[aria-label^="Complete Task"]').click({ timeout: 10_000 });
  await page.locator(ROWS, { hasText: 'Set the session cookie' }).filter({ hasText: 'completed' }).first().waitFor({ timeout: 10_000 });
  await page.locator(STATUS, { hasText: '3/6' }).waitFor({ timeout: 10_000 });
  await cookie().hover();
  await sleep(300);
  check((await cookie().locator('.action-label[aria-label^="Complete Task"]').count()) === 0, 'a completed task still offers Complete Task');
  check((await cookie().locator('.action-label[aria-label^="Start Task"]').count()) === 0, 'a completed task offers Start Task inline');
  check(JSON.parse(np('p')).tasks.find((t) => t.title === 'Set the session cookie')?.status === 'completed', 'the inline button did not reach the database');

  // The CLI in VS Code's own terminal; the view follows by itself.
  const plan = JSON.parse(np('p'));
  const api = plan.tasks.find((t) => t.title === 'Call the login API');
  await page.keyboard.press('Control+Backquote');
  const term = page.locator('.terminal-wrapper.active .xterm, .xterm').first();
  try {
    await term.waitFor({ state: 'visible', timeout: 8_000 });
  } catch {
    // A multi-root window asks for the terminal's folder first: the login page is the first.
    if (await page.locator('.quick-input-widget').isVisible()) await page.keyboard.press('Enter');
    await term.waitFor({ state: 'visible', timeout: 15_000 });
  }
  await sleep(1500); // the shell's prompt (xterm draws on a canvas: no text in the DOM)
  await term.click();
  await page.keyboard.type('clear\n');
  await sleep(300);
  const live = Date.now();
  await page.keyboard.type(`np t u -i ${api.id} -s completed && np t a -t "Remember the user's e-mail"\n`);
  await page.locator(ROWS, { hasText: 'Remember the user' }).first().waitFor({ timeout: 15_000 });
  await page.locator(STATUS, { hasText: '4/7' }).waitFor({ timeout: 10_000 });
  say(`UI: the CLI change in the terminal reached the view in ${((Date.now() - live) / 1000).toFixed(2)}s (typing included)`);
  rows = await rowTexts();
  check(!/in progress/.test(rows.find((r) => r.startsWith('Call the login API')) ?? 'in progress'), `Call the login API still in progress: ${JSON.stringify(rows)}`);
  await page.mouse.move(700, 300); // no hover tooltip in the picture
  await sleep(800);
  await settled(page);
  await page.screenshot({ path: `${shots}/vscode-live-update.png` });

  // Issue 23: an agent asks a question in the terminal; it pops up with its choices, the
  // question shows beside its task, and the editor's own change carries its receipt.
  const form = plan.tasks.find((t) => t.title === 'Validate the input');
  await term.click();
  await page.keyboard.type('clear\n');
  await sleep(300);
  await page.keyboard.type(`np --actor claude-code t q -i ${form.id} -q "Keep the old login page for a week?" -o yes -o no\n`);
  const toast = page.locator('.notification-toast', { hasText: 'asks on' }).first();
  await toast.waitFor({ timeout: 15_000 });
  await page.locator(ROWS, { hasText: 'Keep the old login page' }).first().waitFor({ timeout: 10_000 });
  await page.locator(ROWS, { hasText: /Set the session cookie.*seen by agent/ }).first().waitFor({ timeout: 15_000 });
  await page.mouse.move(700, 300);
  await sleep(800);
  await page.screenshot({ path: `${shots}/vscode-question.png` });
  await toast.locator('.monaco-button', { hasText: /^yes$/ }).first().click({ timeout: 10_000 });
  await page.locator(ROWS, { hasText: 'Keep the old login page' }).first().waitFor({ state: 'detached', timeout: 15_000 });
  const answered = JSON.parse(np('--actor', 'claude-code', 'p'));
  check(answered.answers?.[0]?.answer === 'yes', `the agent did not get the answer: ${JSON.stringify(answered.answers)}`);
  say('UI: the question popped up with its choices; the button answered it; the agent got it');

  // The other folder has no session: its welcome view (a `when` clause on npPlan.state) offers
  // Start Session, and the button works.
  await page.keyboard.press('Control+P');
  await page.locator('.quick-input-widget .quick-input-box input').fill('server.ts');
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'server.ts' }).first().waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter');
  const welcome = page.locator('#workbench\\.parts\\.sidebar .welcome-view-content');
  await welcome.filter({ hasText: 'No active np session' }).waitFor({ timeout: 15_000 });
  await page.locator('#workbench\\.parts\\.sidebar .composite.title', { hasText: /api-server/i }).waitFor({ timeout: 5_000 });
  check(!(await page.locator(STATUS).isVisible()), 'the status bar item shows for a folder without a session');
  await welcome.getByRole('button', { name: 'Start Session' }).click();
  await page.locator(ROWS, { hasText: 'Set the goal' }).first().waitFor({ timeout: 10_000 });
  await page.locator(STATUS, { hasText: '0/0' }).waitFor({ timeout: 10_000 });
  check(JSON.parse(npOther('p')).session.dir.endsWith('api-server'), 'no session was started in api-server');
  say('UI: the welcome view of a folder without a session started one');

  check(errors.length === 0, `errors in the page: ${errors.join('\n')}`);
}
