/*
 * LLM usage end to end, with the offline provider (its usage counts are estimated from the text; a
 * price table makes them costs): every provider attempt is recorded and listed on the task, the
 * task's usage is the sum of its calls, another owner sees nothing, a spent budget stops a roadmap
 * with a clear status, and tutorials stream `item.partial` events before they complete.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, Platform, sleep } from '../support/platform.js';

const GOAL = { goal: 'Become a backend engineer', preferences: { level: 'beginner', hoursPerWeek: 8 } };
/** USD per million tokens for the offline stand-in's model, so calls have a cost. */
const PRICES = { 'offline-deterministic-1': { input: 1.5, output: 6 } };
const STEPS = ['intent_analysis', 'curriculum_design', 'validation', 'edit'];

interface Call {
  id: string;
  subject: string;
  provider: string;
  model: string;
  promptVersion: string;
  attempt: number;
  outcome: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number | null;
  latencyMs: number;
  startedAt: string;
  prompt?: { system: string; user: string };
  response?: string | null;
}

/** Every page of a task's LLM calls, following nextCursor. */
async function allCalls(platform: Platform, taskId: string, limit: number, query = ''): Promise<{ calls: Call[]; pages: number }> {
  const calls: Call[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res = await platform.request('GET', `/api/v1/tasks/${taskId}/llm-calls?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(res.status, 200, res.text);
    calls.push(...res.body.items);
    cursor = res.body.nextCursor;
    pages += 1;
  } while (cursor);
  return { calls, pages };
}

/** Reads a task's event stream to its end (the server closes it after the task's final event). */
async function readEvents(platform: Platform, taskId: string): Promise<Array<{ id: number; type: string; data: any }>> {
  const res = await fetch(`${platform.url}/api/v1/tasks/${taskId}/events`, {
    headers: { accept: 'text/event-stream', ...(await platform.authHeaders()) },
    signal: AbortSignal.timeout(120_000),
  });
  const events: Array<{ id: number; type: string; data: any }> = [];
  for (const block of (await res.text()).split('\n\n')) {
    const fields = Object.fromEntries(
      block
        .split('\n')
        .filter((line) => line && !line.startsWith(':'))
        .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trimStart()]),
    );
    if (fields.id !== undefined) events.push({ id: Number(fields.id), type: fields.event, data: JSON.parse(fields.data) });
  }
  return events;
}

const sum = (calls: Call[], pick: (c: Call) => number) => calls.reduce((n, c) => n + pick(c), 0);

describe('LLM usage: call records, usage on the task, budgets, streaming', () => {
  let platform: Platform;
  let taskId: string;
  let roadmapId: string;
  let events: Promise<Array<{ id: number; type: string; data: any }>>;
  /** Tokens the workflow steps (before any content) used, measured by the first roadmap. */
  let workflowTokens = 0;
  let contentTokens = 0;

  before(async () => {
    platform = await Platform.start({
      // Simulated latency: a tutorial streams in chunks over ~150 ms.
      env: { OFFLINE_LLM_LATENCY_MS: '150', LLM_PRICES: JSON.stringify(PRICES) },
      serviceEnv: { 'content-worker': { WORKER_CONCURRENCY: '8' } },
    });
    const created = await platform.request('POST', '/api/v1/roadmaps', GOAL);
    assert.equal(created.status, 202, created.text);
    ({ taskId, roadmapId } = created.body);
    events = readEvents(platform, taskId);
    await platform.waitForTask(taskId, ['completed'], 120_000);
  });
  after(async () => {
    await platform?.stop();
  });

  it('lists one record per provider attempt, paginated, and the task’s usage is their sum', async (t) => {
    // A content item's call records are written before the item completes: nothing to wait for.
    const task = (await platform.request('GET', `/api/v1/tasks/${taskId}`)).body;
    const { calls, pages } = await allCalls(platform, taskId, 7);
    assert.ok(pages >= 3, `${calls.length} calls in pages of 7`);
    assert.equal(new Set(calls.map((c) => c.id)).size, calls.length, 'no call twice across pages');
    const times = calls.map((c) => Date.parse(c.startedAt));
    assert.deepEqual(times, [...times].sort((a, b) => a - b), 'oldest first');

    // One ok record per content item, with the prompt version the item was generated with.
    const roadmap = (await platform.request('GET', `/api/v1/roadmaps/${roadmapId}`)).body;
    const items = roadmap.stages.flatMap((s: any) => s.concepts.flatMap((c: any) => Object.entries(c.content).map(([kind, v]: [string, any]) => ({ subject: `${c.id}:${kind}`, ...v }))));
    assert.ok(items.length >= 9);
    for (const item of items) {
      const ok = calls.filter((c) => c.subject === item.subject && c.outcome === 'ok');
      assert.equal(ok.length, 1, `one successful call for ${item.subject}`);
      assert.equal(ok[0]!.promptVersion, item.promptVersion);
    }
    // And the workflow's steps: the first three always run.
    for (const step of STEPS.slice(0, 3)) assert.ok(calls.some((c) => c.subject === step && c.outcome === 'ok'), step);
    assert.ok(calls.every((c) => STEPS.includes(c.subject) || items.some((i: any) => i.subject === c.subject)), 'every call names what it served');

    for (const call of calls) {
      assert.equal(call.provider, 'offline');
      assert.equal(call.model, 'offline-deterministic-1');
      assert.match(call.promptVersion, /^[a-z_]+@\d+$/);
      assert.ok(call.attempt >= 1 && call.latencyMs >= 0 && call.inputTokens > 0 && call.outputTokens > 0, JSON.stringify(call));
      const expected = (call.inputTokens * PRICES['offline-deterministic-1'].input + call.outputTokens * PRICES['offline-deterministic-1'].output) / 1e6;
      assert.ok(Math.abs((call.costUsd ?? -1) - expected) < 1e-7, `cost of ${JSON.stringify(call)} is ${expected}`);
      assert.equal(call.prompt, undefined, 'no prompt without include=content');
    }
    assert.deepEqual(
      { inputTokens: task.usage.inputTokens, outputTokens: task.usage.outputTokens, calls: task.usage.calls },
      { inputTokens: sum(calls, (c) => c.inputTokens), outputTokens: sum(calls, (c) => c.outputTokens), calls: calls.length },
    );
    assert.ok(Math.abs(task.usage.costUsd - sum(calls, (c) => c.costUsd ?? 0)) < 1e-6);
    // Per item, in the task's items view.
    const concept = task.concepts[0];
    const tutorialCalls = calls.filter((c) => c.subject === `${concept.id}:tutorial`);
    assert.equal(concept.usage.tutorial.calls, tutorialCalls.length);
    assert.equal(concept.usage.tutorial.outputTokens, sum(tutorialCalls, (c) => c.outputTokens));

    workflowTokens = sum(calls.filter((c) => STEPS.includes(c.subject)), (c) => c.inputTokens + c.outputTokens);
    contentTokens = sum(calls.filter((c) => !STEPS.includes(c.subject)), (c) => c.inputTokens + c.outputTokens);
    t.diagnostic(`${calls.length} calls in ${pages} pages; usage ${JSON.stringify(task.usage)}; workflow ${workflowTokens} tokens, content ${contentTokens}`);
  });

  it('shows the rendered prompt and the response with include=content and on the call itself; filters by subject', async () => {
    const design = await platform.request('GET', `/api/v1/tasks/${taskId}/llm-calls?subject=curriculum_design&include=content`);
    assert.equal(design.status, 200);
    assert.ok(design.body.items.length >= 1);
    for (const call of design.body.items) {
      assert.equal(call.subject, 'curriculum_design');
      assert.ok(call.prompt.system.length > 0 && call.prompt.user.length > 0);
      assert.ok(call.response.length > 0);
    }
    const one = await platform.request('GET', `/api/v1/tasks/${taskId}/llm-calls/${design.body.items[0].id}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.prompt.user, design.body.items[0].prompt.user);
    assert.equal(one.body.response, design.body.items[0].response);
    assert.equal((await platform.request('GET', `/api/v1/tasks/${taskId}/llm-calls?subject=nothing-like-this`)).body.items.length, 0);
  });

  it('hides another owner’s calls (404) and rejects bad query parameters naming the field', async () => {
    const callId = (await platform.request('GET', `/api/v1/tasks/${taskId}/llm-calls?limit=1`)).body.items[0].id;
    for (const path of [`/api/v1/tasks/${taskId}/llm-calls`, `/api/v1/tasks/${taskId}/llm-calls/${callId}`]) {
      const res = await platform.request('GET', path, undefined, {}, { as: 'someone-else' });
      assert.equal(res.status, 404, path);
      assert.equal(res.body.code, 'NOT_FOUND');
    }
    assert.equal((await platform.request('GET', `/api/v1/tasks/${taskId}/llm-calls/${callId}`, undefined, {}, { as: 'ops', role: 'admin' })).status, 200);
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['include=everything', 'include'],
      ['cursor=bm90LWEtY3Vyc29y', 'cursor'],
      ['colour=red', 'colour'],
    ]) {
      const res = await platform.request('GET', `/api/v1/tasks/${taskId}/llm-calls?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.code, 'VALIDATION_FAILED');
      assert.equal(res.body.details[0].field, field, query);
    }
    assert.equal((await platform.request('GET', `/api/v1/tasks/${taskId}/llm-calls/not-a-uuid`)).body.code, 'INVALID_ID');
  });

  it('reports the caller’s usage per day; only an admin may ask for another owner’s', async () => {
    const task = (await platform.request('GET', `/api/v1/tasks/${taskId}`)).body;
    const today = new Date().toISOString().slice(0, 10);
    const mine = await platform.request('GET', `/api/v1/usage?from=${today}&to=${today}`);
    assert.equal(mine.status, 200, mine.text);
    assert.equal(mine.body.owner, 'e2e-user');
    // The owner's only task in this platform: the day's usage is the task's.
    assert.equal(mine.body.total.calls, task.usage.calls);
    assert.equal(mine.body.total.inputTokens, task.usage.inputTokens);
    assert.deepEqual(mine.body.days.map((d: any) => d.day), [today]);
    assert.equal(mine.body.days[0].models[0].model, 'offline-deterministic-1');

    assert.equal((await platform.request('GET', '/api/v1/usage?owner=e2e-user', undefined, {}, { as: 'mallory' })).status, 403);
    const asAdmin = await platform.request('GET', '/api/v1/usage?owner=e2e-user', undefined, {}, { as: 'ops', role: 'admin' });
    assert.equal(asAdmin.status, 200);
    assert.equal(asAdmin.body.total.calls, task.usage.calls);
    const nobody = await platform.request('GET', '/api/v1/usage', undefined, {}, { as: 'nobody' });
    assert.deepEqual(nobody.body.total, { inputTokens: 0, outputTokens: 0, costUsd: 0, calls: 0 });
    const backwards = await platform.request('GET', '/api/v1/usage?from=2026-02-01&to=2026-01-01');
    assert.equal(backwards.status, 400);
    assert.equal(backwards.body.details[0].field, 'from');
    assert.equal((await platform.request('GET', '/api/v1/usage?from=yesterday')).body.details[0].field, 'from');
  });

  it('streams tutorials: item.partial events, small, before the item’s item.completed', async (t) => {
    const all = await events;
    const partials = all.filter((e) => e.type === 'item.partial');
    assert.ok(partials.length > 0, `no item.partial among ${all.length} events`);
    for (const p of partials) {
      assert.equal(p.data.kind, 'tutorial');
      assert.ok(p.data.chars > 0 && p.data.excerpt.length <= 280 && p.data.excerpt.length <= p.data.chars);
      assert.ok(JSON.stringify(p.data).length < 1_000, 'events stay small: the content is in PostgreSQL');
      const completed = all.find((e) => e.type === 'item.completed' && e.data.conceptId === p.data.conceptId && e.data.kind === 'tutorial');
      assert.ok(completed && completed.id > p.id, `partial ${p.id} of ${p.data.conceptId} before its item.completed`);
    }
    const tutorials = all.filter((e) => e.type === 'item.completed' && e.data.kind === 'tutorial');
    t.diagnostic(`${partials.length} item.partial events for ${tutorials.length} tutorials, ${all.length} events in all`);
    const streamed = new Set(partials.map((p) => p.data.conceptId));
    assert.ok(tutorials.every((t) => streamed.has(t.data.conceptId)), 'every tutorial streamed');
  });

  it('stops a roadmap whose token budget runs out: failed, LLM_BUDGET_EXHAUSTED, not retried, overspend bounded', async (t) => {
    assert.ok(workflowTokens > 0 && contentTokens > 0, 'measured by the first test');
    // Enough for the workflow and about a third of the content: the roadmap cannot finish.
    const budget = workflowTokens + Math.round(contentTokens / 3);
    const concurrency = 2;
    const limited = await Platform.start({
      env: { OFFLINE_LLM_LATENCY_MS: '50', LLM_BUDGET_TOKENS_PER_ROADMAP: String(budget) },
      replicas: { 'content-worker': 1 },
      serviceEnv: { 'content-worker': { WORKER_CONCURRENCY: String(concurrency) } },
    });
    try {
      const created = await limited.request('POST', '/api/v1/roadmaps', GOAL);
      assert.equal(created.status, 202);
      const task = await limited.waitForTask(created.body.taskId, ['failed'], 120_000);
      assert.equal(task.error.code, 'LLM_BUDGET_EXHAUSTED');
      assert.match(task.error.message, /token budget is spent: \d+ of \d+ tokens.*LLM_BUDGET_TOKENS_PER_ROADMAP/);
      assert.ok(task.progress.done > 0 && task.progress.done < task.progress.total, JSON.stringify(task.progress));

      const roadmap = (await limited.request('GET', `/api/v1/roadmaps/${created.body.roadmapId}`)).body;
      const refused = roadmap.stages.flatMap((s: any) => s.concepts.flatMap((c: any) => Object.values(c.content))).filter((i: any) => i.error?.code === 'LLM_BUDGET_EXHAUSTED');
      assert.ok(refused.length >= 1);
      assert.ok(refused.every((i: any) => i.attempts === 1), 'a spent budget is permanent: never retried');

      // Spend: never more than the budget plus what was already in flight when it ran out. A call is
      // admitted only while recorded spend + its estimated input fits; at most `concurrency` calls of
      // this roadmap run at once (one content worker), each no larger than the largest recorded call.
      // Calls still in flight when the task stopped finish and are recorded moments later: wait until
      // the count holds still for a second.
      let seen = -1;
      const { calls } = await eventually(async () => {
        const listed = await allCalls(limited, created.body.taskId, 200);
        const usage = (await limited.request('GET', `/api/v1/tasks/${created.body.taskId}`)).body.usage;
        const settled = listed.calls.length === seen && usage.calls === seen;
        seen = listed.calls.length;
        if (!settled) await sleep(1_000);
        return settled ? listed : undefined;
      }, 30_000, 'every call recorded');
      const spent = sum(calls, (c) => c.inputTokens + c.outputTokens);
      const largest = Math.max(...calls.map((c) => c.inputTokens + c.outputTokens));
      t.diagnostic(`budget ${budget} tokens: spent ${spent} in ${calls.length} calls (largest ${largest}); progress ${JSON.stringify(task.progress)}; ${refused.length} item(s) refused`);
      assert.ok(spent > workflowTokens, `${spent} tokens spent: content started`);
      assert.ok(spent <= budget + concurrency * largest, `${spent} tokens spent, budget ${budget}, ${concurrency} calls of at most ${largest} in flight`);
    } finally {
      await limited.stop();
    }
  });

  it('stops the workflow when the owner’s daily cost budget is spent; another owner’s work goes on', async () => {
    // A budget the first call (intent analysis) already spends: the next step is refused.
    const limited = await Platform.start({
      env: { LLM_PRICES: JSON.stringify(PRICES), LLM_BUDGET_USD_PER_OWNER_DAY: '0.000001' },
      replicas: { 'content-worker': 1 },
    });
    try {
      const created = await limited.request('POST', '/api/v1/roadmaps', GOAL);
      const task = await limited.waitForTask(created.body.taskId, ['failed'], 60_000);
      assert.equal(task.error.code, 'LLM_BUDGET_EXHAUSTED');
      assert.match(task.error.message, /daily LLM cost budget of owner e2e-user is spent.*LLM_BUDGET_USD_PER_OWNER_DAY/);
      assert.equal(task.attempts, 1, 'not retried');
      const { calls } = await allCalls(limited, created.body.taskId, 50);
      assert.deepEqual(calls.map((c) => [c.subject, c.outcome]), [['intent_analysis', 'ok']], 'refused calls never reach the provider');
      assert.equal(task.usage.calls, 1);

      // Another owner has a budget of their own.
      const other = await limited.request('POST', '/api/v1/roadmaps', GOAL, {}, { as: 'bob' });
      await eventually(async () => {
        const { body } = await limited.request('GET', `/api/v1/tasks/${other.body.taskId}/llm-calls`, undefined, {}, { as: 'bob' });
        return body.items.some((c: Call) => c.subject === 'intent_analysis' && c.outcome === 'ok');
      }, 30_000, 'bob’s first call');
    } finally {
      await limited.stop();
    }
  });
});
