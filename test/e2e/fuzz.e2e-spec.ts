import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { Platform } from '../support/platform.js';

/**
 * Property: whatever a caller sends — any body, any headers, any id — the API answers with a
 * deliberate status (never a 5xx), the gateway keeps running, and a rejected request writes nothing.
 */
describe('arbitrary requests at every endpoint (fast-check)', () => {
  let platform: Platform;
  let roadmapId: string;
  let taskId: string;
  let conceptId: string;

  before(async () => {
    platform = await Platform.start({ replicas: { 'content-worker': 1 } });
    const { body } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Become a backend engineer' });
    ({ taskId, roadmapId } = body);
    await platform.waitForTask(taskId, ['completed'], 60_000);
    conceptId = (await platform.request('GET', `/api/v1/roadmaps/${roadmapId}`)).body.stages[0].concepts[0].id;
  });
  after(async () => {
    await platform?.stop();
  });

  const id = () => fc.oneof(fc.constant('__TASK__'), fc.constant('__ROADMAP__'), fc.uuid(), fc.string({ maxLength: 40 }), fc.constant('%00'), fc.constant('..%2F..'));
  const endpoint = fc.oneof(
    fc.record({ method: fc.constant('POST'), path: fc.constant('/api/v1/roadmaps') }),
    fc.record({ method: fc.constant('GET'), path: id().map((x) => `/api/v1/tasks/${x}`) }),
    fc.record({ method: fc.constant('GET'), path: id().map((x) => `/api/v1/tasks/${x}/logs`) }),
    fc.record({ method: fc.constant('GET'), path: fc.string({ maxLength: 60 }).map((q) => `/api/v1/tasks?${q}`) }),
    fc.record({ method: fc.constant('POST'), path: id().map((x) => `/api/v1/tasks/${x}/cancel`) }),
    fc.record({ method: fc.constant('POST'), path: id().map((x) => `/api/v1/tasks/${x}/resume`) }),
    fc.record({ method: fc.constant('GET'), path: id().map((x) => `/api/v1/roadmaps/${x}`) }),
    fc.record({ method: fc.constant('GET'), path: id().map((x) => `/api/v1/roadmaps/${x}/revisions`) }),
    fc.record({ method: fc.constant('POST'), path: id().map((x) => `/api/v1/roadmaps/${x}/review`) }),
    fc.record({ method: fc.constant('POST'), path: fc.tuple(id(), id()).map(([a, b]) => `/api/v1/roadmaps/${a}/concepts/${b === '__TASK__' ? '__CONCEPT__' : b}/retry`) }),
    fc.record({ method: fc.constant('GET'), path: fc.string({ maxLength: 60 }).map((q) => `/api/v1/admin/dead-letters?${q}`) }),
    fc.record({ method: fc.constantFrom('POST'), path: fc.tuple(id(), fc.constantFrom('replay', 'discard')).map(([x, action]) => `/api/v1/admin/dead-letters/${x}/${action}`) }),
    fc.record({ method: fc.constant('GET'), path: fc.constantFrom('/api/v1/admin/queues', '/api/v1/admin/workers') }),
    fc.record({ method: fc.constant('GET'), path: fc.string({ maxLength: 60 }).map((q) => `/api/v1/admin/maintenance?${q}`) }),
    fc.record({ method: fc.constant('GET'), path: fc.tuple(id(), fc.string({ maxLength: 40 })).map(([x, q]) => `/api/v1/tasks/${x}/llm-calls?${q}`) }),
    fc.record({ method: fc.constant('GET'), path: fc.tuple(id(), id()).map(([x, c]) => `/api/v1/tasks/${x}/llm-calls/${c}`) }),
    fc.record({ method: fc.constant('GET'), path: fc.string({ maxLength: 60 }).map((q) => `/api/v1/usage?${q}`) }),
    fc.record({ method: fc.constant('GET'), path: fc.string({ maxLength: 60 }).map((q) => `/api/v1/console/tasks?${q}`) }),
    fc.record({ method: fc.constant('GET'), path: fc.string({ maxLength: 60 }).map((q) => `/api/v1/console/task-stats?${q}`) }),
  );
  const body = fc.oneof(
    fc.constant(undefined),
    fc.json({ maxDepth: 3 }),
    fc.string({ maxLength: 200 }),
    fc.record({ goal: fc.string({ maxLength: 600 }), preferences: fc.anything({ maxDepth: 2 }), priority: fc.string({ maxLength: 8 }) }, { requiredKeys: [] }),
    fc.record({ decision: fc.constantFrom('approve', 'revise', 'maybe', ''), feedback: fc.string({ maxLength: 30 }) }, { requiredKeys: [] }),
    fc.record({ kinds: fc.array(fc.string({ maxLength: 10 }), { maxLength: 5 }) }),
  );
  const headers = fc.dictionary(
    fc.constantFrom('content-type', 'idempotency-key', 'last-event-id', 'x-api-key', 'authorization', 'accept'),
    fc.string({ maxLength: 60 }).filter((v) => /^[\x20-\x7e]*$/.test(v)),
    { maxKeys: 3 },
  );
  const RUNS = 600;
  const caller = fc.constantFrom<'user' | 'other' | 'admin' | 'none'>('user', 'other', 'admin', 'none');

  it('never answers 5xx, keeps serving, and writes nothing for a rejected request', async () => {
    const before = await platform.query(`SELECT (SELECT count(*)::int FROM tasks) AS tasks, (SELECT count(*)::int FROM idempotency_keys) AS keys`);
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(endpoint, body, headers, caller, async (target, payload, extra, who) => {
        const path = target.path
          .replaceAll('__TASK__', taskId)
          .replaceAll('__ROADMAP__', roadmapId)
          .replaceAll('__CONCEPT__', conceptId);
        const as = who === 'none' ? null : who === 'other' ? 'someone-else' : undefined;
        // fetch sends no body with GET.
        const res = await platform.request(target.method, path, target.method === 'GET' ? undefined : payload, extra, {
          as,
          role: who === 'admin' ? 'admin' : 'user',
        });
        assert.ok(res.status < 500, `${target.method} ${path} -> ${res.status} ${res.text.slice(0, 300)}`);
        if (res.status >= 400) assert.equal(typeof res.body?.code, 'string', `${target.method} ${path}: an error has a stable code (${res.text.slice(0, 200)})`);
        if (target.method === 'POST' && target.path === '/api/v1/roadmaps' && res.status === 202) accepted++;
      }),
      { numRuns: RUNS, seed: 20261123 },
    );
    const afterRun = await platform.query(`SELECT (SELECT count(*)::int FROM tasks) AS tasks`);
    assert.ok(afterRun[0].tasks - before[0].tasks <= accepted, `tasks written (${afterRun[0].tasks - before[0].tasks}) beyond those accepted (${accepted})`);
    assert.equal((await platform.request('GET', '/healthz')).status, 200, 'the gateway still serves');
    console.log(`fuzz: ${RUNS} requests, 0 answered 5xx; ${accepted} roadmap(s) accepted, ${afterRun[0].tasks - before[0].tasks} task(s) written`);
  });
});
