import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { AppError, loadConfig } from '@roadmap/contracts';
import { IntentAnalysisSchema } from '@roadmap/contracts';
import {
  createLlmProvider,
  LLM_BUCKETS,
  LlmEnvSchema,
  PROMPTS,
  strictJsonSchema,
  type LlmCallRecord,
  type LlmDependencies,
  type PromptDefinition,
} from '@roadmap/llm';
import { deprovision, Messaging, openBucket, provision } from '@roadmap/messaging';
import { registry } from '@roadmap/observability';
import { startFakeOpenAi, type FakeOpenAi } from '@roadmap/testing';
import { z } from 'zod';

const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const API_KEY = 'sk-pipeline-0123456789';
const input = (goal: string) => ({ goal, preferences: { level: 'beginner' as const, hoursPerWeek: 8, language: 'en' } });
type IntentInput = ReturnType<typeof input>;
const here = dirname(fileURLToPath(import.meta.url));

/** The LLM layer on the fake, sharing NATS KV in `messaging`'s namespace, recording every attempt. */
function llmOn(fake: FakeOpenAi, messaging: Messaging, env: Record<string, string> = {}, deps: Partial<LlmDependencies> = {}) {
  const records: LlmCallRecord[] = [];
  const llm = createLlmProvider(
    loadConfig(LlmEnvSchema, { LLM_PROVIDER: 'openai', LLM_BASE_URL: fake.url, LLM_API_KEY: API_KEY, LLM_MODEL: 'fake-model', LLM_TIMEOUT_MS: '10000', ...env }),
    undefined,
    { nats: messaging, observer: { record: (r) => void records.push(r) }, env: {}, ...deps },
  );
  return { llm, records };
}

async function metric(name: string): Promise<string> {
  return (await registry.getSingleMetricAsString(name)) ?? '';
}

