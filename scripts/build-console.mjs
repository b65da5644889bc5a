// Builds the web console (apps/console, Vite + Preact) into apps/console/dist, which the gateway
// serves under /console. Skipped when dist/index.html is newer than every source of the console, so
// the SWC build of the rest of the repo stays well under a second. `--force` rebuilds regardless.
//   node scripts/build-console.mjs [--force]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const app = join(root, 'apps', 'console');
const SOURCES = ['src', 'index.html', 'vite.config.ts', 'package.json', 'tsconfig.json'];

async function newestMtime(path) {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    if (err.code === 'ENOENT') return 0;
    throw err;
  }
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs; // a deleted file changes its folder's mtime
  for (const entry of await readdir(path)) newest = Math.max(newest, await newestMtime(join(path, entry)));
  return newest;
}

/** Returns what it did: 'built', 'fresh' (nothing changed) or 'skipped' (no console or no Vite here). */
export async function buildConsole({ force = false, log = console.log } = {}) {
  if (!existsSync(join(app, 'package.json'))) return 'skipped';
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  if (!existsSync(vite)) {
    log('build: console skipped (vite is not installed: npm install)');
    return 'skipped';
  }
  const built = await newestMtime(join(app, 'dist', 'index.html'));
  if (!force && built > 0) {
    let sources = 0;
    for (const source of SOURCES) sources = Math.max(sources, await newestMtime(join(app, source)));
    if (sources < built) return 'fresh';
  }
  const started = Date.now();
  const result = spawnSync(process.execPath, [vite, 'build'], { cwd: app, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`console build failed (vite exit ${result.status ?? result.signal})`);
  log(`build: console in ${Date.now() - started} ms`);
  return 'built';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildConsole({ force: process.argv.includes('--force') });
}
