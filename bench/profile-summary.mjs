// Summarises the newest .cpuprofile in a directory: self time by function and by package.
// node bench/profile-summary.mjs bench/results/profile
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? 'bench/results/profile';
const file = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (dt[i] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const fn = new Map(), pkg = new Map();
for (const [id, us] of self) {
  const { functionName, url, lineNumber } = byId.get(id).callFrame;
  const where = url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, 'nm:').replace(/.*\/work\/main\//, '');
  const k = `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
  fn.set(k, (fn.get(k) ?? 0) + us);
  const p = !url ? functionName : url.startsWith('node:') ? 'node core' : /node_modules\/(@[^/]+\/[^/]+|[^/]+)/.exec(url)?.[1] ?? where.split('/').slice(0, 2).join('/');
  pkg.set(p, (pkg.get(p) ?? 0) + us);
}
const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`).join('\n');
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled\n\nby package/area:\n${top(pkg, 15)}\n\nby function (self):\n${top(fn, 25)}`);
