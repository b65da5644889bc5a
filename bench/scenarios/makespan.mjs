// Scenario 5 (makespan) and 6 (memory). A platform with OFFLINE_LLM_LATENCY_MS=200 and two content
// workers with WORKER_CONCURRENCY=16. RSS of every service process idle, then at the end.
//  (a) a roadmap through the API as the offline provider designs it (17 concepts at most);
//  (b) a 50-concept framework (150 items) injected through workflow checkpoints: the roadmap is
//      created with review "required" (the workflow stops at awaiting_review), then checkpoints
//      edit(50-concept framework, with feedback) -> validation(no issues) -> review(approve) are
//      appended, the task is set running and a `resume` workflow message is published: the worker
//      replays the checkpoints and fans out the 50 concepts.
// Makespan = tasks.finished_at - fan_out checkpoint created_at; ideal = ceil(items / 32) x 200 ms.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { JetStreamPublisher, Messaging } from '@roadmap/messaging';
import { deployedNodeOptions, NATS_URL, nodeOptions, ROOT, rssMb, SERVICES, sleep } from '../lib.mjs';

const { Platform } = await import(pathToFileURL(join(ROOT, 'dist', 'test', 'support', 'platform.js')).href);
const LATENCY = Number(process.env.BENCH_LLM_LATENCY_MS ?? 200);
const CONCURRENCY = 16;
const CONCEPTS = Number(process.env.BENCH_CONCEPTS ?? 50);
const OWNER_CONCURRENCY = Number(process.env.BENCH_OWNER_CONCURRENCY ?? 0);
/** DATABASE_POOL_SIZE of the services if set (else the e2e harness's 5; 10, the deployed default, measured no faster). */
const POOL = process.env.BENCH_MAKESPAN_POOL;

function rss(platform) {
  const out = {};
  for (const p of platform.processes) out[`${p.service}${p.service === 'content-worker' ? `.${p.index}` : ''}`] = rssMb(p.child.pid);
  return out;
}

/** Grows an offline framework to `target` concepts by cloning stages with suffixed ids. */
function grow(framework, target) {
  const base = framework.stages;
  const stages = [];
  let count = 0;
  for (let copy = 0; count < target; copy++) {
    for (const stage of base) {
      if (count >= target) break;
      const suffix = copy === 0 ? '' : `-${copy + 1}`;
      const concepts = stage.concepts.slice(0, target - count).map((c) => ({
        ...c, id: `${c.id}${suffix}`, title: copy === 0 ? c.title : `${c.title} (${copy + 1})`.slice(0, 200),
        prerequisites: c.prerequisites.map((p) => `${p}${suffix}`),
      }));
      const ids = new Set([...stages.flatMap((s) => s.concepts.map((c) => c.id)), ...concepts.map((c) => c.id)]);
      for (const c of concepts) c.prerequisites = c.prerequisites.filter((p) => ids.has(p) && p !== c.id);
      stages.push({ ...stage, id: `${stage.id}${suffix}`, title: copy === 0 ? stage.title : `${stage.title} (${copy + 1})`.slice(0, 160), concepts });
      count += concepts.length;
    }
  }
  return { ...framework, stages };
}

/**
 * Where an item's time goes, from the content workers' own metrics (means over every message
 * since start, both workers): queue wait (published -> delivered), handler duration, the item's
 * service time (from markRunning), and the LLM call.
 */
async function contentBreakdown(platform) {
  const sums = {};
  const callsPerWorker = [];
  for (const p of platform.processes.filter((x) => x.service === 'content-worker')) {
    const text = await (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text();
    callsPerWorker.push([...text.matchAll(/^roadmap_llm_request_duration_seconds_count\{[^}]*\} ([0-9.e+-]+)$/gm)].reduce((n, m) => n + Number(m[1]), 0));
    for (const m of text.matchAll(/^(roadmap_messaging_queue_wait_seconds|roadmap_messaging_handler_duration_seconds|roadmap_content_item_duration_seconds|roadmap_llm_request_duration_seconds)_(sum|count)\{([^}]*)\} ([0-9.e+-]+)$/gm)) {
      if (m[1].startsWith('roadmap_messaging') && !/consumer="[^"]*content/.test(m[3])) continue;
      const k = m[1].replace(/^roadmap_|_seconds$/g, '');
      sums[k] ??= { sum: 0, count: 0 };
      sums[k][m[2]] += Number(m[4]);
    }
  }
  return { ...Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, { meanMs: Math.round((v.sum / v.count) * 10000) / 10, count: v.count }])), llmCallsPerWorker: callsPerWorker };
}

