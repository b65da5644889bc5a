import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '@roadmap/contracts';
import { LlmEnvSchema, createLlmProvider, refineLlmEnv, validateLlmConfig } from './config.js';
import { MeasuredLlmProvider } from './measured-provider.js';

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
      },
    );
    const provider = createLlmProvider(config);
    assert.ok(provider instanceof MeasuredLlmProvider, 'providers are wrapped for metrics');
    assert.equal(provider.name, 'offline');
    assert.equal(provider.model, 'offline-deterministic-1');
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
