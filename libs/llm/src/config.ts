import { z } from 'zod';
import { ConfigError, env } from '@roadmap/contracts';
import type { Logger } from '@roadmap/observability';
import { withMetrics } from './measured-provider.js';
import { OfflineProvider } from './offline/offline-provider.js';
import { OpenAiProvider } from './openai-provider.js';
import type { LlmProvider } from './provider.js';

/**
 * LLM settings, as environment variables. A plain object schema so services can merge it into theirs
 * (`CommonEnvSchema.extend(LlmEnvSchema.shape)`); the cross-field rule (an API key when the provider
 * is openai) is `refineLlmEnv` / `validateLlmConfig`, because zod refuses to extend refined objects.
 */
export const LlmEnvSchema = z.object({
  /** `offline`: the deterministic stand-in, no network. `openai`: any OpenAI-compatible endpoint. */
  LLM_PROVIDER: env.oneOf(['offline', 'openai'] as const, 'offline'),
  LLM_BASE_URL: env.url('https://api.openai.com/v1', ['http', 'https']),
  LLM_API_KEY: env.optionalString(),
  LLM_MODEL: env.string('gpt-4o-mini'),
  /** Per attempt, in ms. */
  LLM_TIMEOUT_MS: env.int(120_000, 1, 3_600_000),
  /** SDK retries of rate limits, 5xx and connection errors. */
  LLM_MAX_RETRIES: env.int(2, 0, 10),
  /** Simulated latency of the offline provider, for benchmarks. */
  OFFLINE_LLM_LATENCY_MS: env.int(0, 0, 600_000),
});
export type LlmConfig = z.infer<typeof LlmEnvSchema>;

const MISSING_KEY = 'required when LLM_PROVIDER is openai';

/**
 * The cross-field rule as a zod refinement, for a service schema that wants it checked at load time:
 * `loadConfig(MyEnvSchema.superRefine(refineLlmEnv))` reports `LLM_API_KEY (unset): required when…`.
 */
export function refineLlmEnv(config: Pick<LlmConfig, 'LLM_PROVIDER' | 'LLM_API_KEY'>, ctx: z.RefinementCtx): void {
  if (config.LLM_PROVIDER === 'openai' && !config.LLM_API_KEY) {
    ctx.addIssue({ code: 'custom', path: ['LLM_API_KEY'], message: MISSING_KEY });
  }
}

/** Throws a ConfigError naming LLM_API_KEY when the openai provider has no key. */
export function validateLlmConfig(config: LlmConfig): void {
  if (config.LLM_PROVIDER === 'openai' && !config.LLM_API_KEY) throw new ConfigError([`LLM_API_KEY (unset): ${MISSING_KEY}`]);
}

/** The configured provider, wrapped so every call is measured. Logs which one it is (never the key). */
export function createLlmProvider(config: LlmConfig, logger?: Logger): LlmProvider {
  validateLlmConfig(config);
  if (config.LLM_PROVIDER === 'openai') {
    const provider = new OpenAiProvider({
      baseURL: config.LLM_BASE_URL,
      apiKey: config.LLM_API_KEY as string,
      model: config.LLM_MODEL,
      timeoutMs: config.LLM_TIMEOUT_MS,
      maxRetries: config.LLM_MAX_RETRIES,
      logger,
    });
    logger?.info(
      { provider: provider.name, model: provider.model, baseUrl: new URL(config.LLM_BASE_URL).origin, timeoutMs: config.LLM_TIMEOUT_MS, maxRetries: config.LLM_MAX_RETRIES },
      'LLM provider: OpenAI-compatible endpoint',
    );
    return withMetrics(provider, logger);
  }
  const provider = new OfflineProvider({ latencyMs: config.OFFLINE_LLM_LATENCY_MS });
  logger?.info(
    { provider: provider.name, model: provider.model, latencyMs: config.OFFLINE_LLM_LATENCY_MS },
    'LLM provider: offline — a deterministic stand-in built from templates, not a model; set LLM_PROVIDER=openai for real generation',
  );
  return withMetrics(provider, logger);
}
