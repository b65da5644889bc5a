import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { AppError, PermanentError, RetryableError, loadConfig } from '@roadmap/contracts';
import { startFakeOpenAi, type FakeOpenAi } from '@roadmap/testing';
import { LlmEnvSchema, LlmOutputError, OfflineProvider, OpenAiProvider, PROMPTS, createLlmProvider, type OpenAiProviderOptions } from '@roadmap/llm';

const API_KEY = 'sk-test-0123456789abcdef';
const input = { goal: 'Become a backend engineer', preferences: { level: 'beginner' as const, hoursPerWeek: 8, language: 'en' } };

/** Asserts an AppError of the given class and code, returning it for further checks. */
async function rejection<T extends AppError>(promise: Promise<unknown>, type: new (...args: never[]) => T, code: string): Promise<T> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.ok(!error.message.includes(API_KEY), 'the API key never appears in an error message');
    return error;
  }
  assert.fail(`expected ${code}, but the call succeeded`);
}

describe('OpenAiProvider against the fake OpenAI server', () => {
  let fake: FakeOpenAi;
  const provider = (options: Partial<OpenAiProviderOptions> = {}) =>
    new OpenAiProvider({ baseURL: fake.url, apiKey: API_KEY, model: 'gpt-test', maxRetries: 0, timeoutMs: 5_000, ...options });

  before(async () => {
    fake = await startFakeOpenAi({ apiKey: API_KEY });
  });
  after(async () => {
    await fake.close();
  });
  beforeEach(() => fake.reset());

  it('returns validated output and sends a strict json_schema response format, the key and the model', async () => {
    const result = await provider().generate(PROMPTS.intent_analysis, input);
    // The fake answers like the offline provider, so the output is exactly what it would give.
    const offline = await new OfflineProvider().generate(PROMPTS.intent_analysis, input);
    assert.deepEqual(result.output, offline.output);
    assert.equal(result.provider, 'openai');
    assert.equal(result.model, 'gpt-test');
    assert.equal(result.promptVersion, 'intent_analysis@1');
    assert.ok(result.latencyMs >= 0);

    assert.equal(fake.completionRequests.length, 1);
    const [request] = fake.completionRequests;
    assert.equal(request!.headers.authorization, `Bearer ${API_KEY}`);
    assert.equal(request!.body.model, 'gpt-test');
    const format = request!.body.response_format;
    assert.equal(format.type, 'json_schema');
    assert.equal(format.json_schema.name, 'intent_analysis');
    assert.equal(format.json_schema.strict, true);
    assert.equal(format.json_schema.schema.additionalProperties, false);
    assert.deepEqual(format.json_schema.schema.required, Object.keys(format.json_schema.schema.properties));
    assert.deepEqual(
      request!.body.messages.map((m: { role: string }) => m.role),
      ['system', 'user'],
    );

    // Usage is the response's, not an estimate: the fake counts ceil(chars / 4) of all messages.
    const chars = request!.body.messages.reduce((n: number, m: { content: string }) => n + m.content.length, 0);
    assert.equal(result.usage.inputTokens, Math.ceil(chars / 4));
    assert.equal(result.usage.outputTokens, Math.ceil(JSON.stringify(result.output).length / 4));
  });

  it('runs the whole chain of prompts through the fake', async () => {
    const llm = provider();
    const intent = (await llm.generate(PROMPTS.intent_analysis, input)).output;
    const framework = (await llm.generate(PROMPTS.curriculum_design, { intent })).output;
    const report = (await llm.generate(PROMPTS.validation, { intent, framework })).output;
    assert.equal(report.valid, true);
    const stage = framework.stages[0]!;
    const quiz = (await llm.generate(PROMPTS.quiz, { roadmapTitle: framework.title, intent, stage, concept: stage.concepts[0]! })).output;
    assert.ok(quiz.questions.length >= 3);
    assert.deepEqual(
      fake.completionRequests.map((r) => r.body.response_format.json_schema.name),
      ['intent_analysis', 'curriculum_design', 'validation', 'quiz'],
    );
  });

  it('maps 429 to LLM_RATE_LIMITED with the server’s Retry-After', async () => {
    fake.fail({ status: 429, retryAfterSeconds: 7 });
    const error = await rejection(provider().generate(PROMPTS.intent_analysis, input), RetryableError, 'LLM_RATE_LIMITED');
    assert.equal(error.retryAfterMs, 7_000);
    assert.equal(error.retryable, true);
    assert.equal(fake.completionRequests.length, 1);
  });

  it('prefers retry-after-ms when the server sends it', async () => {
    fake.fail({ status: 429, retryAfterMs: 1_500, retryAfterSeconds: 9 });
    const error = await rejection(provider().generate(PROMPTS.intent_analysis, input), RetryableError, 'LLM_RATE_LIMITED');
    assert.equal(error.retryAfterMs, 1_500);
  });

  it('retries a 429 after Retry-After and succeeds when retries are allowed', async () => {
    fake.fail({ status: 429, retryAfterSeconds: 0.1 });
    const started = performance.now();
    const result = await provider({ maxRetries: 1 }).generate(PROMPTS.intent_analysis, input);
    assert.equal(result.output.goal, input.goal);
    assert.equal(fake.completionRequests.length, 2, 'one refused call, one retry');
    assert.ok(performance.now() - started >= 90, 'the SDK waited as Retry-After said');
  });

  it('maps 500 to LLM_UNAVAILABLE', async () => {
    fake.fail({ status: 500 });
    const error = await rejection(provider().generate(PROMPTS.intent_analysis, input), RetryableError, 'LLM_UNAVAILABLE');
    assert.equal(error.retryable, true);
  });

  it('maps an unreachable endpoint to LLM_UNAVAILABLE', async () => {
    const closed = await startFakeOpenAi();
    const url = closed.url;
    await closed.close();
    await rejection(new OpenAiProvider({ baseURL: url, apiKey: API_KEY, model: 'm', maxRetries: 0 }).generate(PROMPTS.intent_analysis, input), RetryableError, 'LLM_UNAVAILABLE');
  });

  it('maps 400 to LLM_REJECTED and does not retry it', async () => {
    fake.fail({ status: 400, message: 'Invalid schema for response_format' });
    const error = await rejection(provider({ maxRetries: 2 }).generate(PROMPTS.intent_analysis, input), PermanentError, 'LLM_REJECTED');
    assert.equal(error.retryable, false);
    assert.match(error.message, /HTTP 400.*Invalid schema for response_format/);
    assert.equal(fake.completionRequests.length, 1, 'the fake saw exactly one request');
  });

  it('maps a wrong API key (401) to LLM_REJECTED without showing the key', async () => {
    const error = await rejection(provider({ apiKey: 'sk-wrong-key' }).generate(PROMPTS.intent_analysis, input), PermanentError, 'LLM_REJECTED');
    assert.match(error.message, /HTTP 401/);
    assert.ok(!error.message.includes('sk-wrong-key'));
  });

  it('maps a body that is not JSON to LLM_BAD_OUTPUT', async () => {
    fake.fail({ content: 'Sure! Here is your roadmap: …' });
    const error = await rejection(provider().generate(PROMPTS.intent_analysis, input), PermanentError, 'LLM_BAD_OUTPUT');
    assert.match(error.details[0]!.message, /not valid JSON/);
  });

  it('maps an HTTP response body that is not JSON to LLM_BAD_OUTPUT', async () => {
    fake.fail({ body: 'not json' });
    await rejection(provider().generate(PROMPTS.intent_analysis, input), PermanentError, 'LLM_BAD_OUTPUT');
  });

  it('maps a response without choices to LLM_BAD_OUTPUT', async () => {
    fake.fail({ body: '{"id":"x","choices":"nope"}' });
    await rejection(provider().generate(PROMPTS.intent_analysis, input), PermanentError, 'LLM_BAD_OUTPUT');
  });

  it('redacts a key that the server echoes back in an error', async () => {
    fake.fail({ status: 400, message: `Key ${API_KEY} is not allowed to use this model` });
    const error = await rejection(provider().generate(PROMPTS.intent_analysis, input), PermanentError, 'LLM_REJECTED');
    assert.match(error.message, /Key \[redacted\] is not allowed/);
  });

  it('maps truncated output (finish_reason length) to LLM_BAD_OUTPUT', async () => {
    fake.fail({ content: '{"truncated":', finishReason: 'length' });
    const error = await rejection(provider().generate(PROMPTS.intent_analysis, input), PermanentError, 'LLM_BAD_OUTPUT');
    assert.match(error.message, /truncated \(finish_reason "length"\)/);
    // Complete, valid JSON is still refused when the model says it stopped at the token limit.
    const valid = await new OfflineProvider().generate(PROMPTS.intent_analysis, input);
    fake.fail({ content: JSON.stringify(valid.output), finishReason: 'length' });
    await rejection(provider().generate(PROMPTS.intent_analysis, input), PermanentError, 'LLM_BAD_OUTPUT');
  });

  it('maps JSON that fails the schema to LLM_BAD_OUTPUT naming the fields', async () => {
    fake.fail({ content: JSON.stringify({ goal: 'x', domain: 'd', targetRole: 'r', level: 'expert', hoursPerWeek: 8, durationWeeks: 4, focusAreas: [], constraints: [] }) });
    const error = await rejection(provider().generate(PROMPTS.intent_analysis, input), PermanentError, 'LLM_BAD_OUTPUT');
    const fields = error.details.map((d) => d.field);
    assert.ok(fields.includes('level'), fields.join());
    assert.ok(fields.includes('focusAreas'), fields.join());
  });

  it('maps a hang longer than timeoutMs to LLM_TIMEOUT', async () => {
    fake.fail({ hangMs: 3_000 });
    const started = performance.now();
    await rejection(provider({ timeoutMs: 200 }).generate(PROMPTS.intent_analysis, input), RetryableError, 'LLM_TIMEOUT');
    assert.ok(performance.now() - started < 2_000);
  });

  it('is CANCELLED quickly when the caller aborts', async () => {
    fake.fail({ hangMs: 5_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = performance.now();
    const error = await rejection(provider().generate(PROMPTS.intent_analysis, input, { signal: controller.signal }), AppError, 'CANCELLED');
    assert.equal(error.retryable, false);
    assert.ok(performance.now() - started < 1_000, 'cancelled promptly');
  });

  it('streams when asked: every chunk reaches onPartial, usage comes from the final chunk', async () => {
    const partials: string[] = [];
    const result = await provider().generate(PROMPTS.intent_analysis, input, { onPartial: (p) => partials.push(p.text) });
    const request = fake.completionRequests[0]!.body;
    assert.equal(request.stream, true);
    assert.deepEqual(request.stream_options, { include_usage: true });
    const text = JSON.stringify(result.output);
    assert.equal(partials.length, Math.ceil(text.length / 64), 'one callback per 64-character chunk');
    assert.equal(partials.at(-1), text);
    assert.equal(result.rawText, text);
    const chars = request.messages.reduce((n: number, m: { content: string }) => n + m.content.length, 0);
    assert.deepEqual(result.usage, { inputTokens: Math.ceil(chars / 4), outputTokens: Math.ceil(text.length / 4) });
  });

  it('maps a streamed answer cut at the token limit to LLM_BAD_OUTPUT carrying the text for a repair', async () => {
    fake.fail({ content: '{"goal":"Become a back', finishReason: 'length' });
    const error = await rejection(provider().generate(PROMPTS.intent_analysis, input, { onPartial: () => undefined }), LlmOutputError, 'LLM_BAD_OUTPUT');
    assert.equal(error.response, '{"goal":"Become a back');
    assert.ok(error.usage && error.usage.outputTokens > 0);
  });

  it('sends a repair prompt: the refused answer as the assistant’s, then the validation error', async () => {
    await provider().generate(PROMPTS.intent_analysis, input, { repair: { response: '{"goal":', error: 'not valid JSON: Unexpected end' } });
    const messages = fake.completionRequests[0]!.body.messages;
    assert.deepEqual(messages.map((m: { role: string }) => m.role), ['system', 'user', 'assistant', 'user']);
    assert.equal(messages[2].content, '{"goal":');
    assert.match(messages[3].content, /refused by the validator:\n\nnot valid JSON: Unexpected end/);
  });

  it('is built by createLlmProvider from configuration and measured', async () => {
    const llm = createLlmProvider(
      loadConfig(LlmEnvSchema, { LLM_PROVIDER: 'openai', LLM_BASE_URL: fake.url, LLM_API_KEY: API_KEY, LLM_MODEL: 'gpt-config', LLM_TIMEOUT_MS: '5000', LLM_MAX_RETRIES: '0' }),
    );
    const result = await llm.generate(PROMPTS.intent_analysis, input);
    assert.equal(result.model, 'gpt-config');
    assert.equal(fake.completionRequests[0]!.body.model, 'gpt-config');
  });
});
