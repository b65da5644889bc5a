import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAi, type FakeFault, type FakeOpenAi } from '@roadmap/testing';
import { eventually, Platform } from '../support/platform.js';

/*
 * The LLM fault matrix, through the whole platform: one content item regenerated per case while the
 * fake OpenAI-compatible server answers with a scripted fault. Each case checks how the failure was
 * classified (retried or failed), how many HTTP calls the provider saw, and how many deliveries the
 * item took (`attempts` on its row).
 *
 * Settings: LLM_MAX_RETRIES=2 (three HTTP calls per delivery), LLM_TIMEOUT_MS=1500, one repair prompt
 * per call (LLM_REPAIR_ATTEMPTS=1), CONTENT_MAX_ATTEMPTS=3.
 */
interface Case {
  readonly name: string;
  readonly faults: FakeFault[];
  readonly status: 'completed' | 'failed';
  readonly calls: number;
  readonly attempts: number;
  readonly code?: string;
}

const CASES: Case[] = [
  { name: '429 with Retry-After: 1 s — retried by the client after the wait', faults: [{ status: 429, retryAfterSeconds: 1 }], status: 'completed', calls: 2, attempts: 1 },
  { name: '500 on every client retry — the delivery fails, the next one succeeds', faults: [{ status: 500 }, { status: 500 }, { status: 500 }], status: 'completed', calls: 4, attempts: 2 },
  { name: 'a hung call — timed out and retried', faults: [{ hangMs: 6_000 }], status: 'completed', calls: 2, attempts: 1 },
  { name: 'malformed JSON — one repair prompt', faults: [{ content: 'this is not JSON' }], status: 'completed', calls: 2, attempts: 1 },
  { name: 'truncated JSON (finish_reason length) — one repair prompt', faults: [{ content: '{"questions": [{"question": "Wh', finishReason: 'length' }], status: 'completed', calls: 2, attempts: 1 },
  { name: '400 — rejected, not retried', faults: [{ status: 400, message: 'unsupported request' }], status: 'failed', calls: 1, attempts: 1, code: 'LLM_REJECTED' },
  { name: 'malformed JSON twice — the repair fails too: a classified failure', faults: [{ content: 'nope' }, { content: 'still nope' }], status: 'failed', calls: 2, attempts: 1, code: 'LLM_BAD_OUTPUT' },
  {
    name: '503 on every call — every delivery spent, then the item fails',
    faults: Array.from({ length: 9 }, () => ({ status: 503 })),
    status: 'failed',
    calls: 9,
    attempts: 3,
    code: 'LLM_UNAVAILABLE',
  },
];

describe('LLM faults from an OpenAI-compatible endpoint, classified and counted', () => {
  let fake: FakeOpenAi;
  let platform: Platform;
  let roadmapId: string;
  let conceptId: string;
  const apiKey = 'sk-e2e-faults-0123456789';

  before(async () => {
    fake = await startFakeOpenAi({ apiKey });
    platform = await Platform.start({
      env: {
        LLM_PROVIDER: 'openai',
        LLM_BASE_URL: fake.url,
        LLM_API_KEY: apiKey,
        LLM_MODEL: 'fake',
        LLM_MAX_RETRIES: '2',
        LLM_TIMEOUT_MS: '1500',
        LLM_REPAIR_ATTEMPTS: '1',
        LLM_BREAKER_FAILURES: '0',
      },
      replicas: { 'content-worker': 1 },
      maxAttempts: { content: 3 },
    });
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Become a backend developer', review: 'skip' });
    await platform.waitForTask(accepted.taskId, ['completed'], 90_000);
    roadmapId = accepted.roadmapId;
    [{ id: conceptId }] = await platform.query(`SELECT id FROM concepts WHERE roadmap_id = $1 ORDER BY stage_index, position LIMIT 1`, [roadmapId]);
  });
  after(async () => {
    await platform?.stop();
    await fake?.close();
  });

  const summary: string[] = [];
  after(() => console.log(`LLM fault matrix (case: calls, deliveries, outcome):\n${summary.join('\n')}`));

  for (const c of CASES) {
    it(c.name, async () => {
      const before = fake.completionRequests.length;
      fake.fail(...c.faults);
      const { status } = await platform.request('POST', `/api/v1/roadmaps/${roadmapId}/concepts/${conceptId}/retry`, { kinds: ['quiz'] });
      assert.equal(status, 202);
      const item = await eventually(
        async () => {
          const [row] = await platform.query(`SELECT status, attempts, error FROM content_items WHERE roadmap_id = $1 AND concept_id = $2 AND kind = 'quiz'`, [
            roadmapId,
            conceptId,
          ]);
          return row.status === 'completed' || row.status === 'failed' ? row : undefined;
        },
        60_000,
        `the quiz to reach a final state (${c.name})`,
      );
      const calls = fake.completionRequests.slice(before);
      summary.push(`  ${c.name}: ${calls.length} call(s), ${item.attempts} deliver${item.attempts === 1 ? 'y' : 'ies'}, ${item.status}${item.error ? ` ${item.error.code}` : ''}`);
      assert.equal(fake.pendingFaults, 0, 'every scripted fault was served');
      assert.equal(item.status, c.status);
      assert.equal(calls.length, c.calls, 'HTTP calls the provider saw');
      assert.equal(item.attempts, c.attempts, 'deliveries of the item’s message');
      if (c.code) assert.equal(item.error?.code, c.code);
      if (c.faults[0] && 'retryAfterSeconds' in c.faults[0]) {
        assert.ok(calls[1]!.at - calls[0]!.at >= 950, `Retry-After honoured (${calls[1]!.at - calls[0]!.at} ms between the calls)`);
      }
      if (c.name.startsWith('malformed JSON — ')) {
        const repair = JSON.stringify(calls[1]!.body.messages);
        assert.match(repair, /not valid JSON|invalid|validation/i, 'the repair prompt shows the model what was wrong');
      }
    });
  }
});
