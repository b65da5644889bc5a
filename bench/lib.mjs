// Shared helpers of the benchmark suite (plain ESM, no build step).
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

process.setMaxListeners(0); // one exit hook per child process
export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(BENCH_DIR, '..');
export const NODE = process.execPath;
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
export const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export const uid = (prefix) => `${prefix}${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const nowMs = () => performance.timeOrigin + performance.now();

export function median(xs) {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * Spawns a child process; resolves `lines` as they come. `waitFor(re, timeoutMs)` resolves with the
 * first stdout line matching re. Children are killed when this process exits.
 */
export function child(cmd, args, { env = {}, cwd = ROOT, label = cmd, echo = false } = {}) {
  const proc = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  const waiters = [];
  const onLine = (line) => {
    lines.push(line);
    if (lines.length > 5000) lines.splice(0, 1000);
    if (echo) process.stderr.write(`[${label}] ${line}\n`);
    for (const w of [...waiters]) if (w.re.test(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line); }
  };
  let buf = { out: '', err: '' };
  const feed = (k) => (chunk) => {
    buf[k] += chunk.toString('utf8');
    const parts = buf[k].split('\n');
    buf[k] = parts.pop();
    parts.forEach(onLine);
  };
  proc.stdout.on('data', feed('out'));
  proc.stderr.on('data', feed('err'));
  const exited = new Promise((r) => proc.once('exit', (code, sig) => r({ code, sig })));
  const kill = () => { try { proc.kill('SIGKILL'); } catch {} };
  process.once('exit', kill);
  return {
    proc, lines, exited, label,
    waitFor(re, timeoutMs = 60_000) {
      const hit = lines.find((l) => re.test(l));
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const w = { re, resolve };
        waiters.push(w);
        const t = setTimeout(() => reject(new Error(`${label}: no line matching ${re} within ${timeoutMs} ms:\n${lines.slice(-20).join('\n')}`)), timeoutMs);
        exited.then(({ code, sig }) => { if (waiters.includes(w)) reject(new Error(`${label} exited (${code ?? sig}) before ${re}:\n${lines.slice(-20).join('\n')}`)); });
        const orig = w.resolve; w.resolve = (l) => { clearTimeout(t); orig(l); };
      });
    },
    async stop(signal = 'SIGTERM', graceMs = 5_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      const t = setTimeout(kill, graceMs);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Parses the JSON after the last `RESULT ` line of a child. */
export function resultOf(c) {
  const line = [...c.lines].reverse().find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`${c.label}: no RESULT line:\n${c.lines.slice(-20).join('\n')}`);
  return JSON.parse(line.slice(7));
}

export function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : NaN;
  } catch { return NaN; }
}

/** CPU time (user + system, ms) a process has used so far, from /proc/<pid>/stat. */
export function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in USER_HZ ticks (100 per second on Linux)
  } catch { return NaN; }
}

/** NODE_OPTIONS the images' Dockerfile sets (`ENV NODE_OPTIONS=...`, the same for every service), so benchmarks run it as deployed. */
export function deployedNodeOptions(_service) {
  try {
    return /^ENV NODE_OPTIONS=(.*)$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1]?.replace(/^"|"$/g, '').trim();
  } catch { return undefined; }
}
export const SERVICES = ['gateway', 'workflow-worker', 'content-worker', 'log-sink'];

/**
 * NODE_OPTIONS for a service's process: its Dockerfile's (as deployed) unless BENCH_AS_DEPLOYED=0,
 * plus `extra` (a profiler's flags); undefined when there are none.
 */
export function nodeOptions(service, extra = '') {
  return [process.env.BENCH_AS_DEPLOYED !== '0' ? deployedNodeOptions(service) : undefined, extra].filter(Boolean).join(' ') || undefined;
}

export function machine() {
  let cpu = '';
  try { cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? ''; } catch {}
  return { node: process.version, cpu, cores: (() => { try { return Number(execFileSync('nproc').toString().trim()); } catch { return NaN; } })() };
}

export function writeResults(results) {
  const dir = join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = join(dir, `${stamp}.json`);
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`, machine: machine(), results }, null, 2));
  return file;
}

export const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a');
