/*
 * The lock file installs on any machine: `npm ci` refuses a lock that lacks an optional dependency
 * of a locked package (the other platforms' native binaries of SWC, Nx, msgpackr), which npm drops
 * when a lock is rewritten on one platform with node_modules present. This checks the lock as `npm ci`
 * would, without the network, and the first-install filter that keeps the newcomer's screen readable.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface LockEntry {
  readonly version?: string;
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
}

/** Where Node's resolution would find `name` from the package at `from` (node_modules/a/node_modules/b...). */
function resolves(packages: Record<string, LockEntry>, from: string, name: string): boolean {
  let dir = from;
  for (;;) {
    if (packages[`${dir === '' ? '' : `${dir}/`}node_modules/${name}`]) return true;
    if (dir === '') return false;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut < 0 ? '' : dir.slice(0, cut);
  }
}

describe('package-lock.json', () => {
  it('holds every optional dependency of every locked package, so npm ci passes on any platform', async () => {
    const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      for (const name of Object.keys(entry.optionalDependencies ?? {})) {
        if (!resolves(lock.packages, path, name)) missing.push(`${name} (optional dependency of ${path || 'the root'})`);
      }
    }
    assert.deepEqual(missing, [], 'regenerate with `npm install --package-lock-only`');
    for (const name of ['@swc/core-darwin-arm64', '@nx/nx-darwin-arm64', '@swc/core-linux-x64-gnu', '@swc/core-win32-x64-msvc']) {
      assert.ok(lock.packages[`node_modules/${name}`], `${name} is locked`);
    }
  });

  it("records every workspace's dependencies as its package.json declares them (a stale lock installs stale links)", async () => {
    const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
    const stale: string[] = [];
    for (const group of ['libs', 'services', 'apps']) {
      for (const name of await readdir(join(root, group))) {
        const manifest = JSON.parse(await readFile(join(root, group, name, 'package.json'), 'utf8').catch(() => 'null')) as LockEntry | null;
        if (!manifest) continue;
        const locked = lock.packages[`${group}/${name}`];
        for (const field of ['dependencies', 'devDependencies'] as const) {
          const want = JSON.stringify(Object.entries(manifest[field] ?? {}).sort());
          const have = JSON.stringify(Object.entries(locked?.[field] ?? {}).sort());
          if (want !== have) stale.push(`${group}/${name} ${field}`);
        }
      }
    }
    assert.deepEqual(stale, [], 'regenerate with `npm install --package-lock-only`');
  });

  it('allows the install script that fetches the project Node (npm 12 blocks unlisted ones)', async () => {
    const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
    assert.equal(manifest.allowScripts?.node, true);
  });
});

describe('first install screen', () => {
  it('drops the EBADENGINE blocks, counts them and keeps every other line', async () => {
    const { filterEngineWarnings } = (await import(join(root, 'scripts', 'lib', 'install.mjs'))) as {
      filterEngineWarnings: (text: string) => { text: string; skipped: number };
    };
    const block = (pkg: string) =>
      [
        'npm warn EBADENGINE Unsupported engine {',
        `npm warn EBADENGINE   package: '${pkg}',`,
        "npm warn EBADENGINE   required: { node: '>=22' },",
        "npm warn EBADENGINE   current: { node: 'v20.20.2', npm: '11.19.1' }",
        'npm warn EBADENGINE }',
      ].join('\n');
    const out = filterEngineWarnings([block('a@1'), 'npm warn deprecated x@1: use y', block('b@2'), 'npm error ERESOLVE'].join('\n'));
    assert.equal(out.skipped, 2);
    assert.equal(out.text, 'npm warn deprecated x@1: use y\nnpm error ERESOLVE');
  });
});
