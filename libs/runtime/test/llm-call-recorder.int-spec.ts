/*
 * The LLM call recorder against the real PostgreSQL: batching, the usage aggregates, what happens when
 * a write fails, the budgets read before a call, and retention pruning.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '@roadmap/contracts';
import type { LlmCallRecord } from '@roadmap/llm';
import { createLogger } from '@roadmap/observability';
import { insertLlmCalls, pruneLlmCalls, roadmapSpend, type LlmCallRow } from '@roadmap/persistence';
import { createTestDatabase, type TestDatabase } from '@roadmap/testing';
import { LlmCallRecorder } from '../src/llm-usage/llm-call-recorder.js';
import type { LlmUsageOptions } from '../src/llm-usage/llm-usage.config.js';

let db: TestDatabase;
const logLines: Array<{ level: string; msg: string; [key: string]: unknown }> = [];
const logger = createLogger('test', 'info', { write: (line: string) => void logLines.push(JSON.parse(line)) });

const UNLIMITED: LlmUsageOptions = { tokensPerRoadmap: 0, usdPerRoadmap: 0, usdPerOwnerDay: 0, maxRecordChars: 1_000 };

function recorder(options: Partial<LlmUsageOptions> = {}) {
  return new LlmCallRecorder(db.dataSource, logger, { ...UNLIMITED, flushMs: 60_000, ...options });
}

function call(over: Partial<LlmCallRecord> & { context: LlmCallRecord['context'] }): LlmCallRecord {
  return {
    provider: 'offline',
    model: 'offline-template-v1',
    promptVersion: 'tutorial@1',
    prompt: { system: 'You write tutorials.', user: 'Explain REST.' },
    response: '{"title":"REST"}',
    usage: { inputTokens: 100, outputTokens: 50 },
    costUsd: 0.001,
    latencyMs: 12,
    outcome: 'ok',
    attempt: 1,
    startedAt: new Date(),
    ...over,
  };
}

async function count(where = 'TRUE', params: unknown[] = []): Promise<number> {
  const rows = await db.dataSource.query(`SELECT count(*)::int AS n FROM llm_calls WHERE ${where}`, params);
  return rows[0].n;
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(25);
  }
}

describe('LlmCallRecorder (PostgreSQL)', () => {
  before(async () => {
    db = await createTestDatabase('llmusage');
  });
  after(async () => {
    await db?.drop();
  });

  it('writes records in batches: a full batch at once, the rest when flushed, with the aggregates', async () => {
    const sut = recorder({ batchSize: 20 });
    const taskId = randomUUID();
    const roadmapId = randomUUID();
    for (let i = 0; i < 19; i++) sut.record(call({ context: { taskId, roadmapId, owner: 'alice', subject: `c${i % 3}:tutorial` } }));
    await sleep(100);
    assert.equal(await count('task_id = $1', [taskId]), 0, 'an incomplete batch waits');
    assert.equal(sut.pending, 19);
    sut.record(call({ context: { taskId, roadmapId, owner: 'alice', subject: 'c0:tutorial' } }));
    await eventually(async () => (await count('task_id = $1', [taskId])) === 20);
    for (let i = 0; i < 5; i++) sut.record(call({ context: { taskId, roadmapId, owner: 'alice', subject: 'curriculum_design' }, costUsd: undefined }));
    await sut.flush();
    assert.equal(sut.pending, 0);
    assert.equal(await count('task_id = $1', [taskId]), 25);

    const items = await db.dataSource.query(
      `SELECT subject, input_tokens::int, output_tokens::int, cost_usd::float8 AS cost, calls FROM llm_usage_items WHERE task_id = $1 ORDER BY subject`,
      [taskId],
    );
    const fromCalls = await db.dataSource.query(
      `SELECT subject, sum(input_tokens)::int AS input_tokens, sum(output_tokens)::int AS output_tokens, coalesce(sum(cost_usd), 0)::float8 AS cost, count(*)::int AS calls
         FROM llm_calls WHERE task_id = $1 GROUP BY subject ORDER BY subject`,
      [taskId],
    );
    assert.deepEqual(items, fromCalls);
    assert.deepEqual(
      items.map((r: { subject: string; calls: number }) => [r.subject, r.calls]),
      [['c0:tutorial', 8], ['c1:tutorial', 6], ['c2:tutorial', 6], ['curriculum_design', 5]],
    );
    const stored = await db.dataSource.query(`SELECT cost_usd FROM llm_calls WHERE subject = 'curriculum_design' AND task_id = $1 LIMIT 1`, [taskId]);
    assert.equal(stored[0].cost_usd, null, 'no price: the cost is unknown, not zero');
    const spend = await roadmapSpend(db.dataSource, roadmapId);
    assert.deepEqual(spend, { tokens: 25 * 150, costUsd: 0.02 });
  });

  it('stores prompts and responses bounded in size, cut with a marker', async () => {
    const sut = recorder({ maxRecordChars: 300 });
    const taskId = randomUUID();
    sut.record(call({ context: { taskId, subject: 'x:quiz' }, response: 'r'.repeat(5_000), prompt: { system: 's', user: 'u'.repeat(301) } }));
    await sut.flush();
    const [row] = await db.dataSource.query(`SELECT response, prompt_user, prompt_system FROM llm_calls WHERE task_id = $1`, [taskId]);
    assert.ok(row.response.startsWith('r'.repeat(300)));
    assert.match(row.response, /…\[truncated: 4700 more characters\]$/);
    assert.match(row.prompt_user, /…\[truncated: 1 more characters\]$/);
    assert.equal(row.prompt_system, 's');
  });

  it('keeps records through a failed write, logs it and writes them once PostgreSQL takes them again', async () => {
    const sut = recorder({ batchSize: 5, flushMs: 50 });
    const taskId = randomUUID();
    await db.dataSource.query(`ALTER TABLE llm_calls RENAME TO llm_calls_away`);
    try {
      for (let i = 0; i < 7; i++) sut.record(call({ context: { taskId, roadmapId: randomUUID(), owner: 'bob', subject: 's' } }));
      await eventually(async () => logLines.some((l) => l.msg === 'LLM call records not written; retrying'));
      assert.equal(sut.pending, 7, 'nothing is lost while the write fails');
    } finally {
      await db.dataSource.query(`ALTER TABLE llm_calls_away RENAME TO llm_calls`);
    }
    await eventually(async () => (await count('task_id = $1', [taskId])) === 7);
    assert.equal(sut.pending, 0);
    const [usage] = await db.dataSource.query(`SELECT calls FROM llm_usage_items WHERE task_id = $1`, [taskId]);
    assert.equal(usage.calls, 7, 'each record counted once in the aggregates');
  });

  it('counts a batch written twice once (a retry after a commit whose answer was lost)', async () => {
    const taskId = randomUUID();
    const row: LlmCallRow = {
      id: randomUUID(), taskId, roadmapId: null, owner: 'carol', subject: 'intent_analysis', provider: 'offline', model: 'm',
      promptVersion: 'intent_analysis@1', promptSystem: 's', promptUser: 'u', response: null, inputTokens: 10, outputTokens: 0,
      costUsd: null, latencyMs: 5, outcome: 'error', errorCode: 'LLM_TIMEOUT', errorMessage: 'timed out', attempt: 1, startedAt: new Date(),
    };
    assert.equal(await insertLlmCalls(db.dataSource, [row]), 1);
    assert.equal(await insertLlmCalls(db.dataSource, [row]), 0);
    const [usage] = await db.dataSource.query(`SELECT calls, input_tokens::int FROM llm_usage_items WHERE task_id = $1`, [taskId]);
    assert.deepEqual(usage, { calls: 1, input_tokens: 10 });
  });

  it('refuses a call once the roadmap token budget is spent, counting records not yet written', async () => {
    const sut = recorder({ tokensPerRoadmap: 1_000, batchSize: 100 });
    const roadmapId = randomUUID();
    const context = { taskId: randomUUID(), roadmapId, owner: 'dave', subject: 'c:tutorial' };
    const next = { provider: 'offline', model: 'm', promptVersion: 'tutorial@1', estimatedInputTokens: 50 };
    for (let i = 0; i < 3; i++) sut.record(call({ context })); // 450 tokens, queued
    await sut.admit(context, next);
    await sut.flush();
    for (let i = 0; i < 3; i++) sut.record(call({ context })); // 450 written + 450 queued
    await sut.admit(context, next); // 900 + 50 fits
    await assert.rejects(sut.admit(context, { ...next, estimatedInputTokens: 200 }), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, 'LLM_BUDGET_EXHAUSTED');
      assert.equal(error.retryable, false, 'a spent budget is not retried');
      assert.match(error.message, /900 of 1000 tokens/);
      return true;
    });
    await sut.admit({ ...context, roadmapId: randomUUID() }, { ...next, estimatedInputTokens: 200 }); // another roadmap's budget is its own
    await sut.flush();
  });

  it('refuses a call once the owner’s daily cost budget is spent; other owners go on', async () => {
    const sut = recorder({ usdPerOwnerDay: 0.05 });
    const owner = `erin-${randomUUID()}`;
    const next = { provider: 'offline', model: 'm', promptVersion: 'quiz@1', estimatedInputTokens: 10 };
    for (let i = 0; i < 4; i++) sut.record(call({ context: { taskId: randomUUID(), roadmapId: randomUUID(), owner }, costUsd: 0.01 }));
    await sut.flush();
    await sut.admit({ owner, roadmapId: randomUUID() }, next); // $0.04 < $0.05
    sut.record(call({ context: { taskId: randomUUID(), owner }, costUsd: 0.01 }));
    await assert.rejects(sut.admit({ owner }, next), /daily LLM cost budget .* \$0\.0500 of \$0\.05/);
    await sut.admit({ owner: 'someone-else' }, next);
    // Yesterday's spend does not count today.
    const [daily] = await db.dataSource.query(`SELECT sum(calls)::int AS calls FROM llm_usage_daily WHERE owner = $1 AND day = (now() AT TIME ZONE 'UTC')::date`, [owner]);
    assert.equal(daily.calls, 4);
    await sut.flush();
  });

  it('prunes call records older than the retention period, keeping the usage totals', async () => {
    const sut = recorder();
    const taskId = randomUUID();
    for (let i = 0; i < 6; i++) sut.record(call({ context: { taskId, subject: 'p' } }));
    await sut.flush();
    await db.dataSource.query(`UPDATE llm_calls SET created_at = now() - interval '40 days' WHERE id IN (SELECT id FROM llm_calls WHERE task_id = $1 LIMIT 4)`, [taskId]);
    const deleted = await pruneLlmCalls(db.dataSource, new Date(Date.now() - 30 * 86_400_000), 3);
    assert.equal(deleted, 4);
    assert.equal(await count('task_id = $1', [taskId]), 2);
    const [usage] = await db.dataSource.query(`SELECT calls FROM llm_usage_items WHERE task_id = $1`, [taskId]);
    assert.equal(usage.calls, 6);
  });

  it('never throws into the call, even for a malformed record', async () => {
    const sut = recorder();
    assert.doesNotThrow(() => sut.record({ context: {} } as unknown as LlmCallRecord));
    assert.ok(logLines.some((l) => l.msg === 'LLM call record could not be queued'));
  });
});
