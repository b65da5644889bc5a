import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError, loadConfig, RetryableError } from '@roadmap/contracts';
import { LlmEnvSchema, createLlmProvider } from '../config.js';
import { OfflineProvider } from '../offline/offline-provider.js';
import { PROMPTS, type PromptDefinition } from '../prompts/registry.js';
import { LlmOutputError, type GenerateOptions, type LlmCallRecord, type LlmProvider, type LlmResult } from '../provider.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { MemoryKvStore } from '@roadmap/messaging';
import { OwnerSemaphore } from './owner-semaphore.js';
import { LlmPipeline, type LlmPipelineOptions } from './pipeline.js';
import { RateLimiter } from './rate-limiter.js';
import { ResponseCache } from './response-cache.js';

const input = { goal: 'Become a backend engineer', preferences: { level: 'beginner' as const, hoursPerWeek: 8, language: 'en' } };
const offline = new OfflineProvider();

type Step = 'ok' | 'bad' | 'down' | 'refused';

/** A provider that answers like the offline one, or fails as scripted, and remembers what it was asked. */
class ScriptedProvider implements LlmProvider {
  readonly calls: GenerateOptions[] = [];
  constructor(
    readonly name: string,
    readonly model: string,
    private readonly script: Step[],
  ) {}
  async generate<I, O>(prompt: PromptDefinition<I, O>, input: I, options: GenerateOptions = {}): Promise<LlmResult<O>> {
    this.calls.push(options);
    const step = this.script.shift() ?? 'ok';
    if (step === 'down') throw new RetryableError('LLM_UNAVAILABLE', `${this.name} is down`, { status: 502 });
    if (step === 'refused') throw new AppError('LLM_REJECTED', 'HTTP 400', { status: 502 });
    if (step === 'bad') throw new LlmOutputError('not JSON', [{ field: '(root)', message: 'not valid JSON' }], '{"goal":', { inputTokens: 100, outputTokens: 3 });
    const result = await offline.generate(prompt, input, options);
    return { ...result, provider: this.name, model: this.model, usage: { inputTokens: 1000, outputTokens: 500 } };
  }
}

function pipeline(providers: LlmProvider[], overrides: Partial<LlmPipelineOptions> = {}) {
  const records: LlmCallRecord[] = [];
  const rate = new MemoryKvStore();
  const sut = new LlmPipeline({
    entries: providers.map((provider) => ({
      provider,
      breaker: new CircuitBreaker(provider.name, provider.model, { failures: 2, windowMs: 60_000, cooldownMs: 60_000 }),
      rpm: 0,
      tpm: 0,
      cacheable: true,
    })),
    rateLimiter: new RateLimiter(async () => rate, { windowMs: 60_000, maxWaitMs: 1_000 }),
    owners: new OwnerSemaphore(async () => new MemoryKvStore(), { limit: 0, leaseMs: 10_000, maxWaitMs: 1_000 }),
    maxRetries: 2,
    repairAttempts: 1,
    prices: { 'model-a': { input: 1, output: 2 } },
    streamThrottleMs: 0,
    observer: { record: (r) => void records.push(r) },
    retryBaseMs: 1,
    ...overrides,
  });
  return { sut, records };
}

