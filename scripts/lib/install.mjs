// Installs dependencies when node_modules is missing or older than the manifests. Zero dependencies.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function manifestsHash(root) {
  const hash = createHash('sha256');
  const files = ['package.json', 'package-lock.json'];
  for (const group of ['libs', 'services', 'apps']) {
    if (!existsSync(join(root, group))) continue;
    for (const name of readdirSync(join(root, group))) files.push(join(group, name, 'package.json'));
  }
  for (const file of files) {
    const path = join(root, file);
    if (existsSync(path)) hash.update(file).update(readFileSync(path));
  }
  return hash.digest('hex');
}

/** Returns the path of the project's Node (24, from the `node` dev dependency) once installed. */
export function ensureInstalled(root, log = console.log) {
  const stampFile = join(root, 'node_modules', '.roadmap-install-stamp');
  const node = join(root, 'node_modules', '.bin', 'node');
  const wanted = manifestsHash(root);
  const current = existsSync(stampFile) ? readFileSync(stampFile, 'utf8') : '';
  if (current !== wanted || !existsSync(node)) {
    // `npm install`, not `npm ci`: with the lock file present it installs the locked versions, and
    // npm 11 records only this platform's optional binaries (SWC's) in the lock, which `npm ci`
    // then rejects as out of sync on a clean clone.
    log('installing dependencies (npm install)...');
    const result = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
    if (result.status !== 0) throw new Error(`npm install failed (exit ${result.status})`);
    writeFileSync(stampFile, manifestsHash(root));
  }
  return node;
}

/** Runs a script of the project with its own Node; throws on failure. */
export function runNode(root, node, args, env = process.env) {
  const result = spawnSync(node, ['--enable-source-maps', ...args], { cwd: root, stdio: 'inherit', env });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
}
