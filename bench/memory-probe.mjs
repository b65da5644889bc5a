// Preloaded into a service (NODE_OPTIONS=--import <this file>) by `BENCH_MEMORY_PROBE=1 npm run bench
// -- memory`: after BENCH_PROBE_AFTER_MS (default 8 s) it writes what the process holds to
// BENCH_PROBE_DIR/<service>-<pid>.json: process.memoryUsage(), the V8 heap spaces, the flags, and
// the modules it loaded per package (recorded by a resolve hook), to see what idle RSS is made of.
import { registerHooks } from 'node:module';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import v8 from 'node:v8';

const loaded = new Set();
/** Package -> the module that imported it first (who pulls a heavy package in). */
const firstImporter = {};
const packageOf = (url) => /node_modules\/(@[^/]+\/[^/]+|[^/]+)/.exec(url)?.[1];
registerHooks({
  resolve(specifier, context, next) {
    const r = next(specifier, context);
    if (r.url?.startsWith('file:')) {
      loaded.add(r.url);
      const pkg = packageOf(r.url);
      if (pkg && !(pkg in firstImporter) && packageOf(context.parentURL ?? '') !== pkg) firstImporter[pkg] = (context.parentURL ?? '').replace(/^file:\/\/.*?(node_modules\/|\/work\/main\/)/, '');
    }
    return r;
  },
});
const dir = process.env.BENCH_PROBE_DIR ?? '/tmp';
const mb = (n) => Math.round((n / 1048576) * 10) / 10;
setTimeout(() => {
  const packages = {};
  for (const url of loaded) {
    const m = /node_modules\/(@[^/]+\/[^/]+|[^/]+)/.exec(url);
    const key = m ? m[1] : url.replace(/^file:\/\/.*?\/work\/main\//, '').split('/').slice(0, 2).join('/');
    packages[key] = (packages[key] ?? 0) + 1;
  }
  const mem = process.memoryUsage();
  const out = {
    argv: process.argv.slice(1), execArgv: process.execArgv, nodeOptions: process.env.NODE_OPTIONS,
    memoryMb: Object.fromEntries(Object.entries(mem).map(([k, v]) => [k, mb(v)])),
    heapSpacesMb: Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, { size: mb(s.space_size), used: mb(s.space_used_size), physical: mb(s.physical_space_size) }])),
    heap: Object.fromEntries(Object.entries(v8.getHeapStatistics()).filter(([k]) => /size|malloced|code/.test(k)).map(([k, v]) => [k, mb(v)])),
    modules: loaded.size,
    firstImporter,
    packages: Object.fromEntries(Object.entries(packages).sort((a, b) => b[1] - a[1])),
  };
  mkdirSync(dir, { recursive: true });
  const name = (process.argv[1] ?? 'node').replace(/.*services\/([^/]+)\/.*/, '$1');
  writeFileSync(join(dir, `${name}-${process.pid}.json`), JSON.stringify(out, null, 2));
}, Number(process.env.BENCH_PROBE_AFTER_MS ?? 8_000)).unref();
