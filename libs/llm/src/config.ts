import { z } from 'zod';
import { ConfigError, env, RetryableError } from '@roadmap/contracts';
import {
  cacheBucketAgeMs,
  LLM_BUCKET_NAMES as LLM_BUCKETS,
  MemoryKvStore,
  openBucket,
  OWNERS_BUCKET_AGE_MS,
  rateBucketAgeMs,
  type BucketOptions,
  type KvNatsHandle as LlmNatsHandle,
  type KvStore,
} from '@roadmap/messaging';
import type { Logger } from '@roadmap/observability';
import { withMetrics } from './measured-provider.js';
import { OfflineProvider } from './offline/offline-provider.js';
import { OpenAiProvider } from './openai-provider.js';
import { CircuitBreaker } from './pipeline/circuit-breaker.js';
import { fallbackApiKey, parseFallbacks } from './pipeline/fallbacks.js';
import { OwnerSemaphore } from './pipeline/owner-semaphore.js';
import { LlmPipeline, type PipelineEntry } from './pipeline/pipeline.js';
import { parsePrices } from './pipeline/prices.js';
import { RateLimiter } from './pipeline/rate-limiter.js';
import { CACHE_MAX_VALUE_BYTES, ResponseCache } from './pipeline/response-cache.js';
import type { LlmCallObserver, LlmProvider } from './provider.js';

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
  /** Retries of rate limits, 5xx, timeouts and connection errors per call (by the pipeline, each through the rate limiter). */
  LLM_MAX_RETRIES: env.int(2, 0, 10),
  /** Simulated latency of the offline provider, for benchmarks. */
  OFFLINE_LLM_LATENCY_MS: env.int(0, 0, 600_000),
  /** Share of offline calls (0–1) that fail on purpose (outage or truncated output), deterministic by seed. */
  OFFLINE_LLM_FAILURE_RATE: env.number(0, 0, 1),
  OFFLINE_LLM_FAILURE_SEED: env.int(1, 0, 2 ** 31),
  /** Ordered fallback providers: `openai:gpt-4o@https://host/v1,offline:x` or a JSON array (see parseFallbacks). */
  LLM_FALLBACKS: env.optionalString().superRefine(parsesWith(parseFallbacks)),
  /** Requests per rate window per provider+model, shared by every replica; 0: unlimited. */
  LLM_RPM: env.int(0, 0, 100_000_000),
  /** Tokens (in + out) per rate window per provider+model, shared by every replica; 0: unlimited. */
  LLM_TPM: env.int(0, 0, 1_000_000_000_000),
  /** Length of the rate window: a minute; tests shorten it. */
  LLM_RATE_WINDOW_MS: env.int(60_000, 100, 3_600_000),
  /** Longest a call waits for rate budget before failing with LLM_RATE_LIMITED (retried later by the job). */
  LLM_RATE_WAIT_MAX_MS: env.int(120_000, 0, 3_600_000),
  /**
   * LLM calls in flight per owner across every replica; 0: no limit. The default is half the content
   * slots of the default deployment (2 pods x 16): a lone user gets half the capacity, and one user's
   * backlog always leaves the other half to everyone else. Scale it with the deployment.
   */
  LLM_OWNER_CONCURRENCY: env.int(16, 0, 100_000),
  /** A process that dies frees its owner slots after this long (leases are renewed every third of it). */
  LLM_OWNER_LEASE_MS: env.int(30_000, 1_000, 600_000),
  /** Longest a call waits for an owner slot before failing with LLM_RATE_LIMITED. */
  LLM_OWNER_WAIT_MAX_MS: env.int(300_000, 0, 3_600_000),
  /** Lifetime of cached responses (shared KV bucket); 0 turns the cache off. */
  LLM_CACHE_TTL_SECONDS: env.int(86_400, 0, 31_536_000),
  /** Repair prompts per call after invalid or truncated output (separate from LLM_MAX_RETRIES). */
  LLM_REPAIR_ATTEMPTS: env.int(1, 0, 5),
  /** USD per million tokens: `{"gpt-4o-mini":{"input":0.15,"output":0.6}}`; keys `model` or `provider:model`. */
  LLM_PRICES: env.optionalString().superRefine(parsesWith(parsePrices)),
  /** Retryable failures within LLM_BREAKER_WINDOW_MS that open a provider's circuit; 0: no breaker. */
  LLM_BREAKER_FAILURES: env.int(5, 0, 10_000),
  LLM_BREAKER_WINDOW_MS: env.int(60_000, 100, 3_600_000),
  /** How long an open circuit sends calls to the next provider before probing again. */
  LLM_BREAKER_COOLDOWN_MS: env.int(30_000, 100, 3_600_000),
  /** Least time between two partial-output callbacks of a streamed call. */
  LLM_STREAM_THROTTLE_MS: env.int(250, 0, 60_000),
});
export type LlmConfig = z.infer<typeof LlmEnvSchema>;

