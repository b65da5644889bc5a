// npm run bench [-- <scenario> ...]: runs the scenarios (all by default), prints a table, writes
// bench/results/<timestamp>.json. Scenarios: dispatch latency gateway logs makespan memory batch outbox webhooks bulk search fairness profile.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ensureInstalled } from '../scripts/lib/install.mjs';
import { BENCH_DIR, ROOT, NODE, fmt, writeResults } from './lib.mjs';

// Like `npm start`: `npm run bench` on a fresh clone (the system's Node, nothing installed) installs
// first, then runs the suite again with the project's Node 24. Up to here everything is zero-dependency
// and Node 20 compatible (lib.mjs too); the scenarios, which import packages, load after this.
if (process.env.ROADMAP_BENCH_RELAUNCHED !== '1') {
  const node = ensureInstalled(ROOT, (message) => console.error(`[bench] ${message}`));
  const suite = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, ROADMAP_BENCH_RELAUNCHED: '1' },
  });
  // Ctrl-C reaches the suite too (same process group): it cleans up, this process waits for it.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => suite.kill('SIGTERM'));
  const code = await new Promise((resolve) => suite.once('exit', (status, signal) => resolve(status ?? (signal ? 1 : 0))));
  process.exit(code);
}

const ALL = ['dispatch', 'latency', 'gateway', 'logs', 'makespan', 'memory', 'batch', 'outbox', 'webhooks', 'bulk', 'search', 'fairness'];
const asked = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = asked.length ? asked : ALL;
for (const n of names) if (![...ALL, 'profile'].includes(n)) { console.error(`unknown scenario ${n}; one of ${ALL.join(', ')}, profile`); process.exit(1); }