async function measure(platform, taskId) {
  const task = await platform.waitForTask(taskId, ['completed'], 180_000);
  const [row] = await platform.query(
    `SELECT (SELECT created_at FROM workflow_checkpoints WHERE task_id = $1 AND step = 'fan_out' ORDER BY sequence DESC LIMIT 1) AS fan_out,
            (SELECT min(created_at) FROM content_items WHERE roadmap_id = t.roadmap_id) AS first_item,
            (SELECT max(completed_at) FROM content_items WHERE roadmap_id = t.roadmap_id) AS last_item,
            (SELECT count(*)::int FROM content_items WHERE roadmap_id = t.roadmap_id) AS items,
            (SELECT count(*)::int FROM concepts WHERE roadmap_id = t.roadmap_id) AS concepts,
            t.finished_at, t.created_at
       FROM tasks t WHERE t.id = $1`, [taskId]);
  const start = new Date(row.fan_out ?? row.first_item).getTime();
  // When each wave of 32 items finished (ms after fan-out): shows where the time goes.
  const done = (await platform.query('SELECT completed_at FROM content_items WHERE roadmap_id = (SELECT roadmap_id FROM tasks WHERE id = $1) ORDER BY completed_at', [taskId]))
    .map((r) => new Date(r.completed_at).getTime() - start);
  const waves = [];
  for (let k = 2 * CONCURRENCY; k < done.length + 2 * CONCURRENCY; k += 2 * CONCURRENCY) waves.push(done[Math.min(k, done.length) - 1]);
  // When the LLM calls of each wave started (ms after fan-out: the first and the 32nd call of the wave).
  const starts = (await platform.query('SELECT started_at FROM llm_calls WHERE task_id = $1 AND started_at >= $2 ORDER BY started_at', [taskId, new Date(start)]))
    .map((r) => new Date(r.started_at).getTime() - start);
  const waveStarts = [];
  for (let k = 0; k < starts.length; k += 2 * CONCURRENCY) waveStarts.push([starts[k], starts[Math.min(k + 2 * CONCURRENCY, starts.length) - 1]]);
  if (process.env.BENCH_MAKESPAN_STARTS === '1') console.error('[makespan] call starts', starts.slice(0, 70).join(' '));
  const firstDone = done[0];
  const makespanMs = new Date(row.finished_at).getTime() - start;
  const idealMs = Math.ceil(row.items / (2 * CONCURRENCY)) * LATENCY;
  return { status: task.status, concepts: row.concepts, items: row.items, makespanMs, idealMs, ratio: makespanMs / idealMs, firstItemDoneMs: firstDone, waveDoneMs: waves, waveCallStartsMs: waveStarts, lastItemToFinishMs: new Date(row.finished_at).getTime() - new Date(row.last_item).getTime(),
    totalMs: new Date(row.finished_at).getTime() - new Date(row.created_at).getTime(), latencyMs: LATENCY, concurrency: CONCURRENCY, ownerConcurrency: OWNER_CONCURRENCY, poolSize: Number(POOL ?? 5) };
}

/** Per-service env: the Dockerfile's NODE_OPTIONS (as deployed) unless `asDeployed` is false. */
function serviceEnv(asDeployed) {
  const out = {};
  // BENCH_MAKESPAN_PROFILE=1: the content workers run with --cpu-prof (written at their graceful exit) into bench/results/profile-makespan/.
  const profile = process.env.BENCH_MAKESPAN_PROFILE === '1' ? `--cpu-prof --cpu-prof-dir=${join(ROOT, 'bench', 'results', 'profile-makespan')}` : '';
  for (const s of SERVICES) {
    const extra = s === 'content-worker' ? profile : '';
    const opts = asDeployed ? nodeOptions(s, extra) : extra || undefined;
    out[s] = { ...(opts ? { NODE_OPTIONS: opts } : {}), ...(s === 'content-worker' ? { WORKER_CONCURRENCY: String(CONCURRENCY), ...(process.env.BENCH_STANDBY ? { WORKER_STANDBY: process.env.BENCH_STANDBY } : {}) } : {}) };
  }
  return out;
}

/** Idle RSS of every service started as the e2e harness starts them, without the Dockerfiles' NODE_OPTIONS (the comparison). */
export async function idleWithoutNodeOptions() {
  const platform = await Platform.start({ env: { LOG_LEVEL: 'warn', OFFLINE_LLM_LATENCY_MS: String(LATENCY) }, serviceEnv: serviceEnv(false) });
  try {
    await sleep(3_000);
    return rss(platform);
  } finally {
    await platform.stop();
  }
}