describe('the LLM pipeline on NATS KV and the fake OpenAI server', () => {
  let fake: FakeOpenAi;
  let messaging: Messaging;
  const namespace = `llm${randomBytes(4).toString('hex')}`;

  before(async () => {
    fake = await startFakeOpenAi({ apiKey: API_KEY });
    messaging = await Messaging.connect({ servers: NATS_URL, namespace, name: 'llm-pipeline-test' });
    // The KV buckets exist only once provisioned, as in a deployment (services look them up).
    await provision(messaging);
  });
  after(async () => {
    await deprovision(messaging).catch(() => undefined);
    await messaging?.close();
    await fake?.close();
  });

  it('holds a requests-per-window limit across two worker processes sharing it through NATS KV', async (t) => {
    // Windows long against the scheduling jitter of a loaded 2-core machine: a call admitted at the end
    // of one window can reach the provider in the next.
    const WINDOW_MS = 2_000;
    const LIMIT = 10;
    const CALLS = 20; // per process: 40 in all, four windows' worth at the shared limit
    const limited = await startFakeOpenAi({ apiKey: API_KEY, latencyMs: 30 });
    try {
      const worker = (id: string) =>
        new Promise<{ id: string; codes: Record<string, number> }>((resolve, reject) => {
          const child = spawn(process.execPath, ['--enable-source-maps', join(here, 'fixtures', 'rate-worker.js')], {
            env: {
              ...process.env,
              NATS_URL,
              NATS_NAMESPACE: namespace,
              LLM_PROVIDER: 'openai',
              LLM_BASE_URL: limited.url,
              LLM_API_KEY: API_KEY,
              LLM_MODEL: 'rate-model',
              LLM_RPM: String(LIMIT),
              LLM_RATE_WINDOW_MS: String(WINDOW_MS),
              LLM_RATE_WAIT_MAX_MS: '60000',
              LLM_CACHE_TTL_SECONDS: '0',
              WORKER_ID: id,
              WORKER_CALLS: String(CALLS),
              WORKER_CONCURRENCY: '6',
            },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          let err = '';
          child.stdout.on('data', (d) => (out += d));
          child.stderr.on('data', (d) => (err += d));
          child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`worker ${id} exited ${code}: ${err}`))));
        });
      const results = await Promise.all([worker('a'), worker('b')]);
      for (const result of results) assert.deepEqual(result.codes, { ok: CALLS }, `worker ${result.id}`);

      const windows = limited.countPerWindow(WINDOW_MS);
      const counts = windows.map(([, n]) => n);
      t.diagnostic(`requests per ${WINDOW_MS} ms window (limit ${LIMIT}): ${counts.join(', ')}`);
      assert.equal(counts.reduce((a, b) => a + b, 0), 2 * CALLS);
      // Each process alone would send LIMIT per window (2 × LIMIT together); shared, the pair stays at LIMIT,
      // with a tolerance of two for calls admitted at the end of a window that land in the next.
      assert.ok(Math.max(...counts) <= LIMIT + 2, `requests per ${WINDOW_MS} ms window: ${counts.join(', ')}`);
      assert.ok(windows.length >= (2 * CALLS) / (LIMIT + 1), `spread over ${windows.length} windows: ${counts.join(', ')}`);
      assert.match(await metric('roadmap_llm_rate_limit_wait_seconds'), /./);
    } finally {
      await limited.close();
    }
  });

  it('makes every replica wait out a provider’s 429 Retry-After', async () => {
    const replicaA = llmOn(fake, messaging, { LLM_MODEL: 'hold-model', LLM_RPM: '1000', LLM_MAX_RETRIES: '1', LLM_CACHE_TTL_SECONDS: '0' });
    const replicaB = llmOn(fake, messaging, { LLM_MODEL: 'hold-model', LLM_RPM: '1000', LLM_CACHE_TTL_SECONDS: '0' });
    fake.reset();
    fake.fail({ status: 429, retryAfterSeconds: 1.5 });
    const started = Date.now();
    const first = replicaA.llm.generate(PROMPTS.intent_analysis, input('Learn Kotlin'));
    // Replica B starts once A's 429 has been turned into a shared hold.
    const rate = await openBucket(messaging, LLM_BUCKETS.rate);
    const deadline = Date.now() + 10_000;
    while (!(await rate.get('rate.openai.hold-model.hold'))) {
      assert.ok(Date.now() < deadline, 'the 429 was written as a hold');
      await new Promise((r) => setTimeout(r, 20));
    }
    const second = await replicaB.llm.generate(PROMPTS.intent_analysis, input('Learn Swift'));
    assert.ok(Date.now() - started >= 1_300, `the other replica waited ${Date.now() - started} ms`);
    assert.equal(second.attempts, 1, 'it waited instead of being refused');
    assert.equal((await first).attempts, 2);
  });

  it('answers the second identical call from the shared cache, in another replica too, and skips it when fresh', async () => {
    const replicaA = llmOn(fake, messaging, { LLM_MODEL: 'cache-model' });
    const replicaB = llmOn(fake, messaging, { LLM_MODEL: 'cache-model' });
    fake.reset();
    const first = await replicaA.llm.generate(PROMPTS.intent_analysis, input('Learn Elixir'));
    const second = await replicaB.llm.generate(PROMPTS.intent_analysis, input('Learn Elixir'));
    assert.equal(fake.completionRequests.length, 1, 'the second call never reached the provider');
    assert.equal(second.cached, true);
    assert.deepEqual(second.output, first.output);
    assert.equal(replicaB.records[0]!.outcome, 'cached');
    const fresh = await replicaB.llm.generate(PROMPTS.intent_analysis, input('Learn Elixir'), { context: { fresh: true } });
    assert.notEqual(fresh.cached, true);
    assert.equal(fake.completionRequests.length, 2);
    assert.match(await metric('roadmap_llm_cache_hits_total'), /prompt="intent_analysis"[^\n]* [1-9]/);
    assert.match(await metric('roadmap_llm_cache_misses_total'), /prompt="intent_analysis"[^\n]* [1-9]/);
  });

  it('keys the cache on the definition version, the prompt version and the output schema: a change misses, the same call hits', async () => {
    const llm = llmOn(fake, messaging, { LLM_MODEL: 'versioned-model' }).llm;
    fake.reset();
    const calls = () => fake.completionRequests.length;
    const base = PROMPTS.intent_analysis;
    const v1 = { context: { definitionVersion: 'roadmap-workflow@1' } };
    const ask = (prompt: PromptDefinition<IntentInput, unknown>, options = v1) => llm.generate(prompt, input('Learn Haskell'), options);

    assert.notEqual((await ask(base)).cached, true);
    assert.equal((await ask(base)).cached, true, 'unchanged: a hit');
    assert.equal(calls(), 1);

    // A new prompt version (same template and schema otherwise).
    const nextPrompt = { ...base, version: 'intent_analysis@99' };
    assert.notEqual((await ask(nextPrompt)).cached, true, 'new prompt version: a miss');
    assert.equal(calls(), 2);

    // A tightened output schema whose bound the strict schema sent to the model drops, and which the
    // cached answer still satisfies: only the schema hash can tell the two apart.
    const tighter = { ...base, schema: IntentAnalysisSchema.extend({ focusAreas: z.array(z.string().min(1).max(100)).min(1).max(12) }) };
    assert.deepEqual(strictJsonSchema(tighter.schema), strictJsonSchema(base.schema));
    assert.notEqual((await ask(tighter)).cached, true, 'changed output schema: a miss');
    assert.equal(calls(), 3);

    // A new definition version of the workflow.
    assert.notEqual((await ask(base, { context: { definitionVersion: 'roadmap-workflow@2' } })).cached, true, 'new definition version: a miss');
    assert.equal(calls(), 4);

    // Each variant is cached under its own key; the original still hits.
    for (const [prompt, options] of [
      [base, v1],
      [nextPrompt, v1],
      [tighter, v1],
      [base, { context: { definitionVersion: 'roadmap-workflow@2' } }],
    ] as const) {
      assert.equal((await ask(prompt, options)).cached, true, `${prompt.version} ${options.context.definitionVersion}: a hit`);
    }
    assert.equal(calls(), 4, 'no call reached the provider');
  });

  it('repairs invalid JSON with one prompt that shows the error, and fails with LLM_BAD_OUTPUT when the repair is invalid too', async () => {
    const { llm, records } = llmOn(fake, messaging, { LLM_MODEL: 'repair-model', LLM_CACHE_TTL_SECONDS: '0' });
    fake.reset();
    fake.fail({ content: 'Sure! {"goal": "Learn' });
    const repaired = await llm.generate(PROMPTS.intent_analysis, input('Learn Haskell'));
    assert.equal(repaired.attempts, 2);
    assert.deepEqual(records.map((r) => r.outcome), ['error', 'repaired']);
    const repairRequest = fake.completionRequests[1]!.body;
    assert.deepEqual(repairRequest.messages.map((m: { role: string }) => m.role), ['system', 'user', 'assistant', 'user']);
    assert.equal(repairRequest.messages[2].content, 'Sure! {"goal": "Learn');
    assert.match(repairRequest.messages[3].content, /not valid JSON/);

    records.length = 0;
    fake.fail({ content: 'nope' }, { content: '{"truncated": tr', finishReason: 'length' });
    await assert.rejects(llm.generate(PROMPTS.intent_analysis, input('Learn OCaml')), (error: unknown) => {
      assert.ok(error instanceof AppError && error.code === 'LLM_BAD_OUTPUT' && !error.retryable, String(error));
      assert.match(error.message, /truncated/);
      return true;
    });
    assert.deepEqual(records.map((r) => `${r.attempt}:${r.outcome}:${r.errorCode}`), ['1:error:LLM_BAD_OUTPUT', '2:error:LLM_BAD_OUTPUT']);
    assert.match(await metric('roadmap_llm_repairs_total'), /outcome="repaired"/);
  });

  it('fails over to the next provider when the first keeps failing: its circuit opens and stays open', async () => {
    const broken = await startFakeOpenAi({ apiKey: API_KEY, faults: Array.from({ length: 20 }, () => ({ status: 500 })) });
    const healthy = await startFakeOpenAi({ apiKey: 'sk-fallback-key-123' });
    try {
      const { llm, records } = llmOn(
        broken,
        messaging,
        { LLM_MODEL: 'primary-model', LLM_FALLBACKS: `openai:fallback-model@${healthy.url}`, LLM_BREAKER_FAILURES: '2', LLM_MAX_RETRIES: '2', LLM_CACHE_TTL_SECONDS: '0' },
        { env: { LLM_FALLBACK_1_API_KEY: 'sk-fallback-key-123' } },
      );
      const result = await llm.generate(PROMPTS.intent_analysis, input('Learn Scala'));
      assert.equal(result.model, 'fallback-model');
      assert.equal(broken.completionRequests.length, 2, 'two failures opened the circuit');
      assert.deepEqual(records.map((r) => `${r.model}:${r.outcome}`), ['primary-model:error', 'primary-model:error', 'fallback-model:ok']);
      await llm.generate(PROMPTS.intent_analysis, input('Learn Clojure'));
      assert.equal(broken.completionRequests.length, 2, 'while open, calls go straight to the fallback');
      assert.equal(healthy.completionRequests.length, 2);
      assert.match(await metric('roadmap_llm_circuit_breaker_state'), /model="primary-model"[^\n]* 2/);
      assert.match(await metric('roadmap_llm_failovers_total'), /from="openai\/primary-model",to="openai\/fallback-model"[^\n]* [1-9]/);
    } finally {
      await broken.close();
      await healthy.close();
    }
  });

  it('streams: partial text arrives several times and grows, the final JSON is validated, usage is counted', async () => {
    const streaming = await startFakeOpenAi({ apiKey: API_KEY, streamChunkChars: 24, streamChunkDelayMs: 15 });
    try {
      const { llm, records } = llmOn(streaming, messaging, { LLM_MODEL: 'stream-model', LLM_STREAM_THROTTLE_MS: '60', LLM_CACHE_TTL_SECONDS: '0' });
      const partials: string[] = [];
      const result = await llm.generate(PROMPTS.intent_analysis, input('Learn Zig'), { onPartial: (p) => partials.push(p.text) });
      const request = streaming.completionRequests[0]!.body;
      assert.equal(request.stream, true);
      assert.deepEqual(request.stream_options, { include_usage: true });
      assert.ok(partials.length >= 3, `${partials.length} partial callbacks`);
      for (let i = 1; i < partials.length; i++) assert.ok(partials[i]!.startsWith(partials[i - 1]!) && partials[i]!.length > partials[i - 1]!.length);
      const text = JSON.stringify(result.output);
      assert.ok(partials.length < Math.ceil(text.length / 24), 'throttled: fewer callbacks than chunks');
      assert.equal(partials.at(-1), text);
      // The usage is the server's (its final chunk), not an estimate of ours.
      const chars = request.messages.reduce((n: number, m: { content: string }) => n + m.content.length, 0);
      assert.deepEqual(result.usage, { inputTokens: Math.ceil(chars / 4), outputTokens: Math.ceil(text.length / 4) });
      assert.deepEqual(records[0]!.usage, result.usage);
    } finally {
      await streaming.close();
    }
  });

  it('limits one owner’s calls in flight across two replicas, without holding up another owner', async () => {
    const slow = await startFakeOpenAi({ apiKey: API_KEY, latencyMs: 300 });
    try {
      let inFlight = 0;
      let most = 0;
      const observer = {
        admit: async (context: { owner?: string }) => {
          if (context.owner === 'alice') most = Math.max(most, ++inFlight);
        },
        record: (record: LlmCallRecord) => {
          if (record.context.owner === 'alice') inFlight--;
        },
      };
      const env = { LLM_MODEL: 'owner-model', LLM_OWNER_CONCURRENCY: '2', LLM_CACHE_TTL_SECONDS: '0' };
      const replicas = [llmOn(slow, messaging, env, { observer }), llmOn(slow, messaging, env, { observer })];
      const finished: string[] = [];
      const call = (replica: number, owner: string, i: number) =>
        replicas[replica]!.llm.generate(PROMPTS.intent_analysis, input(`Learn ${owner} topic ${i}`), { context: { owner } }).then(() => finished.push(`${owner}${i}`));
      const alice = Array.from({ length: 6 }, (_, i) => call(i % 2, 'alice', i));
      await new Promise((r) => setTimeout(r, 100));
      const bob = call(1, 'bob', 0);
      await Promise.all([...alice, bob]);
      assert.equal(most, 2, 'never more than 2 of alice’s calls at once, across both replicas');
      assert.ok(finished.indexOf('bob0') < finished.length - 2, `bob did not wait for alice’s queue: ${finished.join(', ')}`);
      assert.match(await metric('roadmap_llm_owner_wait_seconds'), /outcome="admitted"/);
    } finally {
      await slow.close();
    }
  });
});
