import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CONSUMERS, STREAMS } from '@roadmap/contracts';
import { Messaging } from '@roadmap/messaging';
import { eventually, freePort, Platform, TEST_NATS_URL } from '../support/platform.js';

const HEARTBEAT_MS = 1_000;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('the operator CLI (`npm run cli`) against a running platform', () => {
  let platform: Platform;
  let messaging: Messaging;
  let adminKey: string;
  let userKey: string;
  let completed: { taskId: string; roadmapId: string };

  /** The CLI as a real process, asynchronously (a blocking spawn would stall the services' piped output). */
  function cli(args: string[], key: string | null = userKey, env: Record<string, string> = {}): Promise<CliResult> {
    return platform.apiCli(args, key, env);
  }

  async function json(args: string[], key: string | null = userKey): Promise<any> {
    const result = await cli([...args, '--json'], key);
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}${result.stdout}`);
    return JSON.parse(result.stdout);
  }

  const createKey = (owner: string, role: 'admin' | 'user') => platform.createApiKey(owner, role);

  before(async () => {
    platform = await Platform.start({ env: { WORKER_HEARTBEAT_MS: String(HEARTBEAT_MS) } });
    messaging = await Messaging.connect({ servers: TEST_NATS_URL, namespace: platform.namespace, name: 'e2e-cli' });
    adminKey = createKey('ops', 'admin');
    userKey = createKey('cli-user', 'user');
    // A test below asks for priority high as this user: granted with the CLI itself.
    const granted = await cli(['owners', 'policy', 'set', 'cli-user', '--priority-high', 'true'], adminKey);
    assert.equal(granted.code, 0, granted.stderr);
  });
  after(async () => {
    await messaging?.close();
    await platform?.stop();
  });

  it('creates a roadmap and follows it to completion, then ends with a summary (exit 0)', async () => {
    const run = await cli(['roadmaps', 'create', '--goal', 'Become a backend engineer', '--hours-per-week', '6', '--follow']);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    const accepted = /^task (\S+) \(roadmap (\S+)\) accepted/m.exec(run.stdout);
    assert.ok(accepted, run.stdout);
    completed = { taskId: accepted[1]!, roadmapId: accepted[2]! };
    const task = (await platform.request('GET', `/api/v1/tasks/${completed.taskId}`, undefined, { authorization: `Bearer ${userKey}` })).body;
    assert.equal(task.status, 'completed');
    // Not a terminal: one plain line per event, in order, then the summary.
    assert.match(run.stdout, /step\.started intent_analysis/);
    assert.match(run.stdout, /item\.completed /);
    assert.ok(run.stdout.indexOf('task.completed') > run.stdout.indexOf('step.started intent_analysis'));
    const total = task.progress.total;
    assert.ok(total > 0);
    assert.match(run.stdout, new RegExp(`^task: +${completed.taskId} completed in `, 'm'));
    assert.match(run.stdout, new RegExp(`^items: +${total}/${total} \\(${total} completed\\)`, 'm'));
    assert.match(run.stdout, new RegExp(`^roadmap: +${completed.roadmapId} ".+" \\(\\d+ stages, \\d+ concepts\\)`, 'm'));
  });

  it('with --json, follows as one JSON line per event and ends with the task as a line', async () => {
    const run = await cli(['roadmaps', 'create', '--goal', 'Learn Go', '--priority', 'low', '--follow', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const outcome = lines.at(-1);
    assert.equal(outcome.task.status, 'completed');
    assert.equal(outcome.task.priority, 'low');
    const events = lines.slice(0, -1);
    assert.equal(events[0].type, 'step.started');
    assert.equal(events.at(-1).type, 'task.completed');
    assert.ok(events.every((e: any) => e.taskId === outcome.task.id));
    assert.equal(events.filter((e: any) => e.type === 'item.completed').length, outcome.task.progress.total);
  });

  it('lists and shows tasks as JSON, and prints execution logs', async () => {
    const list = await json(['tasks', 'ls', '--status', 'completed', '--limit', '5']);
    assert.equal(list.items.length, 2, 'the two roadmaps created so far');
    assert.equal(list.items[1].id, completed.taskId, 'newest first');
    assert.ok(list.items.every((t: any) => t.status === 'completed'));
    const page = await json(['tasks', 'ls', '--limit', '1']);
    assert.equal(page.items.length, 1);
    const next = await json(['tasks', 'ls', '--limit', '1', '--cursor', page.nextCursor]);
    assert.deepEqual(next.items.map((t: any) => t.id), [completed.taskId]);
    const shown = await json(['tasks', 'show', completed.taskId]);
    assert.equal(shown.id, completed.taskId);
    assert.equal(shown.roadmapId, completed.roadmapId);
    assert.ok(shown.concepts.length > 0 && shown.concepts.every((c: any) => Object.values(c.items).every((s) => s === 'completed')));
    const table = await cli(['tasks', 'show', completed.taskId]);
    assert.match(table.stdout, /^status: +completed$/m);

    // The log sink writes in batches: wait until the task's entries stop arriving.
    let previous = -1;
    const stored = await eventually(async () => {
      const [{ n }] = await platform.query(`SELECT count(*)::int AS n FROM execution_logs WHERE task_id = $1`, [completed.taskId]);
      const stable = n > 0 && n === previous;
      previous = n;
      if (!stable) await new Promise((r) => setTimeout(r, 1_000));
      return stable ? n : undefined;
    }, 30_000, 'execution logs stored');
    const logs = await cli(['tasks', 'logs', completed.taskId, '--json']);
    assert.equal(logs.code, 0, logs.stderr);
    const entries = logs.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(entries.length, stored);
    assert.ok(entries.some((e) => e.step === 'intent_analysis'));
    // --follow on a finished task prints everything once and ends.
    const followed = await cli(['tasks', 'logs', completed.taskId, '--follow', '--json']);
    assert.equal(followed.code, 0, followed.stderr);
    assert.deepEqual(followed.stdout.trim().split('\n').map((l) => JSON.parse(l).id), entries.map((e) => e.id));
    const human = await cli(['tasks', 'logs', completed.taskId, '--limit', '3']);
    assert.equal(human.stdout.trim().split('\n').length, 3);
    assert.match(human.stdout, /^\d\d:\d\d:\d\d (INFO|DEBUG|WARN) /m);
  });

  it('shows every declared stream and consumer with depth and an ack rate (queues)', async () => {
    // Work acknowledged just now, so the rate over the last minute cannot be zero.
    const auth = { authorization: `Bearer ${userKey}` };
    const { body: fresh } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn TypeScript' }, auth);
    await eventually(async () => ((await platform.request('GET', `/api/v1/tasks/${fresh.taskId}`, undefined, auth)).body.status === 'completed' ? true : undefined), 60_000, 'task completed');
    const queues = await json(['queues'], adminKey);
    assert.deepEqual(queues.streams.map((s: any) => s.stream).sort(), Object.keys(STREAMS).sort());
    const consumers = queues.streams.flatMap((s: any) => s.consumers);
    assert.deepEqual(
      consumers.map((c: any) => `${c.stream}/${c.consumer}`).sort(),
      Object.values(CONSUMERS).map((c) => `${c.stream}/${c.durable}`).sort(),
    );
    for (const c of consumers) {
      assert.equal(c.error, null);
      for (const field of ['pending', 'ackPending', 'redelivered', 'waiting']) assert.equal(typeof c[field], 'number', `${c.consumer}.${field}`);
    }
    // The roadmap's items were just acknowledged by the normal-priority content consumer.
    const content = consumers.find((c: any) => c.consumer === CONSUMERS.contentNormal.durable);
    assert.equal(content.pending, 0);
    assert.ok(content.ackRate > 0, `ack rate ${content.ackRate}`);
    assert.ok(content.lastActive && Date.now() - Date.parse(content.lastActive) < 120_000, content.lastActive);
    const content_stream = queues.streams.find((s: any) => s.stream === 'CONTENT_GENERATION');
    assert.equal(typeof content_stream.messages, 'number');
    assert.equal(typeof content_stream.bytes, 'number');

    const table = await cli(['queues'], adminKey);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^CONTENT_GENERATION +content-worker-normal +0 +/m);
  });

  it('shows each of the platform\'s processes with its consumers and pid (workers)', async () => {
    const expected = platform.processes.map((p) => ({ service: p.service, pid: p.child.pid }));
    const workers = await eventually(async () => {
      const list = await json(['workers'], adminKey);
      // The acked counts come with the next heartbeat after the roadmap.
      const acked = list.items.filter((w: any) => w.service === 'content-worker').flatMap((w: any) => w.consumers).reduce((n: number, c: any) => n + c.handled.acked, 0);
      return list.items.length === expected.length && acked > 0 ? list : undefined;
    }, 20_000, 'every process registered');
    assert.deepEqual(
      workers.items.map((w: any) => `${w.service}:${w.pid}`).sort(),
      expected.map((p) => `${p.service}:${p.pid}`).sort(),
    );
    const consumersOf = (service: string) => [...new Set(workers.items.filter((w: any) => w.service === service).flatMap((w: any) => w.consumers.map((c: any) => c.consumer)))].sort();
    assert.deepEqual(consumersOf('content-worker'), [CONSUMERS.contentHigh.durable, CONSUMERS.contentLow.durable, CONSUMERS.contentNormal.durable].sort());
    // The workflow worker also records dead letters (the gateway consumes nothing).
    assert.deepEqual(
      consumersOf('workflow-worker'),
      [CONSUMERS.workflowHigh.durable, CONSUMERS.workflowLow.durable, CONSUMERS.workflowNormal.durable, CONSUMERS.deadLetterSink.durable].sort(),
    );
    assert.deepEqual(consumersOf('log-sink'), [CONSUMERS.logSink.durable]);
    assert.deepEqual(consumersOf('gateway'), []);
    for (const w of workers.items) {
      assert.equal(w.status, 'alive');
      assert.equal(w.inFlight, w.consumers.reduce((n: number, c: any) => n + c.inFlight, 0));
      assert.match(w.version, /^@roadmap\/[a-z-]+@\d+\.\d+\.\d+/);
      assert.ok(Date.now() - Date.parse(w.lastHeartbeatAt) < 10_000);
    }
    const task = (await platform.request('GET', `/api/v1/tasks/${completed.taskId}`, undefined, { authorization: `Bearer ${userKey}` })).body;
    const acked = workers.items.filter((w: any) => w.service === 'content-worker').flatMap((w: any) => w.consumers).reduce((n: number, c: any) => n + c.handled.acked, 0);
    assert.ok(acked >= task.progress.total, `content workers acked ${acked} of ${task.progress.total} items`);

    const table = await cli(['workers'], adminKey);
    const pid = platform.processes.find((p) => p.service === 'log-sink')!.child.pid;
    assert.match(table.stdout, new RegExp(`^log-sink +\\S+:${pid} +alive +log-sink +\\d+/\\d+ `, 'm'));
  });

  it('lists, shows, replays and discards a dead letter (dlq); a discarded one cannot be replayed', async () => {
    await messaging.js.publish(messaging.subject('content.generate.normal.quiz'), 'not json at all');
    const [dead] = await eventually(async () => {
      const list = await json(['dlq', 'ls'], adminKey);
      return list.items.length === 1 ? list.items : undefined;
    }, 20_000, 'the poison message recorded');
    assert.equal(dead.subject, 'content.generate.normal.quiz');
    assert.match(dead.reason, /^invalid_message: /);
    const shown = await json(['dlq', 'show', dead.id], adminKey);
    assert.equal(shown.payload, 'not json at all');

    const replay = await cli(['dlq', 'replay', dead.id], adminKey);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /replayed to content\.generate\.normal\.quiz \(replay 1\)/);
    // Still invalid, so it is dead-lettered again: the replay went through the worker.
    await eventually(async () => ((await json(['dlq', 'ls'], adminKey)).items.length === 2 ? true : undefined), 20_000, 'the replay dead-lettered again');

    const discard = await cli(['dlq', 'discard', dead.id], adminKey);
    assert.equal(discard.code, 0, discard.stderr);
    assert.match(discard.stdout, /discarded \(by ops at /);
    const open = await json(['dlq', 'ls'], adminKey);
    assert.equal(open.items.length, 1);
    assert.notEqual(open.items[0].id, dead.id);
    const discarded = await json(['dlq', 'ls', '--state', 'discarded'], adminKey);
    assert.deepEqual(discarded.items.map((d: any) => [d.id, d.discardedBy, d.replayCount]), [[dead.id, 'ops', 1]]);
    const again = await cli(['dlq', 'replay', dead.id], adminKey);
    assert.equal(again.code, 1, 'a discarded dead letter is a 409');
    assert.match(again.stderr, /409 CONFLICT: .*discarded/);
  });

  it('pauses a reviewed roadmap, takes the approval, retries an item, refuses to cancel a finished task', async () => {
    const run = await cli(['roadmaps', 'create', '--goal', 'Learn SQL', '--review', 'required', '--priority', 'high', '--follow']);
    assert.equal(run.code, 0, run.stderr);
    const [, taskId, roadmapId] = /^task (\S+) \(roadmap (\S+)\) accepted/m.exec(run.stdout)!;
    assert.match(run.stdout, /review\.awaiting revision 1/);
    assert.match(run.stdout, new RegExp(`^next: +roadmaps review ${roadmapId} --approve`, 'm'));

    const bad = await cli(['roadmaps', 'review', roadmapId!]);
    assert.equal(bad.code, 2, 'neither --approve nor --revise');
    const approved = await cli(['roadmaps', 'review', roadmapId!, '--approve']);
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /review approve of revision 1 submitted/);
    const auth = { authorization: `Bearer ${userKey}` };
    await eventually(async () => ((await platform.request('GET', `/api/v1/tasks/${taskId}`, undefined, auth)).body.status === 'completed' ? true : undefined), 60_000, 'approved task completed');

    const shown = await json(['tasks', 'show', taskId!]);
    const concept = shown.concepts[0];
    const retry = await cli(['roadmaps', 'retry', roadmapId!, concept.id, '--kind', 'quiz']);
    assert.equal(retry.code, 0, retry.stderr);
    assert.match(retry.stdout, /regenerating quiz of concept/);
    await eventually(async () => ((await platform.request('GET', `/api/v1/tasks/${taskId}`, undefined, auth)).body.status === 'completed' ? true : undefined), 60_000, 'retried item done');

    const cancel = await cli(['tasks', 'cancel', taskId!]);
    assert.equal(cancel.code, 1, 'cancelling a completed task is a conflict');
    const resume = await cli(['tasks', 'resume', taskId!]);
    assert.equal(resume.code, 1, 'resuming a completed task is a conflict');
  });

  it('exits with the documented codes: 3 not found, 4 bad key or not admin, 2 usage, 5 unavailable', async () => {
    const missing = await cli(['tasks', 'show', crypto.randomUUID()]);
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(missing.stderr, /404 NOT_FOUND/);
    const otherOwner = await cli(['tasks', 'show', completed.taskId], createKey('someone-else', 'user'));
    assert.equal(otherOwner.code, 3, 'another owner\'s task is not found');
    const dlqMissing = await cli(['dlq', 'show', crypto.randomUUID()], adminKey);
    assert.equal(dlqMissing.code, 3);

    const badKey = await cli(['tasks', 'ls'], 'rk_not-a-real-key');
    assert.equal(badKey.code, 4, badKey.stderr);
    assert.match(badKey.stderr, /401 UNAUTHENTICATED/);
    const noKey = await cli(['tasks', 'ls'], null);
    assert.equal(noKey.code, 4);
    const notAdmin = await cli(['queues']);
    assert.equal(notAdmin.code, 4);
    assert.match(notAdmin.stderr, /403 FORBIDDEN/);

    assert.equal((await cli(['tasks', 'show', 'not-a-uuid'])).code, 2, 'a 400 is a usage error');
    assert.equal((await cli(['tasks', 'frobnicate'])).code, 2);
    assert.equal((await cli(['tasks', 'ls', '--status', 'sleeping'])).code, 2);

    const nobody = await cli(['tasks', 'ls', '--api-url', `http://127.0.0.1:${await freePort()}`]);
    assert.equal(nobody.code, 5, nobody.stderr);
    assert.match(nobody.stderr, /cannot reach the API/);
  });

  it('admin endpoints: queues, workers and discard have their shapes, and are 403 for a non-admin', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/admin/queues'],
      ['GET', '/api/v1/admin/workers'],
      ['POST', `/api/v1/admin/dead-letters/${crypto.randomUUID()}/discard`],
    ] as const) {
      const res = await platform.request(method, path);
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.body.code, 'FORBIDDEN');
    }
    const admin = { as: 'ops', role: 'admin' as const };
    const queues = await platform.request('GET', '/api/v1/admin/queues', undefined, {}, admin);
    assert.equal(queues.status, 200);
    assert.deepEqual(Object.keys(queues.body).sort(), ['at', 'streams']);
    assert.deepEqual(Object.keys(queues.body.streams[0]).sort(), ['bytes', 'consumers', 'error', 'messages', 'stream']);
    assert.deepEqual(
      Object.keys(queues.body.streams.find((s: any) => s.consumers.length > 0).consumers[0]).sort(),
      ['ackPending', 'ackRate', 'consumer', 'error', 'lastActive', 'paused', 'pausedAt', 'pausedBy', 'pending', 'rateWindowSeconds', 'redelivered', 'stream', 'waiting'],
    );
    const workers = await platform.request('GET', '/api/v1/admin/workers', undefined, {}, admin);
    assert.equal(workers.status, 200);
    assert.deepEqual(Object.keys(workers.body.items[0]).sort(), [
      'consumers',
      'heartbeatIntervalMs',
      'host',
      'id',
      'inFlight',
      'instance',
      'lastHeartbeatAt',
      'pid',
      'service',
      'startedAt',
      'status',
      'version',
    ]);
    const worker = workers.body.items.find((w: any) => w.consumers.length > 0);
    assert.deepEqual(Object.keys(worker.consumers[0]).sort(), ['concurrency', 'configuredConcurrency', 'consumer', 'handled', 'held', 'inFlight', 'paused', 'since', 'stream']);
    assert.deepEqual(Object.keys(worker.consumers[0].handled).sort(), ['acked', 'deadLettered', 'retried']);
    assert.equal((await platform.request('POST', `/api/v1/admin/dead-letters/${crypto.randomUUID()}/discard`, undefined, {}, admin)).status, 404);
    assert.equal((await platform.request('GET', '/api/v1/admin/dead-letters?state=nope', undefined, {}, admin)).status, 400);
  });

  it('creates a task of any type, reads its result (exit 1 while it has not completed), and lists a batch\'s children', async () => {
    const types = await json(['tasks', 'types']);
    assert.ok(types.items.some((t: any) => t.type === 'roadmap.batch'));
    const bad = await cli(['tasks', 'create', '--type', 'no.such', '--input', '{}']);
    assert.equal(bad.code, 2, 'an unknown type is a usage error');
    assert.match(bad.stderr, /UNKNOWN_TASK_TYPE|unknown task type/);
    const created = await json(['tasks', 'create', '--type', 'roadmap.batch', '--input', JSON.stringify({ goals: ['Learn Go for services', 'Learn SQL basics'] })]);
    assert.equal(created.type, 'roadmap.batch');
    const early = await cli(['tasks', 'result', created.taskId]);
    if (early.code !== 0) {
      assert.equal(early.code, 1, 'not completed yet: exit 1');
      assert.match(early.stderr, /NOT_COMPLETED|is (queued|running)/);
    }
    const answer = await json(['tasks', 'result', created.taskId, '--wait', '60']);
    assert.equal(answer.result.total, 2);
    assert.equal(answer.result.completed, 2);
    const children = await json(['tasks', 'ls', '--parent', created.taskId]);
    assert.equal(children.items.length, 2);
    assert.ok(children.items.every((c: any) => c.type === 'roadmap.generate' && c.parentId === created.taskId));
    const shown = await cli(['tasks', 'show', created.taskId]);
    assert.match(shown.stdout, /children:\s+2 \(2 completed\)/);
  });

  it('shows a killed process as gone after three missed heartbeats, and forgets one that stopped cleanly', async () => {
    const [killed, stopped] = platform.processes.filter((p) => p.service === 'content-worker');
    await platform.kill(killed!, 'SIGKILL');
    await platform.kill(stopped!, 'SIGTERM');
    const workers = await eventually(async () => {
      const list = await json(['workers', '--all'], adminKey);
      const gone = list.items.find((w: any) => w.pid === killed!.child.pid);
      return gone?.status === 'gone' ? list : undefined;
    }, 20_000, 'the killed worker shown as gone');
    assert.ok(!workers.items.some((w: any) => w.pid === stopped!.child.pid), 'a cleanly stopped worker removed its entry');
    const alive = await json(['workers'], adminKey);
    assert.ok(!alive.items.some((w: any) => w.pid === killed!.child.pid), 'without --all, gone workers are left out');
  });
});