export async function makespan() {
  const platform = await Platform.start({
    // No per-owner cap on LLM calls (LLM_OWNER_CONCURRENCY) nor on items in flight (DISPATCH_CONTENT_WINDOW):
    // every roadmap here has one owner, and the scenario measures the 2 x 16 slots, as its ideal assumes.
    env: {
      LOG_LEVEL: 'warn',
      OFFLINE_LLM_LATENCY_MS: String(LATENCY),
      LLM_OWNER_CONCURRENCY: String(OWNER_CONCURRENCY),
      DISPATCH_CONTENT_WINDOW: String(OWNER_CONCURRENCY),
      ...(POOL ? { DATABASE_POOL_SIZE: POOL } : {}),
    },
    // BENCH_AS_DEPLOYED=0: without the Dockerfiles' NODE_OPTIONS (to compare).
    serviceEnv: serviceEnv(process.env.BENCH_AS_DEPLOYED !== '0'),
  });
  try {
    await sleep(3_000);
    const idle = rss(platform);
    const body = { goal: 'Become a backend engineer', preferences: { level: 'beginner', hoursPerWeek: 20 } };

    // (a) as the API produces it.
    let res = await platform.request('POST', '/api/v1/roadmaps', body);
    const api = await measure(platform, res.body.taskId);
    console.error(`[makespan] API roadmap: ${api.concepts} concepts, ${api.items} items, ${api.makespanMs} ms vs ideal ${api.idealMs} ms, waves ${api.waveDoneMs.join(' / ')} ms, calls of each wave started at ${api.waveCallStartsMs.map(([a, b]) => `${a}–${b}`).join(' / ')} ms`);

    // (b) 50 concepts through checkpoints.
    res = await platform.request('POST', '/api/v1/roadmaps', { ...body, review: 'required' });
    const { taskId, roadmapId } = res.body;
    await platform.waitForTask(taskId, ['awaiting_review'], 60_000);
    const cps = await platform.query('SELECT sequence, step, state FROM workflow_checkpoints WHERE task_id = $1 ORDER BY sequence', [taskId]);
    const design = [...cps].reverse().find((c) => c.step === 'curriculum_design' || c.step === 'edit');
    const revision = cps.filter((c) => c.step === 'curriculum_design' || c.step === 'edit').length;
    const framework = grow(design.state.output, CONCEPTS);
    let seq = cps.at(-1).sequence;
    await platform.query(`INSERT INTO workflow_checkpoints (task_id, sequence, step, state) VALUES ($1, $2, 'edit', $3)`, [taskId, ++seq, { output: framework, feedback: `bench: ${CONCEPTS} concepts` }]);
    await platform.query(`INSERT INTO workflow_checkpoints (task_id, sequence, step, state) VALUES ($1, $2, 'validation', $3)`, [taskId, ++seq, { output: { valid: true, issues: [] } }]);
    await platform.query(`INSERT INTO workflow_checkpoints (task_id, sequence, step, state) VALUES ($1, $2, 'review', $3)`, [taskId, ++seq, { decision: 'approve', by: 'bench', revision: revision + 1 }]);
    await platform.query(`UPDATE tasks SET status = 'running' WHERE id = $1`, [taskId]);
    const messaging = await Messaging.connect({ servers: NATS_URL, namespace: platform.namespace, name: 'bench-resume' });
    try {
      await new JetStreamPublisher(messaging).publish('roadmap.workflow.normal.resume', { taskId, roadmapId, command: 'resume' });
    } finally {
      await messaging.close();
    }
    const injected = { ...(await measure(platform, taskId)), source: 'framework injected through workflow checkpoints', breakdown: await contentBreakdown(platform) };
    console.error(`[makespan] 50 concepts: ${injected.makespanMs} ms (${injected.ratio.toFixed(2)}x), waves ${injected.waveDoneMs.join(' / ')} ms, calls of each wave started at ${injected.waveCallStartsMs.map(([a, b]) => `${a}–${b}`).join(' / ')} ms; per message (means, both roadmaps): ${JSON.stringify(injected.breakdown)}`);
    const afterMakespan = rss(platform);
    const maxIdle = Math.max(...Object.values(idle));
    return {
      makespan: { ...injected, api: { ...api, source: 'API, offline provider' }, goal: { ratioAtMost: 1.1, met: injected.ratio <= 1.1 } },
      memory: { nodeOptions: Object.fromEntries(SERVICES.map((s) => [s, deployedNodeOptions(s) ?? ''])), idle, afterMakespan, goal: { idleBelowMb: 150, met: maxIdle < 150 } },
    };
  } finally {
    await platform.stop();
  }
}
