// Scenario `batch`: one roadmap.batch of BENCH_BATCH_GOALS (100) goals through POST /api/v1/tasks,
// with the offline provider's 200 ms calls, 1 workflow worker and 2 content workers x 16.
//  - time to the batch's completion against the ideal: the content calls over the 32 content slots,
//    plus one roadmap's framework steps (and, reported beside it, the framework calls of the whole
//    batch over the workflow worker's 4 slots);
//  - the engine's overhead per step: the workflow worker's CPU ms per checkpointed step, and its SQL
//    statements per step, counted from PostgreSQL's own log: the worker connects as a role of its own
//    whose `log_statement` is `all` (set with ALTER ROLE for this run), so only its statements are
//    logged and every one is (pg_stat_statements would need a server restart to preload).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { cpuMs, DATABASE_URL, nodeOptions, ROOT, sleep } from '../lib.mjs';

const { Platform } = await import(pathToFileURL(join(ROOT, 'dist', 'test', 'support', 'platform.js')).href);
const LATENCY = Number(process.env.BENCH_LLM_LATENCY_MS ?? 200);
const GOALS = Number(process.env.BENCH_BATCH_GOALS ?? 100);
const CONTENT_SLOTS = 2 * 16;
const WORKFLOW_CONCURRENCY = 4;
const ROLE = 'roadmap_bench_wf';
const PG_LOG = process.env.BENCH_PG_LOG ?? '/var/log/postgresql/postgresql-15-main.log';

/** Statements the bench role sent since `offset` bytes of the PostgreSQL log (null when the log cannot be read). */
function loggedStatements(offset) {
  if (!existsSync(PG_LOG)) return null;
  const text = readFileSync(PG_LOG, 'utf8').slice(offset);
  return text.split('\n').filter((l) => l.includes(`${ROLE}@`) && /LOG:\s+(statement|execute [^:]*):/.test(l)).length;
}

export async function batch() {
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}') THEN CREATE ROLE ${ROLE} LOGIN SUPERUSER; END IF; END $$`);
  await admin.query(`ALTER ROLE ${ROLE} SET log_statement = 'all'`);
  const workerUrl = new URL(DATABASE_URL);
  workerUrl.username = ROLE;
  const platform = await Platform.start({
    // One owner's batch against every slot: no per-owner cap on LLM calls nor on work in flight.
    env: { LOG_LEVEL: 'warn', OFFLINE_LLM_LATENCY_MS: String(LATENCY), LLM_OWNER_CONCURRENCY: '0', DISPATCH_WORKFLOW_WINDOW: '0', DISPATCH_CONTENT_WINDOW: '0' },
    replicas: { 'workflow-worker': 1, 'content-worker': 2 },
    serviceEnv: {
      'workflow-worker': { DATABASE_URL: workerUrl.toString(), WORKER_CONCURRENCY: String(WORKFLOW_CONCURRENCY), NODE_OPTIONS: nodeOptions('workflow-worker') },
      'content-worker': { WORKER_CONCURRENCY: '16', NODE_OPTIONS: nodeOptions('content-worker') },
    },
  });
  try {
    await sleep(2_000);
    const worker = platform.processes.find((p) => p.service === 'workflow-worker');
    const logOffset = existsSync(PG_LOG) ? statSync(PG_LOG).size : 0;
    const cpuBefore = cpuMs(worker.child.pid);
    const goals = Array.from({ length: GOALS }, (_, i) => `Become a backend engineer, track ${i + 1}`);
    const started = Date.now();
    const res = await platform.request('POST', '/api/v1/tasks', { type: 'roadmap.batch', input: { goals } });
    if (res.status !== 202) throw new Error(`POST /api/v1/tasks answered ${res.status}: ${JSON.stringify(res.body)}`);
    let answer;
    for (let i = 0; i < 30 && answer?.status !== 200; i++) answer = await platform.request('GET', `/api/v1/tasks/${res.body.taskId}/result?wait=60`);
    if (answer.status !== 200) throw new Error(`the batch did not complete: ${JSON.stringify(answer.body)}`);
    const elapsedMs = Date.now() - started;
    const cpu = cpuMs(worker.child.pid) - cpuBefore;
    await sleep(500); // the last log lines reach the file
    const statements = loggedStatements(logOffset);
    const [counts] = await platform.query(
      `SELECT (SELECT count(*)::int FROM workflow_checkpoints) AS steps,
              (SELECT count(*)::int FROM llm_calls WHERE subject NOT IN ('intent_analysis', 'curriculum_design', 'validation', 'edit')) AS content_calls,
              (SELECT count(*)::int FROM llm_calls WHERE subject IN ('intent_analysis', 'curriculum_design', 'validation', 'edit')) AS framework_calls`,
    );
    // Ideal (the issue's): the content calls over the 32 content slots, plus one roadmap's framework
    // steps (intent analysis, curriculum design, validation) before any content can start. The
    // framework calls of the whole batch over the workflow worker's slots are a second bound, reported.
    const idealMs = Math.ceil(counts.content_calls / CONTENT_SLOTS) * LATENCY + 3 * LATENCY;
    const frameworkBoundMs = Math.ceil(counts.framework_calls / WORKFLOW_CONCURRENCY) * LATENCY;
    return {
      goals: GOALS,
      result: { total: answer.body.result.total, completed: answer.body.result.completed, failed: answer.body.result.failed },
      elapsedMs,
      idealMs,
      ratio: elapsedMs / idealMs,
      frameworkBoundMs,
      contentCalls: counts.content_calls,
      frameworkCalls: counts.framework_calls,
      steps: counts.steps,
      workflowWorkerCpuMs: cpu,
      cpuMsPerStep: cpu / counts.steps,
      sqlStatements: statements,
      sqlPerStep: statements === null ? null : statements / counts.steps,
      latencyMs: LATENCY,
    };
  } finally {
    await platform.stop();
    await admin.query(`ALTER ROLE ${ROLE} RESET log_statement`).catch(() => undefined);
    await admin.end();
  }
}