describe(LlmPipeline.name, () => {
  it('repairs invalid output once, showing the model its answer and the validation error', async () => {
    const provider = new ScriptedProvider('p', 'model-a', ['bad', 'ok']);
    const { sut, records } = pipeline([provider], { maxRetries: 0 });
    const result = await sut.generate(PROMPTS.intent_analysis, input, { context: { taskId: 't1' } });
    assert.equal(result.attempts, 2);
    assert.equal(provider.calls[1]!.repair?.response, '{"goal":');
    assert.match(provider.calls[1]!.repair!.error, /not valid JSON/);
    assert.deepEqual(
      records.map((r) => [r.attempt, r.outcome, r.errorCode]),
      [
        [1, 'error', 'LLM_BAD_OUTPUT'],
        [2, 'repaired', undefined],
      ],
    );
    assert.equal(records[0]!.response, '{"goal":');
    assert.equal(records[0]!.context.taskId, 't1');
    // Cost of both attempts: (100 + 3 × 2) / 1e6 and (1000 + 500 × 2) / 1e6.
    assert.ok(Math.abs(result.costUsd! - (106 + 2000) / 1e6) < 1e-12, String(result.costUsd));
  });

  it('fails with LLM_BAD_OUTPUT when the repair is invalid too (repairs do not use transport retries)', async () => {
    const provider = new ScriptedProvider('p', 'model-a', ['bad', 'bad', 'ok']);
    const { sut, records } = pipeline([provider], { maxRetries: 5 });
    await assert.rejects(sut.generate(PROMPTS.intent_analysis, input), (error: unknown) => {
      assert.ok(error instanceof AppError && error.code === 'LLM_BAD_OUTPUT' && !error.retryable);
      assert.match(error.message, /after 1 repair attempt/);
      return true;
    });
    assert.equal(provider.calls.length, 2);
    assert.equal(records.length, 2);
  });

  it('retries transient failures up to LLM_MAX_RETRIES, then gives the retryable error', async () => {
    const flaky = new ScriptedProvider('p', 'model-a', ['down', 'ok']);
    const ok = await pipeline([flaky], { maxRetries: 1 }).sut.generate(PROMPTS.intent_analysis, input);
    assert.equal(ok.attempts, 2);
    const down = new ScriptedProvider('p', 'model-b', ['down', 'down', 'down']);
    await assert.rejects(pipeline([down], { maxRetries: 1 }).sut.generate(PROMPTS.intent_analysis, input), /is down/);
    assert.equal(down.calls.length, 2);
  });

  it('does not retry a permanent refusal', async () => {
    const provider = new ScriptedProvider('p', 'model-a', ['refused']);
    await assert.rejects(pipeline([provider]).sut.generate(PROMPTS.intent_analysis, input), /HTTP 400/);
    assert.equal(provider.calls.length, 1);
  });

  it('fails over to the next provider once the first one’s circuit opens, and refuses when every circuit is open', async () => {
    const first = new ScriptedProvider('first', 'model-a', ['down', 'down', 'down', 'down']);
    const second = new ScriptedProvider('second', 'model-b', []);
    const { sut, records } = pipeline([first, second], { maxRetries: 2 });
    const result = await sut.generate(PROMPTS.intent_analysis, input);
    assert.equal(result.provider, 'second');
    assert.deepEqual(records.map((r) => `${r.provider}:${r.outcome}`), ['first:error', 'first:error', 'second:ok']);
    // The circuit stays open: the next call goes straight to the second provider.
    await sut.generate(PROMPTS.intent_analysis, { ...input, goal: 'Learn Go' });
    assert.equal(first.calls.length, 2);

    const lonely = new ScriptedProvider('only', 'model-c', ['down', 'down', 'down']);
    const single = pipeline([lonely], { maxRetries: 3 }).sut;
    await assert.rejects(single.generate(PROMPTS.intent_analysis, input), (error: unknown) => error instanceof AppError && error.code === 'LLM_CIRCUIT_OPEN' && error.retryable);
  });

  it('answers a repeated request from the cache (recorded as cached, no tokens), but not a fresh one', async () => {
    const provider = new ScriptedProvider('p', 'model-a', []);
    const cache = new MemoryKvStore();
    const { sut, records } = pipeline([provider], { cache: new ResponseCache(async () => cache) });
    const first = await sut.generate(PROMPTS.intent_analysis, input);
    const second = await sut.generate(PROMPTS.intent_analysis, input);
    assert.equal(provider.calls.length, 1);
    assert.equal(second.cached, true);
    assert.equal(second.attempts, 0);
    assert.deepEqual(second.usage, { inputTokens: 0, outputTokens: 0 });
    assert.deepEqual(second.output, first.output);
    const fresh = await sut.generate(PROMPTS.intent_analysis, input, { context: { fresh: true } });
    assert.notEqual(fresh.cached, true);
    assert.equal(provider.calls.length, 2);
    assert.deepEqual(records.map((r) => r.outcome), ['ok', 'cached', 'ok']);
  });

  it('stops before the provider when the observer refuses the budget', async () => {
    const provider = new ScriptedProvider('p', 'model-a', []);
    const { sut } = pipeline([provider], {
      observer: {
        admit: async () => {
          throw new AppError('LLM_BUDGET_EXHAUSTED', 'roadmap budget spent', { status: 429 });
        },
        record: () => undefined,
      },
    });
    await assert.rejects(sut.generate(PROMPTS.intent_analysis, input), /roadmap budget spent/);
    assert.equal(provider.calls.length, 0);
  });

  it('falls back to a cheaper configured model when the observer refuses the budget for the first', async () => {
    const expensive = new ScriptedProvider('p', 'big-model', []);
    const cheap = new ScriptedProvider('p', 'small-model', []);
    const { sut, records } = pipeline([expensive, cheap], {
      observer: {
        admit: async (_context, call) => {
          if (call.model === 'big-model') throw new AppError('LLM_BUDGET_EXHAUSTED', 'owner budget spent for big-model', { status: 429 });
        },
        record: (r) => void records.push(r),
      },
    });
    const result = await sut.generate(PROMPTS.intent_analysis, input);
    assert.equal(result.model, 'small-model');
    assert.equal(expensive.calls.length, 0);
    assert.deepEqual(records.map((r) => `${r.model}:${r.outcome}`), ['small-model:ok']);
  });

  it('is CANCELLED when the signal aborts during a retry’s backoff', async () => {
    const provider = new ScriptedProvider('p', 'model-a', ['down', 'ok']);
    const { sut } = pipeline([provider], { retryBaseMs: 10_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    await assert.rejects(sut.generate(PROMPTS.intent_analysis, input, { signal: controller.signal }), (error: unknown) => error instanceof AppError && error.code === 'CANCELLED');
  });
});

describe('the offline provider through the pipeline', () => {
  it('streams partial output that grows, then the validated result', async () => {
    const llm = createLlmProvider(loadConfig(LlmEnvSchema, { OFFLINE_LLM_LATENCY_MS: '80', LLM_STREAM_THROTTLE_MS: '0' }));
    const partials: string[] = [];
    const result = await llm.generate(PROMPTS.intent_analysis, input, { onPartial: (p) => partials.push(p.text) });
    assert.ok(partials.length >= 4, `${partials.length} partials`);
    for (let i = 1; i < partials.length; i++) assert.ok(partials[i]!.startsWith(partials[i - 1]!) && partials[i]!.length > partials[i - 1]!.length);
    assert.deepEqual(JSON.parse(partials.at(-1)!), result.output);
    assert.ok(result.usage.outputTokens > 0 && result.usage.inputTokens > 0);
  });

  it('simulates failures deterministically by seed; retries and repairs still deliver every result', async () => {
    const run = async () => {
      const records: LlmCallRecord[] = [];
      const llm = createLlmProvider(
        loadConfig(LlmEnvSchema, { OFFLINE_LLM_FAILURE_RATE: '0.3', OFFLINE_LLM_FAILURE_SEED: '3', LLM_MAX_RETRIES: '3', LLM_REPAIR_ATTEMPTS: '2', LLM_BREAKER_FAILURES: '0' }),
        undefined,
        { observer: { record: (r) => void records.push(r) } },
      );
      (llm as unknown as { retryBaseMs: number }).retryBaseMs = 1;
      for (let i = 0; i < 24; i++) await llm.generate(PROMPTS.intent_analysis, { ...input, goal: `Learn topic number ${i}` });
      return records.map((r) => `${r.outcome}:${r.errorCode ?? ''}`);
    };
    const first = await run();
    assert.deepEqual(await run(), first, 'the same seed fails the same way');
    assert.ok(first.includes('error:LLM_UNAVAILABLE'), first.join());
    assert.ok(first.includes('error:LLM_BAD_OUTPUT'), first.join());
    assert.ok(first.includes('repaired:'), first.join());
  });
});