/** A zod check that runs `parse` and reports its error message as the variable's problem. */
function parsesWith(parse: (text: string) => unknown) {
  return (value: string | undefined, ctx: z.RefinementCtx): void => {
    if (value === undefined) return;
    try {
      parse(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
    }
  };
}

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

/**
 * Throws a ConfigError naming LLM_API_KEY when the openai provider has no key, and the key variable
 * of an openai fallback that has none.
 */
export function validateLlmConfig(config: LlmConfig, source: NodeJS.ProcessEnv = process.env): void {
  const problems: string[] = [];
  if (config.LLM_PROVIDER === 'openai' && !config.LLM_API_KEY) problems.push(`LLM_API_KEY (unset): ${MISSING_KEY}`);
  parseFallbacks(config.LLM_FALLBACKS).forEach((entry, i) => {
    if (entry.provider === 'openai' && !fallbackApiKey(entry, i + 1, source, config.LLM_API_KEY)) {
      problems.push(`${entry.apiKeyEnv ?? `LLM_FALLBACK_${i + 1}_API_KEY`} (unset): required for LLM_FALLBACKS entry ${i + 1} (openai), or set LLM_API_KEY`);
    }
  });
  if (problems.length > 0) throw new ConfigError(problems);
}

/** What the LLM layer gets from its host process. */
export interface LlmDependencies {
  /**
   * The process's NATS connection and namespace (the Messaging provider): rate limits, owner slots
   * and the response cache are then shared by every replica through JetStream KV. Without it they
   * hold per process only (tests, scripts).
   */
  readonly nats?: LlmNatsHandle;
  /** Budgets and call records (provided by the services, PostgreSQL-backed). */
  readonly observer?: LlmCallObserver;
  /** Where fallback API keys are read (`LLM_FALLBACK_<n>_API_KEY`); process.env by default. */
  readonly env?: NodeJS.ProcessEnv;
}


/**
 * The LLM layer as configured: the pipeline (cache, shared rate limits, owner concurrency, budgets,
 * repair, retries, failover, streaming, call records) around the configured provider and its
 * fallbacks, each wrapped by withMetrics. Logs which providers it uses (never a key).
 */
export function createLlmProvider(config: LlmConfig, logger?: Logger, deps: LlmDependencies = {}): LlmPipeline {
  const source = deps.env ?? process.env;
  validateLlmConfig(config, source);
  const breakerOptions = { failures: config.LLM_BREAKER_FAILURES, windowMs: config.LLM_BREAKER_WINDOW_MS, cooldownMs: config.LLM_BREAKER_COOLDOWN_MS };
  const entry = (provider: LlmProvider, limits: { rpm?: number; tpm?: number } = {}): PipelineEntry => ({
    provider: withMetrics(provider, logger),
    breaker: new CircuitBreaker(provider.name, provider.model, breakerOptions, logger),
    rpm: limits.rpm ?? config.LLM_RPM,
    tpm: limits.tpm ?? config.LLM_TPM,
    cacheable: provider.name !== 'offline',
  });

  const entries: PipelineEntry[] = [];
  if (config.LLM_PROVIDER === 'openai') {
    entries.push(entry(openAi(config, config.LLM_BASE_URL, config.LLM_API_KEY as string, config.LLM_MODEL, logger)));
    logger?.info(
      { provider: 'openai', model: config.LLM_MODEL, baseUrl: new URL(config.LLM_BASE_URL).origin, timeoutMs: config.LLM_TIMEOUT_MS, maxRetries: config.LLM_MAX_RETRIES },
      'LLM provider: OpenAI-compatible endpoint',
    );
  } else {
    entries.push(entry(offline(config)));
    logger?.info(
      { provider: 'offline', model: 'offline-deterministic-1', latencyMs: config.OFFLINE_LLM_LATENCY_MS, failureRate: config.OFFLINE_LLM_FAILURE_RATE },
      'LLM provider: offline — a deterministic stand-in built from templates, not a model; set LLM_PROVIDER=openai for real generation',
    );
  }
  parseFallbacks(config.LLM_FALLBACKS).forEach((fallback, i) => {
    const provider =
      fallback.provider === 'openai'
        ? openAi(config, fallback.baseUrl ?? config.LLM_BASE_URL, fallbackApiKey(fallback, i + 1, source, config.LLM_API_KEY) as string, fallback.model, logger)
        : offline(config);
    entries.push(entry(provider, fallback));
    logger?.info(
      { provider: fallback.provider, model: fallback.model, ...(fallback.baseUrl && { baseUrl: new URL(fallback.baseUrl).origin }), order: i + 1 },
      'LLM fallback provider',
    );
  });

  const nats = deps.nats;
  const store = (logical: string, options: BucketOptions, memory: () => MemoryKvStore) => {
    if (!nats) {
      const local = memory();
      return async () => local;
    }
    let opening: Promise<KvStore> | undefined;
    return () => {
      opening ??= openBucket(nats, logical, { ...options, warn: (message) => logger?.warn({ bucket: logical }, message) }).catch((error: unknown) => {
        opening = undefined; // try again on the next call
        throw new RetryableError('LLM_UNAVAILABLE', `Cannot open the LLM layer's JetStream KV bucket ${logical}: ${String(error)}`, { status: 503, cause: error });
      });
      return opening;
    };
  };
  // The ages provisioning gives the buckets for the same settings (libs/messaging kv-buckets.ts).
  const rateAgeMs = rateBucketAgeMs(config.LLM_RATE_WINDOW_MS);
  const cacheTtlMs = config.LLM_CACHE_TTL_SECONDS * 1000;
  if (!nats) logger?.debug('LLM rate limits, owner slots and cache are per process (no NATS connection given)');

  return new LlmPipeline({
    entries,
    rateLimiter: new RateLimiter(
      store(LLM_BUCKETS.rate, { maxAgeMs: rateAgeMs }, () => new MemoryKvStore(rateAgeMs)),
      { windowMs: config.LLM_RATE_WINDOW_MS, maxWaitMs: config.LLM_RATE_WAIT_MAX_MS },
    ),
    owners: new OwnerSemaphore(store(LLM_BUCKETS.owners, { maxAgeMs: OWNERS_BUCKET_AGE_MS }, () => new MemoryKvStore(OWNERS_BUCKET_AGE_MS)), {
      limit: config.LLM_OWNER_CONCURRENCY,
      leaseMs: config.LLM_OWNER_LEASE_MS,
      maxWaitMs: config.LLM_OWNER_WAIT_MAX_MS,
      logger,
    }),
    cache:
      cacheTtlMs > 0
        ? new ResponseCache(store(LLM_BUCKETS.cache, { maxAgeMs: cacheBucketAgeMs(config.LLM_CACHE_TTL_SECONDS), maxValueBytes: CACHE_MAX_VALUE_BYTES }, () => new MemoryKvStore(cacheTtlMs)), logger)
        : undefined,
    maxRetries: config.LLM_MAX_RETRIES,
    repairAttempts: config.LLM_REPAIR_ATTEMPTS,
    prices: parsePrices(config.LLM_PRICES),
    streamThrottleMs: config.LLM_STREAM_THROTTLE_MS,
    observer: deps.observer,
    logger,
  });
}

/** An OpenAI-compatible provider; its SDK does not retry (the pipeline does, through the rate limiter). */
function openAi(config: LlmConfig, baseURL: string, apiKey: string, model: string, logger?: Logger): OpenAiProvider {
  return new OpenAiProvider({ baseURL, apiKey, model, timeoutMs: config.LLM_TIMEOUT_MS, maxRetries: 0, logger });
}

function offline(config: LlmConfig): OfflineProvider {
  return new OfflineProvider({
    latencyMs: config.OFFLINE_LLM_LATENCY_MS,
    failureRate: config.OFFLINE_LLM_FAILURE_RATE,
    failureSeed: config.OFFLINE_LLM_FAILURE_SEED,
  });
}
