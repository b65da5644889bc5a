/*
 * The admin control commands of the CLI as real processes against a running platform (issue 20):
 * queues pause|resume|purge, workers concurrency|inspect|drain, tasks bulk, audit, and owners policy
 * (issue 19); --json output
 * and the exit codes scripts rely on (2 refused, 3 unknown, 4 not an admin).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, Platform } from '../support/platform.js';

describe('admin CLI commands', () => {
  let platform: Platform;
  let adminKey: string;
  let userKey: string;

  const cli = (args: string[], key = adminKey) => platform.apiCli(args, key);

  async function json(args: string[]): Promise<any> {
    const result = await cli([...args, '--json']);
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}${result.stdout}`);
    return JSON.parse(result.stdout);
  }

  const createKey = (owner: string, role: 'admin' | 'user') => platform.createApiKey(owner, role);

  before(async () => {
    // No workflow worker yet: roadmaps stay queued for `tasks bulk`. No dispatch window: every start is
    // in the stream at once, where the purge counts it (one owner's starts are otherwise released two at a time).
    platform = await Platform.start({
      env: { WORKER_HEARTBEAT_MS: '500', DISPATCH_WORKFLOW_WINDOW: '0' },
      replicas: { 'workflow-worker': 0, 'content-worker': 1 },
    });
    adminKey = createKey('ops', 'admin');
    userKey = createKey('someone', 'user');
  });
  after(async () => {
    await platform?.stop();
  });

  it('pauses, shows and resumes a queue; a purge without --confirm is a dry run', async () => {
    const paused = await json(['queues', 'pause', 'ROADMAP_WORKFLOW', '--priority', 'normal']);
    assert.deepEqual(paused.consumers.map((c: any) => [c.consumer, c.paused, c.pausedBy]), [['workflow-worker-normal', true, 'ops']]);
    const table = await cli(['queues']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /workflow-worker-normal .*by ops/);
    for (let i = 0; i < 3; i++) assert.equal((await platform.request('POST', '/api/v1/roadmaps', { goal: `Queued goal ${i}` })).status, 202);
    const dry = await json(['queues', 'purge', 'ROADMAP_WORKFLOW', '--priority', 'normal']);
    assert.deepEqual([dry.dryRun, dry.messages, dry.tasks], [true, 3, 3]);
    const text = await cli(['queues', 'purge', 'ROADMAP_WORKFLOW', '--priority', 'normal']);
    assert.match(text.stdout, /3 messages of 3 tasks would be purged .* --confirm/);
    const resumed = await json(['queues', 'resume', 'ROADMAP_WORKFLOW']);
    assert.ok(resumed.consumers.every((c: any) => c.paused === false));
  });

  it('cancels in bulk with a dry run, then waits for the job', async () => {
    // The bulk cancel is an admin.bulk task (high priority) that a workflow worker runs; the roadmaps stay queued.
    for (const priority of ['normal', 'low']) await json(['queues', 'pause', 'ROADMAP_WORKFLOW', '--priority', priority]);
    await platform.waitReady(await platform.spawn('workflow-worker'));
    const dry = await json(['tasks', 'bulk', 'cancel', '--status', 'queued', '--dry-run']);
    assert.equal(dry.matched, 3);
    const job = await json(['tasks', 'bulk', 'cancel', '--status', 'queued', '--wait']);
    assert.deepEqual([job.status, job.done, job.failed], ['completed', 3, 0]);
    const none = await cli(['tasks', 'bulk', 'cancel', '--status', 'queued']);
    assert.equal(none.code, 3, 'a filter matching nothing: not found');
    assert.match(none.stderr, /FILTER_MATCHES_NOTHING/);
  });

  it('changes concurrency, inspects workers, drains one; stable exit codes for bad input', async () => {
    const set = await json(['workers', 'concurrency', 'content-worker-high', '3']);
    assert.deepEqual([set.concurrency, set.scope], [3, 'all']);
    await eventually(async () => {
      const registered = await json(['workers', 'inspect', 'registered']);
      const worker = registered.items.find((w: any) => w.service === 'content-worker');
      return worker?.handlers.find((h: any) => h.consumer === 'content-worker-high')?.concurrency === 3 || undefined;
    }, 10_000, 'the worker at 3 slots');
    assert.equal((await json(['workers', 'concurrency', 'content-worker-high', 'default'])).concurrency, null);
    const stats = await json(['workers', 'inspect', 'stats']);
    assert.ok(stats.items.some((w: any) => w.process?.rssBytes > 0));
    assert.equal((await cli(['workers', 'inspect', 'active'])).code, 0);

    assert.equal((await cli(['queues', 'pause', 'NOPE'])).code, 3, 'unknown queue');
    assert.equal((await cli(['workers', 'concurrency', 'nope', '2'])).code, 3, 'unknown consumer');
    assert.equal((await cli(['workers', 'concurrency', 'content-worker-high', '0'])).code, 2, 'bad value');
    assert.equal((await cli(['queues', 'pause', 'CONTENT_GENERATION'], userKey)).code, 4, 'not an admin');

    const worker = (await json(['workers'])).items.find((w: any) => w.service === 'content-worker');
    const proc = platform.processes.find((p) => p.child.pid === worker.pid)!;
    const exited = new Promise<number | null>((resolve) => proc.child.once('exit', resolve));
    const drained = await cli(['workers', 'drain', worker.id]);
    assert.equal(drained.code, 0, drained.stderr);
    assert.match(drained.stdout, /is draining/);
    assert.equal(await exited, 0);
  });

  it('reads and sets owner policies: owners policy get|set|ls, --json, a bad weight is exit 2, a user exit 4', async () => {
    assert.deepEqual(await json(['owners', 'policy', 'get', 'alice']), { owner: 'alice', weight: 1, priorityHigh: false, updatedBy: null, updatedAt: null });
    const set = await json(['owners', 'policy', 'set', 'alice', '--weight', '3', '--priority-high', 'true']);
    assert.deepEqual([set.owner, set.weight, set.priorityHigh, set.updatedBy], ['alice', 3, true, 'ops']);
    const revoked = await json(['owners', 'policy', 'set', 'alice', '--priority-high', 'false']);
    assert.deepEqual([revoked.weight, revoked.priorityHigh], [3, false], 'the weight left out is kept');
    const text = await cli(['owners', 'policy', 'get', 'alice']);
    assert.match(text.stdout, /weight: +3\n.*priority high: +no/s);
    assert.deepEqual((await json(['owners', 'policy', 'ls'])).items.map((p: any) => [p.owner, p.weight]), [['alice', 3]]);
    assert.equal((await cli(['owners', 'policy', 'set', 'alice', '--weight', '101'])).code, 2, 'weight out of range');
    assert.equal((await cli(['owners', 'policy', 'set', 'alice', '--priority-high', 'yes'])).code, 2, 'not a boolean');
    assert.equal((await cli(['owners', 'policy', 'get', 'alice'], userKey)).code, 4, 'not an admin');
  });

  it('lists the audit trail', async () => {
    const page = await json(['audit', '--limit', '100']);
    const actions = page.items.map((e: any) => e.action);
    for (const a of ['queue.pause', 'queue.resume', 'tasks.bulk', 'consumer.concurrency', 'worker.drain', 'owner.policy', 'apikey.create']) assert.ok(actions.includes(a), `${a} in the audit`);
    const key = page.items.find((e: any) => e.action === 'apikey.create');
    assert.match(key.actor, /^cli:/);
    const only = await json(['audit', '--action', 'queue.pause']);
    assert.ok(only.items.length >= 2 && only.items.every((e: any) => e.action === 'queue.pause'), 'the refused pause is audited too');
  });
});
