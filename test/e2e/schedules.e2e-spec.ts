/*
 * Operator schedules end to end (issue 20, item 6): the real services as processes, two workflow
 * workers racing to fire a per-second schedule (each occurrence starts exactly one task), the admin
 * API's views (next runs in a time zone, runs with a cursor, built-in maintenance jobs), its 4xx
 * answers, the audit trail and the runner's metrics.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually, Platform } from '../support/platform.js';

const ADMIN = 'ops-admin';

describe('admin schedules', () => {
  let platform: Platform;
  const admin = (method: string, path: string, body?: unknown) => platform.request(method, `/api/v1/admin/schedules${path}`, body, {}, { as: ADMIN, role: 'admin' });

  before(async () => {
    platform = await Platform.start({
      replicas: { 'workflow-worker': 2, 'content-worker': 1, 'webhook-worker': 0 },
      serviceEnv: { 'workflow-worker': { SCHEDULES_POLL_MS: '100' } },
    });
  });
  after(async () => {
    await platform?.stop();
  });

  it('two workflow workers fire a per-second schedule: one task per occurrence, as the schedule’s owner', async () => {
    const created = await admin('POST', '', {
      name: 'every-second',
      cron: '* * * * * *',
      type: 'roadmap.generate',
      input: { goal: 'Learn to read cron expressions' },
      owner: 'scheduled-owner',
      priority: 'low',
      overlap: 'allow',
    });
    assert.equal(created.status, 201, created.text);
    const id = created.body.id;
    assert.equal(created.body.nextRuns.length, 5);
    await eventually(async () => ((await admin('GET', `/${id}/runs?limit=200`)).body.items.length >= 4 ? true : undefined), 20_000, 'four occurrences fired');
    assert.equal((await admin('POST', `/${id}/pause`)).status, 200);
    await sleep(500); // a fire already under way when the pause landed commits

    const runs = await platform.query<{ occurrence_at: Date; outcome: string; task_id: string; instance: string }>(
      `SELECT occurrence_at, outcome, task_id::text, instance FROM schedule_runs WHERE schedule_id = $1 ORDER BY occurrence_at`,
      [id],
    );
    assert.ok(runs.every((r) => r.outcome === 'started'), JSON.stringify(runs));
    const tasks = await platform.query<{ id: string; owner: string; priority: string }>(
      `SELECT id::text, owner, priority FROM tasks WHERE input->>'goal' = 'Learn to read cron expressions'`,
    );
    assert.equal(tasks.length, runs.length, 'exactly one task per occurrence, whichever worker fired it');
    assert.deepEqual(new Set(tasks.map((t) => t.id)), new Set(runs.map((r) => r.task_id)));
    assert.ok(tasks.every((t) => t.owner === 'scheduled-owner' && t.priority === 'low'));
    // A scheduled task is an ordinary task: it runs to completion.
    await eventually(
      async () => (await platform.query(`SELECT status FROM tasks WHERE id = $1`, [runs[0]!.task_id]))[0]?.status === 'completed',
      90_000,
      'the first scheduled task completed',
    );

    const page1 = await admin('GET', `/${id}/runs?limit=2`);
    assert.equal(page1.status, 200, page1.text);
    assert.equal(page1.body.items.length, 2);
    assert.ok(page1.body.nextCursor);
    const page2 = await admin('GET', `/${id}/runs?limit=200&cursor=${page1.body.nextCursor}`);
    assert.equal(page1.body.items.length + page2.body.items.length, runs.length, 'the cursor continues where the page ended');
    assert.ok(Date.parse(page1.body.items[0].occurrenceAt) > Date.parse(page2.body.items[0].occurrenceAt), 'newest first');

    const shown = (await admin('GET', `/${id}`)).body;
    assert.deepEqual([shown.paused, shown.pausedBy, shown.nextRuns], [true, ADMIN, []]);
    assert.equal(shown.lastRun.outcome, 'started');

    const counted = await Promise.all(
      platform.processes.filter((p) => p.service === 'workflow-worker').map(async (p) => (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text()),
    );
    const started = counted.map((text) => Number(/roadmap_schedule_runs_total\{[^}]*outcome="started"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0));
    assert.equal(
      started.reduce((a, b) => a + b, 0),
      runs.length,
      'the workers count what they fired',
    );
  });

  it('shows next runs in the schedule’s time zone and lists the built-in maintenance jobs read-only', async () => {
    const created = await admin('POST', '', { name: 'nightly', cron: '0 3 * * *', timezone: 'Europe/Berlin', type: 'roadmap.generate', input: { goal: 'Learn Go' } });
    assert.equal(created.status, 201, created.text);
    // December: Berlin is UTC+1, so 03:00 there is 02:00 UTC.
    assert.equal(created.body.nextRuns.length, 5);
    assert.ok(created.body.nextRuns.every((t: string) => t.endsWith('T02:00:00.000Z')), created.body.nextRuns.join());
    assert.deepEqual([created.body.overlap, created.body.catchup, created.body.owner, created.body.priority], ['skip', 'none', ADMIN, 'normal']);

    const patched = await admin('PATCH', `/${created.body.id}`, { timezone: 'America/New_York', overlap: 'queue' });
    assert.equal(patched.status, 200, patched.text);
    assert.ok(patched.body.nextRuns.every((t: string) => t.endsWith('T08:00:00.000Z')), patched.body.nextRuns.join());

    const list = (await admin('GET', '')).body.items;
    assert.ok(list.some((s: any) => s.id === created.body.id && s.builtin === false));
    const builtin = list.filter((s: any) => s.builtin);
    assert.deepEqual(builtin.map((s: any) => s.name).sort(), ['execution-logs', 'reaper', 'retention']);
    const reaper = (await admin('GET', '/builtin:reaper')).body;
    assert.equal(reaper.builtin, true);

    // A built-in job's runs read like a schedule's: newest first, paged by cursor, with the job's outcome.
    const reaperRuns = await eventually(async () => {
      const res = await admin('GET', '/builtin:reaper/runs?limit=200');
      return res.status === 200 && res.body.items.some((r: any) => r.outcome === 'ok') ? res.body.items : undefined;
    }, 30_000, 'the reaper ran once');
    const recorded = await platform.query<{ id: string; outcome: string }>(`SELECT id::text, outcome FROM maintenance_runs WHERE job = 'reaper' ORDER BY id DESC`);
    assert.deepEqual(reaperRuns.map((r: any) => [r.id, r.outcome]), recorded.slice(0, reaperRuns.length).map((r) => [r.id, r.outcome]));
    const ok = reaperRuns.find((r: any) => r.outcome === 'ok');
    assert.equal(ok.taskId, null);
    assert.equal(ok.error, null);
    assert.equal(typeof ok.rows, 'number');
    assert.ok(ok.durationMs >= 0 && Date.parse(ok.finishedAt) >= Date.parse(ok.firedAt), JSON.stringify(ok));
    // A failed run recorded as the scheduler would; timed like the last run so the job's due time and interval stay.
    await platform.query(
      `INSERT INTO maintenance_runs (job, instance, started_at, finished_at, outcome, detail, interval_seconds)
       SELECT job, 'test', started_at, started_at, 'error', '{"error":"lock timeout"}', interval_seconds FROM maintenance_runs WHERE job = 'reaper' ORDER BY id DESC LIMIT 1`,
    );
    const first = await admin('GET', '/builtin:reaper/runs?limit=1');
    assert.equal(first.status, 200, first.text);
    assert.deepEqual([first.body.items[0].outcome, first.body.items[0].error], ['error', { code: 'MAINTENANCE_FAILED', message: 'lock timeout' }]);
    assert.ok(first.body.nextCursor, 'older runs follow');
    const rest = await admin('GET', `/builtin:reaper/runs?limit=200&cursor=${first.body.nextCursor}`);
    assert.deepEqual(rest.body.items.map((r: any) => r.id).slice(0, reaperRuns.length), reaperRuns.map((r: any) => r.id), 'the cursor continues where the page ended');
    assert.equal((await admin('GET', '/builtin:nothing/runs')).status, 404);

    for (const [method, path] of [['PATCH', '/builtin:reaper'], ['DELETE', '/builtin:reaper'], ['POST', '/builtin:reaper/pause'], ['POST', '/builtin:reaper/resume']] as const) {
      const refused = await admin(method, path, method === 'PATCH' ? { cron: '* * * * *' } : undefined);
      assert.equal(refused.status, 409, `${method} ${path}: ${refused.text}`);
      assert.equal(refused.body.code, 'BUILTIN_SCHEDULE');
    }

    const deleted = await admin('DELETE', `/${created.body.id}`);
    assert.equal(deleted.status, 200, deleted.text);
    assert.equal((await admin('GET', `/${created.body.id}`)).status, 404);

    const audit = (await platform.request('GET', `/api/v1/admin/audit?actor=${ADMIN}`, undefined, {}, { as: ADMIN, role: 'admin' })).body.items;
    const actions = audit.map((a: any) => `${a.action}:${a.outcome}`);
    for (const expected of ['schedule.create:ok', 'schedule.update:ok', 'schedule.delete:ok', 'schedule.pause:ok']) {
      assert.ok(actions.includes(expected), `${expected} in ${actions.join(', ')}`);
    }
    const create = audit.find((a: any) => a.action === 'schedule.create' && a.target === 'nightly');
    assert.equal(create.params.cron, '0 3 * * *');
  });

  it('refuses bad input with a stable code naming the field, unknown ids with 404, and non-admins with 403', async () => {
    const base = { name: 'bad', cron: '0 * * * *', type: 'roadmap.generate', input: { goal: 'Learn Rust' } };
    const cases: Array<[unknown, number, string, string]> = [
      [{ ...base, cron: 'every day' }, 400, 'INVALID_CRON', 'cron'],
      [{ ...base, cron: '61 * * * *' }, 400, 'INVALID_CRON', 'cron'],
      [{ ...base, timezone: 'Mars/Olympus' }, 400, 'INVALID_TIMEZONE', 'timezone'],
      [{ ...base, type: 'report.weekly' }, 400, 'UNKNOWN_TASK_TYPE', 'type'],
      [{ ...base, input: { goal: 'x' } }, 400, 'VALIDATION_FAILED', 'input.goal'],
      [{ ...base, overlap: 'sometimes' }, 400, 'VALIDATION_FAILED', 'overlap'],
      [{ ...base, catchup: 'all' }, 400, 'VALIDATION_FAILED', 'catchup'],
    ];
    for (const [body, status, code, field] of cases) {
      const res = await admin('POST', '', body);
      assert.equal(res.status, status, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.body.code, code, res.text);
      assert.ok(res.body.details.some((d: any) => d.path === field), `${field} named in ${res.text}`);
    }
    assert.equal((await admin('POST', '', { ...base, name: 'twice' })).status, 201);
    const taken = await admin('POST', '', { ...base, name: 'twice' });
    assert.deepEqual([taken.status, taken.body.code, taken.body.details[0].path], [409, 'SCHEDULE_NAME_TAKEN', 'name']);

    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const [method, path] of [['GET', `/${unknown}`], ['PATCH', `/${unknown}`], ['DELETE', `/${unknown}`], ['POST', `/${unknown}/pause`], ['POST', `/${unknown}/resume`], ['GET', `/${unknown}/runs`], ['GET', '/builtin:nothing']] as const) {
      const res = await admin(method, path, method === 'PATCH' ? { name: 'renamed' } : undefined);
      assert.equal(res.status, 404, `${method} ${path}: ${res.text}`);
    }
    assert.equal((await admin('GET', '/not-an-id')).body.code, 'INVALID_ID');
    const badPatch = await admin('PATCH', `/${(await admin('GET', '')).body.items.find((s: any) => s.name === 'twice').id}`, { cron: '* * *' });
    assert.deepEqual([badPatch.status, badPatch.body.code], [400, 'INVALID_CRON']);
    const audit = (await platform.request('GET', `/api/v1/admin/audit?action=schedule.update`, undefined, {}, { as: ADMIN, role: 'admin' })).body.items;
    assert.equal(audit[0].outcome, 'failed', 'a refused edit is audited with its error code');
    assert.equal(audit[0].result.code, 'INVALID_CRON');

    const user = await platform.request('GET', '/api/v1/admin/schedules', undefined, {}, { as: 'someone', role: 'user' });
    assert.equal(user.status, 403);
  });

  it('the CLI lists, creates, updates, pauses, resumes, shows runs and deletes, with --json and stable exit codes', async () => {
    const key = platform.createApiKey('cli-ops', 'admin');
    const cli = (args: string[], as = key) => platform.apiCli(args, as);
    const json = async (args: string[]) => {
      const result = await cli([...args, '--json']);
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}${result.stdout}`);
      return JSON.parse(result.stdout);
    };
    const created = await json(['schedules', 'create', '--name', 'cli-weekly', '--cron', '0 9 * * 1', '--timezone', 'Asia/Tokyo', '--type', 'roadmap.generate', '--input', '{"goal":"Learn Kotlin"}', '--catchup', 'latest']);
    assert.deepEqual([created.name, created.owner, created.catchup, created.nextRuns.length], ['cli-weekly', 'cli-ops', 'latest', 5]);
    // Monday 09:00 in Tokyo is Monday 00:00 UTC.
    assert.ok(created.nextRuns.every((t: string) => new Date(t).getUTCDay() === 1 && t.endsWith('T00:00:00.000Z')), created.nextRuns.join());
    const list = await cli(['schedules', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /cli-weekly +0 9 \* \* 1 Asia\/Tokyo/);
    assert.match(list.stdout, /builtin:reaper +reaper +every 60 s/);
    assert.equal((await json(['schedules', 'update', created.id, '--overlap', 'allow'])).overlap, 'allow');
    assert.equal((await json(['schedules', 'pause', created.id])).pausedBy, 'cli-ops');
    assert.equal((await json(['schedules', 'resume', created.id])).paused, false);
    assert.deepEqual((await json(['schedules', 'runs', created.id])).items, []);
    assert.match((await cli(['schedules', 'show', created.id])).stdout, /next runs: /);

    const badCron = await cli(['schedules', 'update', created.id, '--cron', 'nope']);
    assert.equal(badCron.code, 2, 'a 400 is a usage error');
    assert.match(badCron.stderr, /400 INVALID_CRON: .*\(cron: /);
    assert.equal((await cli(['schedules', 'create', '--name', 'x', '--cron', '* * * * *', '--type', 'roadmap.generate', '--input', '{not json'])).code, 2);
    assert.equal((await cli(['schedules', 'show', '00000000-0000-4000-8000-000000000000'])).code, 3, 'unknown: not found');
    const builtin = await cli(['schedules', 'delete', 'builtin:reaper']);
    assert.equal(builtin.code, 1, 'a 409 fails the operation');
    assert.match(builtin.stderr, /BUILTIN_SCHEDULE/);
    assert.equal((await cli(['schedules', 'list'], platform.createApiKey('plain', 'user'))).code, 4, 'not an admin');
    assert.equal((await json(['schedules', 'delete', created.id])).deleted, true);
  });
});