if (!existsSync(join(ROOT, 'dist', 'test', 'support', 'platform.js')) || process.env.BENCH_SKIP_BUILD !== '1') {
  execFileSync(NODE, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

const results = {};
const rows = [];
const row = (scenario, metric, value, goal, met) => { rows.push({ scenario, metric, value, goal, met: met === undefined ? '' : met ? 'yes' : 'no' }); console.log(`| ${scenario} | ${metric} | ${value} | ${goal} | ${met === undefined ? '' : met ? 'yes' : 'no'} |`); };

/** Last measured max rate of the platform (for `latency` alone): from this run, else the newest result file. */
function lastMaxRate() {
  if (results.dispatch) return results.dispatch.jobsPerSec.platform;
  if (process.env.BENCH_MAX_RATE) return Number(process.env.BENCH_MAX_RATE);
  return undefined;
}

let makespanState;
for (const name of names) {
  const started = Date.now();
  try {
    if (name === 'dispatch') {
      const { dispatch } = await import('./scenarios/dispatch.mjs');
      const r = (results.dispatch = await dispatch());
      row('dispatch', `jobs/s, ${r.n} no-op jobs, producer + worker process (median of ${r.runs})`,
        `platform ${fmt(r.jobsPerSec.platform)} · raw JetStream ${fmt(r.jobsPerSec.raw)} · BullMQ ${fmt(r.jobsPerSec.bullmq)} · Celery ${fmt(r.jobsPerSec.celery)}`,
        '>= 0.7x raw, > BullMQ', r.goal.met);
      row('dispatch', 'platform / raw (same run, median) · platform / BullMQ', `${r.platformToRaw.toFixed(2)}x · ${r.platformToBullmq.toFixed(2)}x`, '>= 0.70x · > 1x', r.goal.met);
    } else if (name === 'latency') {
      const { latency } = await import('./scenarios/dispatch.mjs');
      const r = (results.latency = await latency(lastMaxRate()));
      const rawFig = r.raw ? ` · raw JetStream loop, same rate, same run: p50 ${r.raw.p50.toFixed(2)} ms · p99 ${r.raw.p99.toFixed(2)} ms` : '';
      const ms = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
      const part = r.warmupSeconds > 0
        ? `after a ${r.warmupSeconds} s warm-up; the consumer's first second, cold: p50 ${ms(r.firstSecond.p50)} · p99 ${ms(r.firstSecond.p99)} ms`
        : `after the first second: p50 ${ms(r.steady.p50)} · p99 ${ms(r.steady.p99)} ms`;
      row('latency', `enqueue-to-handler, open loop ${fmt(r.rate)} msg/s (half of ${fmt(r.maxRate)}) for ${r.seconds} s${r.nodeOptions ? `, NODE_OPTIONS ${r.nodeOptions}` : ''}`, `p50 ${ms(r.p50)} ms · p99 ${ms(r.p99)} ms (${part})${rawFig}`, 'p99 < 10 ms', r.goal.met);
      for (const v of r.variants.slice(1)) if (v !== 'raw') row('latency', `variant ${v}`, `p50 ${r.summary[v].p50.toFixed(2)} ms · p99 ${r.summary[v].p99.toFixed(2)} ms`, '', undefined);
    } else if (name === 'profile') {
      const { profile } = await import('./scenarios/dispatch.mjs');
      results.profile = await profile();
      console.log(`profile written to ${results.profile.dir}; summarise with: node bench/profile-summary.mjs ${results.profile.dir}`);
    } else if (name === 'gateway') {
      const { gateway } = await import('./scenarios/gateway.mjs');
      const r = (results.gateway = await gateway());
      const postRow = (p, what) => row('gateway', `POST /api/v1/roadmaps, autocannon -c ${p.connections} ${p.seconds} s, ${what}`, `${fmt(p.reqPerSec)} req/s · p50 ${p.p50} ms · p99 ${p.p99} ms · ${fmt(p.successPct, 2)}% 202 (${p.non2xx} non-2xx, ${p.errors} errors; ${fmt(p.tasksWritten)} tasks written)`, 'p99 < 10 ms, 100%', p.goalMet);
      postRow(r.postAlone, 'gateway alone (workers not started)');
      postRow(r.post, 'workers generating');
      for (const [p, what] of [...(r.openLoopAlone ?? []).map((p) => [p, 'gateway alone']), ...r.openLoop.map((p) => [p, 'workers generating'])]) {
        row('gateway', `POST /api/v1/roadmaps, open loop ${fmt(p.rate)} req/s (one request every ${fmt(1000 / p.rate, 2)} ms, timed from its schedule; up to ${p.connections} sockets) ${p.seconds} s, ${what}`,
          `${fmt(p.reqPerSec)} req/s sent · p50 ${p.p50} ms · p90 ${p.p90} ms · p99 ${p.p99} ms · max ${p.max} ms · ${fmt(p.successPct, 2)}% 202 (${p.non2xx} non-2xx, ${p.errors} errors, ${p.timeouts} timeouts; ${fmt(p.tasksWritten)} tasks written; ${fmt(p.itemsRunning)} items running at the end)`,
          p.rate === 1000 ? 'p99 < 10 ms, 100% 202' : 'report', p.goalMet);
      }
      row('gateway', `GET /healthz, autocannon -c ${r.health.connections} ${r.health.seconds} s, content workers saturated (${r.health.running} items running, ${r.health.pending} pending)`, `${fmt(r.health.reqPerSec)} req/s · p50 ${r.health.p50} ms · p99 ${r.health.p99} ms · ${fmt(r.health.successPct, 2)}% 200`, 'p99 < 10 ms, 100%', r.health.goalMet);
    } else if (name === 'logs') {
      const { logs } = await import('./scenarios/logs.mjs');
      const r = (results.logs = await logs());
      row('logs', `${fmt(r.n)} entries, ${r.producers} producer processes -> LOGS -> log-sink -> committed (median of ${r.runs})`, `${fmt(r.sinkRowsPerSec)} rows/s · COPY ${fmt(r.copyRowsPerSec)} rows/s · ${r.ratio.toFixed(2)}x`, '>= 0.5x COPY', r.goal.met);
    } else if (name === 'batch') {
      const { batch } = await import('./scenarios/batch.mjs');
      const r = (results.batch = await batch());
      row('batch', `one roadmap.batch of ${r.goals} goals (${fmt(r.frameworkCalls)} framework + ${fmt(r.contentCalls)} content calls of ${r.latencyMs} ms), 1 workflow worker x 4, 2 content workers x 16`,
        `${fmt(r.elapsedMs)} ms vs ideal ${fmt(r.idealMs)} ms = ${r.ratio.toFixed(2)}x (framework calls alone over 4 slots: ${fmt(r.frameworkBoundMs)} ms); ${r.result.completed}/${r.result.total} completed`, 'report', undefined);
      row('batch', `engine overhead per checkpointed step (${fmt(r.steps)} steps)`, `${r.cpuMsPerStep.toFixed(2)} CPU ms · ${r.sqlPerStep === null ? 'n/a' : r.sqlPerStep.toFixed(1)} SQL statements (workflow worker)`, 'report', undefined);
    } else if (name === 'outbox') {
      const { outbox } = await import('./scenarios/outbox.mjs');
      const r = (results.outbox = await outbox());
      const s = r.statementsPerRoadmap;
      row('outbox', `${r.roadmaps} roadmaps at once (${fmt(r.items)} items, ${r.latencyMs} ms calls), 1 workflow worker, 2 content workers x 16: per roadmap`,
        `${fmt(r.cpuMsPerRoadmap)} CPU ms (all services) · ${s ? `${fmt(s.total)} SQL statements (outbox INSERTs ${fmt(s.outboxWrites)}, relay ${fmt(s.relay)}, BEGIN/COMMIT ${fmt(s.transactionControl)})` : 'SQL n/a'}; idle ${r.idleStatementsPerSecond ? `${r.idleStatementsPerSecond.total.toFixed(1)} statements/s (relay ${r.idleStatementsPerSecond.relay.toFixed(1)})` : 'n/a'}`, 'report', undefined);
      row('outbox', `task event written (its transaction) to stored in EVENTS, ${fmt(r.events)} events`,
        `p50 ${fmt(r.eventDelayMs.p50)} ms · p99 ${fmt(r.eventDelayMs.p99)} ms · max ${fmt(r.eventDelayMs.max)} ms; relay's roadmap_outbox_publish_delay_seconds mean ${Number.isFinite(r.relayDelay.meanMs) ? r.relayDelay.meanMs.toFixed(1) : 'n/a'} ms over ${fmt(r.relayDelay.count)} rows`, 'report', undefined);
    } else if (name === 'webhooks') {
      const { webhooks } = await import('./scenarios/webhooks.mjs');
      const r = (results.webhooks = await webhooks());
      for (const x of [r.ok, r.flaky].filter(Boolean)) {
        row('webhooks', `${fmt(x.events)} task completions -> webhook worker -> receiver answering in 50 ms${x.failHalf ? ', failing half with 500' : ''}`,
          `${fmt(x.deliveriesPerSec)} deliveries/s · completion-to-delivery p50 ${fmt(x.p50Ms)} ms · p99 ${fmt(x.p99Ms)} ms · ${fmt(x.delivered)} delivered once (${x.retrying} still retrying at the deadline, ${x.lost} lost, ${x.duplicates} duplicate 200s, ${fmt(x.requests)} requests)`,
          x.failHalf ? 'none lost' : 'p99 < 1 s', x.failHalf ? x.lost === 0 : x.p99Ms < 1_000 && x.lost === 0);
        console.log(`  burst published in ${fmt(x.publishMs)} ms; event -> delivery row p50 ${fmt(x.fanOutP50Ms)} ms · p99 ${fmt(x.fanOutP99Ms)} ms; CPU ${JSON.stringify(x.cpu)}; worker means: ${JSON.stringify(x.worker)}`);
      }
    } else if (name === 'bulk') {
      const { bulk } = await import('./scenarios/bulk.mjs');
      const r = (results.bulk = await bulk());
      row('bulk', `admin bulk cancel of ${fmt(r.n)} queued tasks (an admin.bulk task in the workflow worker, 25 per transaction), all on the shared cores`, `${(r.jobMs / 1000).toFixed(1)} s (${fmt(r.perSecond)} tasks/s; ${r.job.done} done, ${r.job.skipped} skipped, ${r.job.failed} failed; accepted in ${r.acceptMs} ms)`, '<= 60 s', r.job.status === 'completed' && r.job.done === r.n && r.jobMs <= 60_000);
      row('bulk', `GET /healthz meanwhile, autocannon -c ${r.health.connections} ${r.health.seconds} s (the same probe before the job, same run)`, `${fmt(r.health.reqPerSec)} req/s · p50 ${r.health.p50} ms · p99 ${r.health.p99} ms (before: ${fmt(r.baseline.reqPerSec)} req/s · p99 ${r.baseline.p99} ms)`, 'p99 < 10 ms', r.health.goalMet);
    } else if (name === 'search') {
      const { search } = await import('./scenarios/search.mjs');
      const r = (results.search = await search());
      for (const [shape, t] of Object.entries(r.shapes)) {
        row('search', `GET /api/v1/admin/tasks/search at ${fmt(r.n)} tasks: ${shape} (20 calls, limit 50)`, `p50 ${t.p50} ms · p95 ${t.p95} ms (${t.items} items)`, 'p95 < 100 ms', t.p95 < 100);
      }
    } else if (name === 'fairness') {
      const { fairness } = await import('./scenarios/fairness.mjs');
      const r = (results.fairness = await fairness());
      const s = (ms) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : `> ${r.timeoutMs / 1000} s`);
      for (const [label, x] of [['fair (default windows)', r.fair], ['FIFO (windows 0, as before)', r.fifo]]) {
        row('fairness', `owner B behind owner A's ${r.flood} roadmaps, ${r.latencyMs} ms calls: ${label}`,
          `first item ${s(x.behind.firstItemMs)} (idle ${s(x.idle.firstItemMs)}) · done ${s(x.behind.completedMs)} (idle ${s(x.idle.completedMs)}) · A then: ${x.flood.completedAtB}/${r.flood} roadmaps, ${fmt(x.flood.itemsDoneAtB)}/${fmt(x.flood.itemsAtB)} items fanned out`,
          'first item <= 2x idle + 1 call, done before half of A', x === r.fair ? r.goal.met : undefined);
      }
    } else if (name === 'makespan' || name === 'memory') {
      if (!makespanState) {
        const { makespan } = await import('./scenarios/makespan.mjs');
        makespanState = await makespan();
        results.makespan = makespanState.makespan;
        results.memory = makespanState.memory;
      }
      if (name === 'makespan') {
        const r = results.makespan;
        row('makespan', `${r.concepts} concepts (${r.items} items), ${r.latencyMs} ms per call, 2 content workers x ${r.concurrency} (${r.source})`, `${fmt(r.makespanMs)} ms vs ideal ${fmt(r.idealMs)} ms = ${r.ratio.toFixed(2)}x`, '<= 1.10x', r.goal.met);
      } else {
        const r = results.memory;
        const { idleWithoutNodeOptions } = await import('./scenarios/makespan.mjs');
        r.idleWithoutNodeOptions = await idleWithoutNodeOptions();
        row('memory', 'RSS idle (MB), as deployed (Dockerfile NODE_OPTIONS)', Object.entries(r.idle).map(([k, v]) => `${k} ${v}`).join(' · '), '< 150 MB idle', r.goal.met);
        row('memory', 'RSS idle (MB), without NODE_OPTIONS (same run)', Object.entries(r.idleWithoutNodeOptions).map(([k, v]) => `${k} ${v}`).join(' · '), '', undefined);
        row('memory', 'RSS after makespan (MB)', Object.entries(r.afterMakespan).map(([k, v]) => `${k} ${v}`).join(' · '), '', undefined);
      }
    }
  } catch (error) {
    console.error(`[bench] ${name} failed: ${error.stack ?? error}`);
    results[name] = { error: String(error.message ?? error) };
    row(name, 'failed', String(error.message ?? error).split('\n')[0], '', false);
  }
  console.error(`[bench] ${name} took ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

console.log('\n| scenario | metric | measured | goal | met |\n|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.scenario} | ${r.metric} | ${r.value} | ${r.goal} | ${r.met} |`);
const file = writeResults({ ...results, table: rows });
console.log(`\nresults: ${file}`);
process.exit(0);
