#!/usr/bin/env node
// `npm test [unit|int|e2e]`: makes sure NATS and PostgreSQL are up, builds, type-checks, then runs
// the tests with Node's test runner against the real servers:
//   unit  <pkg>/src/**/*.spec.ts      beside the code, strict fakes
//   int   <pkg>/test/*.int-spec.ts    against the real NATS and PostgreSQL
//   e2e   test/e2e/*.e2e-spec.ts      the four services as real processes
// Unit and integration files run two at a time; end-to-end files one at a time (each starts a platform).
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureInfra } from './lib/infra.mjs';
import { ensureInstalled } from './lib/install.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tiers = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const want = (tier) => tiers.length === 0 || tiers.includes(tier);

const node = ensureInstalled(root);
await ensureInfra((m) => console.log(`[test] ${m}`));

function step(name, args) {
  console.log(`[test] ${name}`);
  const result = spawnSync(node, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`[test] ${name} failed`);
    process.exit(result.status ?? 1);
  }
}
step('build', ['scripts/build.mjs']);
if (tiers.length === 0) step('typecheck', [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit']);
if (tiers.length === 0) step('typecheck console', [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'apps/console/tsconfig.json']);

/** Runs node --test on the globs; returns its pass/fail counts (read from the spec reporter's summary). */
function runTests(label, globs, concurrency) {
  return new Promise((resolve) => {
    console.log(`[test] ${label}`);
    const child = spawn(
      node,
      ['--enable-source-maps', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=180000', '--test-reporter=spec', ...globs],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_ENV: 'test' } },
    );
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      out += chunk;
      process.stdout.write(chunk);
    });
    child.on('exit', (code) => {
      const count = (name) => Number(out.match(new RegExp(`ℹ ${name} (\\d+)`))?.[1] ?? 0);
      resolve({ code: code ?? 1, pass: count('pass'), fail: count('fail'), skipped: count('skipped') });
    });
  });
}

const results = [];
if (want('unit') || want('int')) {
  const globs = [];
  if (want('unit')) globs.push('libs/*/dist/src/**/*.spec.js', 'services/*/dist/src/**/*.spec.js');
  if (want('int')) globs.push('libs/*/dist/test/**/*.int-spec.js', 'services/*/dist/test/**/*.int-spec.js', 'dist/test/deploy/**/*.int-spec.js', 'dist/test/observability/**/*.int-spec.js');
  results.push(await runTests('unit and integration tests', globs, 2));
}
if (want('e2e')) results.push(await runTests('end-to-end tests', ['dist/test/e2e/**/*.e2e-spec.js'], 1));

const total = results.reduce((t, r) => ({ pass: t.pass + r.pass, fail: t.fail + r.fail, skipped: t.skipped + r.skipped }), {
  pass: 0,
  fail: 0,
  skipped: 0,
});
const failed = results.some((r) => r.code !== 0);
console.log(`\n${total.pass} passed, ${total.fail} failed, ${total.skipped} skipped`);
process.exit(failed ? 1 : total.pass === 0 ? 1 : 0);
