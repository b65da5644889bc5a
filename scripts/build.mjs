#!/usr/bin/env node
// Compiles every workspace package with SWC (decorator metadata for NestJS):
//   <pkg>/src  -> <pkg>/dist/src    (what runs and ships)
//   <pkg>/test -> <pkg>/dist/test   (integration tests: their `../src/x.js` imports resolve as in source)
//   test/      -> dist/test/        (end-to-end tests)
//   apps/console -> apps/console/dist (the web console, Vite; only when its sources changed)
// Type checking is separate (`npm run typecheck`): SWC strips types, tsc checks them.
import { transformFile } from '@swc/core';
import { readdir, mkdir, rm, writeFile, copyFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, dirname, relative, extname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const swcrc = JSON.parse(await readFile(join(root, '.swcrc'), 'utf8'));
delete swcrc.$schema;

async function* walk(dir) {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (err.code === 'ENOENT') return;
    throw err;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}

async function compileTree(srcDir, outDir) {
  // Files are rewritten in place and stale ones removed afterwards, never the folder first: a
  // process running from dist/ while a build happens never finds a module missing.
  const written = new Set();
  const jobs = [];
  for await (const file of walk(srcDir)) {
    const rel = relative(srcDir, file);
    if (file.endsWith('.d.ts')) continue;
    if (extname(file) === '.ts') {
      const out = join(outDir, rel.replace(/\.ts$/, '.js'));
      written.add(out).add(`${out}.map`);
      jobs.push(
        (async () => {
          const { code, map } = await transformFile(file, {
            ...swcrc,
            swcrc: false,
            filename: file,
            sourceFileName: relative(dirname(out), file),
          });
          await mkdir(dirname(out), { recursive: true });
          await writeFile(out, `${code}\n//# sourceMappingURL=${out.split('/').pop()}.map\n`);
          if (map) await writeFile(`${out}.map`, map);
        })(),
      );
    } else {
      // Assets beside the code (prompt templates, JSON) ship with it.
      const out = join(outDir, rel);
      written.add(out);
      jobs.push(mkdir(dirname(out), { recursive: true }).then(() => copyFile(file, out)));
    }
  }
  await Promise.all(jobs);
  for await (const file of walk(outDir)) if (!written.has(file)) await rm(file);
  return jobs.length;
}

const started = Date.now();
let files = 0;
for (const group of ['libs', 'services']) {
  for (const name of await readdir(join(root, group))) {
    const pkg = join(root, group, name);
    files += await compileTree(join(pkg, 'src'), join(pkg, 'dist', 'src'));
    files += await compileTree(join(pkg, 'test'), join(pkg, 'dist', 'test'));
  }
}
files += await compileTree(join(root, 'test'), join(root, 'dist', 'test'));
console.log(`build: ${files} files in ${Date.now() - started} ms`);
// The console is built where it is part of the tree (not in the worker images, which leave it out).
if (existsSync(join(root, 'scripts', 'build-console.mjs'))) await (await import('./build-console.mjs')).buildConsole();
