// Installs dependencies when node_modules is missing or older than the manifests. Zero dependencies
// and Node 20 compatible: it runs before the install, often under the machine's own (older) Node.
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

/**
 * Drops npm's `EBADENGINE` warning blocks (five lines, each prefixed) and counts them. The first install of a
 * clean clone runs under whatever Node the machine has (often 20) only to fetch the project's Node 24
 * (the `node` dev dependency), which then runs everything else; so dozens of "Unsupported engine"
 * warnings would be the newcomer's whole first screen while saying nothing they must act on.
 */
export function filterEngineWarnings(text) {
  const kept = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('npm warn EBADENGINE')) kept.push(line);
    else if (line.includes('Unsupported engine {')) skipped++;
  }
  return { text: kept.join('\n'), skipped };
}

/** Returns the path of the project's Node (24, from the `node` dev dependency) once installed. */
export function ensureInstalled(root, log = console.log) {
  const stampFile = join(root, 'node_modules', '.roadmap-install-stamp');
  const node = join(root, 'node_modules', '.bin', 'node');
  const wanted = manifestsHash(root);
  const current = existsSync(stampFile) ? readFileSync(stampFile, 'utf8') : '';
  if (current !== wanted || !existsSync(node)) {
    // A clean clone gets exactly the lock (`npm ci`; the lock holds every platform's optional
    // binaries, so it is in sync on any machine). A checkout whose manifests changed since the last
    // install (a pull that added a dependency) gets `npm install`, which keeps node_modules and
    // installs the locked versions of what changed.
    const clean = !existsSync(join(root, 'node_modules'));
    const command = clean ? 'ci' : 'install';
    const running = process.versions.node;
    log(
      `installing dependencies (npm ${command}) under Node ${running}; this also fetches the project's Node 24, ` +
        'which runs everything after. Takes a minute or two the first time...',
    );
    const result = spawnSync('npm', [command, '--no-audit', '--no-fund'], {
      cwd: root,
      stdio: ['inherit', 'inherit', 'pipe'],
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const { text, skipped } = filterEngineWarnings(result.stderr ?? '');
    if (text.trim() !== '') process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
    if (skipped > 0) log(`(${skipped} packages asked for a newer Node than ${running}: expected for this first step, the services run on the project's Node 24)`);
    if (result.status !== 0) throw new Error(`npm ${command} failed (exit ${result.status ?? result.signal})`);
    writeFileSync(stampFile, manifestsHash(root));
  }
  return node;
}

/** Runs a script of the project with its own Node; throws on failure. */
export function runNode(root, node, args, env = process.env) {
  const result = spawnSync(node, ['--enable-source-maps', ...args], { cwd: root, stdio: 'inherit', env });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
}
