// Scenario: a bulk cancel of 5,000 queued tasks (issue 20). The tasks are created through the API
// with one workflow worker whose normal and low consumers are paused (they stay queued); then an
// admin's POST /api/v1/admin/tasks/bulk cancels them as an admin.bulk task (high priority, run by
// that worker, each through the single-task cancel), while autocannon probes GET /healthz.
// Goals: the job finishes within 60 s; /healthz p99 stays under 10 ms meanwhile. The same probe runs
// first without the job, for this machine's own tail in the same run.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH_DIR, child, NODE, nodeOptions, resultOf, ROOT, SERVICES, sleep } from '../lib.mjs';

const { Platform } = await import(pathToFileURL(join(ROOT, 'dist', 'test', 'support', 'platform.js')).href);

export async function bulk() {
  const n = Number(process.env.BENCH_BULK_TASKS ?? 5_000);
  const platform = await Platform.start({
    replicas: { 'workflow-worker': 0, 'content-worker': 0 },
    env: { LOG_LEVEL: 'warn' },
    // BENCH_BULK_PROFILE=1: the gateway runs with --cpu-prof (written at its graceful exit) into bench/results/profile-bulk/.
    serviceEnv: Object.fromEntries(SERVICES.map((s) => {
      const profile = s === 'gateway' && process.env.BENCH_BULK_PROFILE === '1' ? `--cpu-prof --cpu-prof-dir=${join(BENCH_DIR, 'results', 'profile-bulk')}` : '';
      const opts = nodeOptions(s, profile);
      return [s, opts ? { NODE_OPTIONS: opts } : {}];
    })),
  });
  try {
    const user = await platform.authHeaders('bulk-owner');
    const admin = await platform.authHeaders('bulk-admin', 'admin');
    // The bulk task runs in a workflow worker; the roadmaps it cancels must not start meanwhile.
    for (const priority of ['normal', 'low']) {
      const res = await fetch(`${platform.url}/api/v1/admin/queues/ROADMAP_WORKFLOW/pause`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ priority }) });
      if (res.status !== 200) throw new Error(`pause: ${res.status} ${await res.text()}`);
    }
    await platform.waitReady(await platform.spawn('workflow-worker'));
    const body = JSON.stringify({ goal: 'Learn distributed systems' });
    let next = 0;
    const create = async () => {
      while (next < n) {
        next++;
        const res = await fetch(`${platform.url}/api/v1/roadmaps`, { method: 'POST', headers: { ...user, 'content-type': 'application/json' }, body });
        if (res.status !== 202) throw new Error(`create: ${res.status} ${await res.text()}`);
      }
    };
    await Promise.all(Array.from({ length: 32 }, create));
    const [{ queued }] = await platform.query(`SELECT count(*)::int AS queued FROM tasks WHERE status = 'queued'`);

    const healthSeconds = Number(process.env.BENCH_BULK_HEALTH_SECONDS ?? 10);
    const cannonArgs = JSON.stringify({ url: `${platform.url}/healthz`, method: 'GET', connections: 10, duration: healthSeconds });
    // The same probe first without the job: this machine's own /healthz tail, in the same run.
    const idle = child(NODE, [join(BENCH_DIR, 'scenarios', 'cannon.mjs'), cannonArgs], { label: 'autocannon' });
    await idle.waitFor(/^RESULT /, (healthSeconds + 60) * 1000);
    const baseline = resultOf(idle);
    const probe = child(NODE, [join(BENCH_DIR, 'scenarios', 'cannon.mjs'), JSON.stringify({ url: `${platform.url}/healthz`, method: 'GET', connections: 10, duration: healthSeconds })], { label: 'autocannon' });
    const started = performance.now();
    const post = await fetch(`${platform.url}/api/v1/admin/tasks/bulk`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'cancel', filter: { owner: 'bulk-owner', status: 'queued' } }),
    });
    const accepted = await post.json();
    if (post.status !== 202) throw new Error(`bulk: ${post.status} ${JSON.stringify(accepted)}`);
    const acceptMs = performance.now() - started;
    let job = accepted;
    while (job.status === 'running') {
      await sleep(250);
      job = await (await fetch(`${platform.url}/api/v1/admin/jobs/${accepted.jobId}`, { headers: admin })).json();
    }
    const jobMs = performance.now() - started;
    await probe.waitFor(/^RESULT /, (healthSeconds + 60) * 1000);
    const health = resultOf(probe);
    const [{ cancelled }] = await platform.query(`SELECT count(*)::int AS cancelled FROM tasks WHERE status = 'cancelled'`);
    health.goalMet = health.p99 < 10 && health.non2xx === 0 && health.errors === 0;
    return {
      n,
      queued,
      cancelled,
      acceptMs: Math.round(acceptMs),
      jobMs: Math.round(jobMs),
      perSecond: Math.round((job.done / jobMs) * 1000),
      job: { status: job.status, total: job.total, done: job.done, failed: job.failed, skipped: job.skipped },
      health,
      baseline,
      goal: { met: job.status === 'completed' && job.done === n && jobMs <= 60_000 && health.goalMet },
    };
  } finally {
    await platform.stop();
  }
}
