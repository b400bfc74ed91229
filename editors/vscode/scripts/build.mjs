// Bundle the extension with esbuild (and, with --tests, the test files).
//   node scripts/build.mjs            dist/extension.js (with a source map)
//   node scripts/build.mjs --minify   dist/extension.js, minified, no map (what `npm run package` ships)
//   node scripts/build.mjs --tests    dist/extension.js plus out/tests/**/*.test.js and the vscode stand-in
//   node scripts/build.mjs --host     dist/extension.js plus out/host/suite.js (the in-host tests, run
//                                     in a real VS Code by scripts/real-host/run.mjs)
import { build } from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = new Set(process.argv.slice(2));
const minify = argv.has('--minify');

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
  absWorkingDir: root,
};

await build({
  ...common,
  entryPoints: ['src/extension.ts'],
  outfile: 'dist/extension.js',
  external: ['vscode'],
  minify,
  sourcemap: !minify,
});

if (argv.has('--tests')) {
  rmSync(join(root, 'out', 'tests'), { recursive: true, force: true });
  const tests = [];
  for (const dir of ['test/unit', 'test/e2e']) {
    for (const f of readdirSync(join(root, dir))) if (f.endsWith('.test.ts')) tests.push(`${dir}/${f}`);
  }
  await build({
    ...common,
    entryPoints: [...tests, 'test/support/vscode.ts'],
    outdir: 'out/tests',
    outbase: 'test',
    // The e2e tests load the real bundle (dist/extension.js) at run time, with `vscode`
    // resolved to the stand-in; nothing of the extension itself is bundled into them.
    external: ['vscode'],
    sourcemap: 'inline',
  });
}

if (argv.has('--host')) {
  // Inside the extension folder, so the extension host hands it this extension's `vscode` API.
  await build({
    ...common,
    entryPoints: ['test/host/suite.ts'],
    outfile: 'out/host/suite.js',
    external: ['vscode'],
    sourcemap: 'inline',
  });
}
