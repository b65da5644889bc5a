import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, Platform, sleep, type ServiceName } from '../support/platform.js';
import { alertRules, alwaysReturning, dashboardExpressions, ensurePrometheus, grafanaDir } from './support.js';

/**
 * The dashboards and alert rules are real: a Prometheus (Debian's binary) scrapes the four services
 * every second while roadmaps run end to end, loads alerts.yaml, and every PromQL expression of the
 * dashboards and rules must then return data.
 */
describe('Prometheus over the running platform', () => {
  let platform: Platform;
  let prometheus: ChildProcess | undefined;
  let promUrl = '';
  let dir = '';
  const promLog: string[] = [];

  before(async () => {
    const bins = ensurePrometheus();
    platform = await Platform.start({ replicas: { 'content-worker': 2 } });
    dir = mkdtempSync(join(tmpdir(), 'prom-'));
    copyFileSync(join(grafanaDir, 'alerts.yaml'), join(dir, 'alerts.yaml'));
    // One job per service, as the chart's ServiceMonitor names them (jobLabel: component).
    const jobs = new Map<ServiceName, string[]>();
    for (const p of platform.processes) jobs.set(p.service, [...(jobs.get(p.service) ?? []), `127.0.0.1:${p.port}`]);
    writeFileSync(
      join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
        rule_files: [join(dir, 'alerts.yaml')],
        scrape_configs: [...jobs].map(([job, targets]) => ({ job_name: job, metrics_path: '/metrics', static_configs: [{ targets }] })),
      }),
    );
    const check = spawnSync(bins.promtool, ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' });
    assert.equal(check.status, 0, `${check.stdout}\n${check.stderr}`);
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      bins.prometheus,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    for (const stream of [prometheus.stdout, prometheus.stderr]) stream?.on('data', (c: Buffer) => promLog.push(c.toString('utf8')));
    process.once('exit', () => prometheus?.kill('SIGKILL'));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (prometheus.exitCode !== null) throw new Error(`prometheus exited: ${promLog.join('')}`);
      const ready = await fetch(`${promUrl}/-/ready`).then((r) => r.ok, () => false);
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`prometheus not ready: ${promLog.join('')}`);
      await sleep(200);
    }
  });

  after(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await Promise.race([exited, sleep(5_000).then(() => prometheus!.kill('SIGKILL'))]);
    }
    await platform?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function query(expr: string): Promise<unknown[]> {
    const res = await fetch(`${promUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
    if (body.status !== 'success') throw new Error(`${body.error ?? res.status}`);
    return body.data?.result ?? [];
  }

  it('every dashboard and rule expression returns data', async () => {
    // Traffic: two roadmaps end to end, an unknown route (404), a missing task (404).
    const created = await Promise.all(
      [0, 1].map(() =>
        platform.request('POST', '/api/v1/roadmaps', { goal: 'Become a backend engineer', preferences: { level: 'beginner', hoursPerWeek: 8 } }),
      ),
    );
    for (const c of created) assert.equal(c.status, 202, c.text);
    assert.equal((await platform.request('GET', '/no/such/route')).status, 404);
    assert.equal((await platform.request('GET', '/api/v1/tasks/00000000-0000-7000-8000-000000000000')).status, 404);
    for (const c of created) await platform.waitForTask(c.body.taskId, ['completed'], 60_000);

    const expressions = [
      ...dashboardExpressions(),
      ...alertRules().map((r) => ({ where: `alerts.yaml / ${r.alert ?? r.record}`, expr: r.alert ? alwaysReturning(r.expr) : r.expr })),
    ];
    // Counted task metrics lag a few seconds (late commits), rates need two scrapes: poll, on a loaded machine too.
    const deadline = Date.now() + 45_000;
    let empty = expressions;
    const errors: string[] = [];
    while (empty.length > 0 && Date.now() < deadline) {
      const next: typeof expressions = [];
      for (const e of empty) {
        try {
          if ((await query(e.expr)).length === 0) next.push(e);
        } catch (error) {
          errors.push(`${e.where}: ${(error as Error).message}\n  ${e.expr}`);
        }
      }
      assert.deepEqual(errors, [], 'invalid PromQL');
      empty = next;
      if (empty.length > 0) await sleep(1_000);
    }
    assert.deepEqual(
      empty.map((e) => `${e.where}: ${e.expr}`),
      [],
      `expressions without data (of ${expressions.length}); prometheus log:\n${promLog.join('').slice(-2000)}`,
    );

    // Sanity on the values behind them: one lease holder, route templates, finished tasks.
    const holders = (await query('sum(roadmap_cluster_metrics_lease_holder)')) as Array<{ value: [number, string] }>;
    assert.equal(holders[0]?.value[1], '1');
    const routes = ((await query('count by (route) (roadmap_http_requests_total{job="gateway"})')) as Array<{ metric: { route: string } }>).map(
      (r) => r.metric.route,
    );
    assert.ok(routes.includes('/api/v1/tasks/:id'), routes.join(', '));
    assert.ok(routes.includes('unmatched'), routes.join(', '));
    assert.ok(!routes.some((r) => /[0-9a-f]{8}-/.test(r)), `raw URLs in route labels: ${routes.join(', ')}`);
    const finished = (await query('sum(roadmap_tasks_finished_total{status="completed"})')) as Array<{ value: [number, string] }>;
    assert.equal(finished[0]?.value[1], '2');
    const queues = (await query('count(roadmap_queue_pending_messages)')) as Array<{ value: [number, string] }>;
    assert.ok(Number(queues[0]?.value[1]) >= 7, 'one pending series per consumer');
  });
});
