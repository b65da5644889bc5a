import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '@roadmap/contracts';
import { LlmEnvSchema, createLlmProvider, refineLlmEnv, validateLlmConfig } from './config.js';
import { MeasuredLlmProvider } from './measured-provider.js';
import { LlmPipeline } from './pipeline/pipeline.js';

describe('LLM configuration', () => {
  it('defaults to the offline provider', () => {
    const config = loadConfig(LlmEnvSchema, {});
    assert.equal(config.LLM_API_KEY, undefined);
    assert.deepEqual(
      { ...config },
      {
        LLM_PROVIDER: 'offline',
        LLM_BASE_URL: 'https://api.openai.com/v1',
        LLM_MODEL: 'gpt-4o-mini',
        LLM_TIMEOUT_MS: 120_000,
        LLM_MAX_RETRIES: 2,
        OFFLINE_LLM_LATENCY_MS: 0,
        OFFLINE_LLM_FAILURE_RATE: 0,
        OFFLINE_LLM_FAILURE_SEED: 1,
        LLM_RPM: 0,
        LLM_TPM: 0,
        LLM_RATE_WINDOW_MS: 60_000,
        LLM_RATE_WAIT_MAX_MS: 120_000,
        LLM_OWNER_CONCURRENCY: 16,
        LLM_OWNER_LEASE_MS: 30_000,
        LLM_OWNER_WAIT_MAX_MS: 300_000,
        LLM_CACHE_TTL_SECONDS: 86_400,
        LLM_REPAIR_ATTEMPTS: 1,
        LLM_BREAKER_FAILURES: 5,
        LLM_BREAKER_WINDOW_MS: 60_000,
        LLM_BREAKER_COOLDOWN_MS: 30_000,
        LLM_STREAM_THROTTLE_MS: 250,
      },
    );
    const provider = createLlmProvider(config);
    assert.ok(provider instanceof LlmPipeline, 'the LLM layer is the pipeline');
    assert.ok(provider.providers.every((p) => p instanceof MeasuredLlmProvider), 'providers are wrapped for metrics');
    assert.equal(provider.name, 'offline');
    assert.equal(provider.model, 'offline-deterministic-1');
  });

  it('builds fallbacks in order, each with its own key variable, and names a missing one', () => {
    const config = loadConfig(LlmEnvSchema, {
      LLM_PROVIDER: 'openai',
      LLM_API_KEY: 'sk-primary',
      LLM_FALLBACKS: 'openai:gpt-4o@https://eu.example.com/v1,offline:offline-deterministic-1',
    });
    const pipeline = createLlmProvider(config, undefined, { env: {} });
    assert.deepEqual(
      pipeline.providers.map((p) => `${p.name}/${p.model}`),
      ['openai/gpt-4o-mini', 'openai/gpt-4o', 'offline/offline-deterministic-1'],
    );
    const json = loadConfig(LlmEnvSchema, { LLM_FALLBACKS: '[{"provider":"openai","model":"m","apiKeyEnv":"EU_KEY"}]' });
    assert.throws(() => validateLlmConfig(json, {}), /EU_KEY \(unset\): required for LLM_FALLBACKS entry 1/);
    assert.doesNotThrow(() => validateLlmConfig(json, { EU_KEY: 'sk-eu' }));
    const numbered = loadConfig(LlmEnvSchema, { LLM_FALLBACKS: 'openai:m' });
    assert.throws(() => validateLlmConfig(numbered, {}), /LLM_FALLBACK_1_API_KEY/);
    assert.doesNotThrow(() => validateLlmConfig(numbered, { LLM_FALLBACK_1_API_KEY: 'sk-1' }));
  });

  it('rejects malformed LLM_FALLBACKS and LLM_PRICES at load time, naming the variable', () => {
    assert.throws(() => loadConfig(LlmEnvSchema, { LLM_FALLBACKS: 'anthropic:claude' }), /LLM_FALLBACKS.*provider must be openai or offline/s);
    assert.throws(() => loadConfig(LlmEnvSchema, { LLM_FALLBACKS: 'openai:m@ftp://x' }), /LLM_FALLBACKS.*baseUrl/s);
    assert.throws(() => loadConfig(LlmEnvSchema, { LLM_PRICES: '{"gpt-4o-mini":{"input":"cheap"}}' }), /LLM_PRICES.*gpt-4o-mini/s);
    assert.equal(loadConfig(LlmEnvSchema, { LLM_PRICES: '{"gpt-4o-mini":{"input":0.15,"output":0.6}}' }).LLM_PRICES, '{"gpt-4o-mini":{"input":0.15,"output":0.6}}');
  });

  it('reads the openai settings from the environment', () => {
    const config = loadConfig(LlmEnvSchema, {
      LLM_PROVIDER: 'openai',
      LLM_API_KEY: 'sk-test',
      LLM_MODEL: 'gpt-4.1',
      LLM_BASE_URL: 'http://127.0.0.1:9/v1',
      LLM_TIMEOUT_MS: '5000',
      LLM_MAX_RETRIES: '0',
    });
    const provider = createLlmProvider(config);
    assert.equal(provider.name, 'openai');
    assert.equal(provider.model, 'gpt-4.1');
  });

  it('names LLM_API_KEY when the openai provider has no key, without a stack of zod noise', () => {
    const config = loadConfig(LlmEnvSchema, { LLM_PROVIDER: 'openai' });
    assert.throws(() => validateLlmConfig(config), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /LLM_API_KEY \(unset\): required when LLM_PROVIDER is openai/);
      return true;
    });
    assert.throws(() => createLlmProvider(config), ConfigError);
  });

  it('offers the same rule as a refinement for a service schema checked at load time', () => {
    const schema = LlmEnvSchema.superRefine(refineLlmEnv);
    assert.throws(() => loadConfig(schema as never, { LLM_PROVIDER: 'openai' }), /LLM_API_KEY \(unset\): required when LLM_PROVIDER is openai/);
    assert.equal(loadConfig(schema as never, { LLM_PROVIDER: 'openai', LLM_API_KEY: 'k' })['LLM_API_KEY' as never], 'k');
  });

  it('never shows the key’s value in a config error', () => {
    assert.throws(
      () => loadConfig(LlmEnvSchema, { LLM_API_KEY: 'sk-secret-value', LLM_TIMEOUT_MS: 'soon' }),
      (error: unknown) => error instanceof ConfigError && /LLM_TIMEOUT_MS/.test(error.message) && !error.message.includes('sk-secret-value'),
    );
  });

  it('can be merged into a service schema', () => {
    const merged = LlmEnvSchema.extend({ PORT: LlmEnvSchema.shape.LLM_MAX_RETRIES });
    assert.equal(loadConfig(merged, { PORT: '3' }).PORT, 3);
  });
});
