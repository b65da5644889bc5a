export { PROMPTS, contentPrompt, contentLanguage, isPromptName } from './prompts/registry.js';
export type {
  PromptName,
  PromptDefinition,
  PromptInputs,
  PromptOutputs,
  IntentAnalysisInput,
  CurriculumDesignInput,
  ValidationInput,
  EditInput,
  ContentInput,
} from './prompts/registry.js';
export { checkFramework, totalHours, MIN_CONCEPTS, STAGE_SIZE, HOURS_TOLERANCE } from './check-framework.js';
export { validateOutput, estimateTokens, LlmOutputError, repairInstruction } from './provider.js';
export type { LlmProvider, LlmResult, LlmUsage, GenerateOptions, LlmCallContext, LlmPartial, LlmCallRecord, LlmCallObserver, LlmRepair } from './provider.js';
export { OfflineProvider, type OfflineProviderOptions } from './offline/offline-provider.js';
export { OpenAiProvider, type OpenAiProviderOptions } from './openai-provider.js';
export { strictJsonSchema, type JsonSchema } from './json-schema.js';
export { MeasuredLlmProvider, withMetrics } from './measured-provider.js';
export { LlmEnvSchema, refineLlmEnv, validateLlmConfig, createLlmProvider, type LlmConfig, type LlmDependencies } from './config.js';
export { LlmModule, LLM_PROVIDER, LLM_CALL_OBSERVER, type LlmModuleOptions } from './llm.module.js';
export { LlmPipeline, type LlmPipelineOptions, type PipelineEntry } from './pipeline/pipeline.js';
export { RateLimiter, waitFor, type RateScope, type Reservation } from './pipeline/rate-limiter.js';
export { OwnerSemaphore } from './pipeline/owner-semaphore.js';
export { ResponseCache, cacheKey, CACHE_MAX_VALUE_BYTES, type CacheKeyParts } from './pipeline/response-cache.js';
export { CircuitBreaker, type BreakerState } from './pipeline/circuit-breaker.js';
export { parsePrices, costOf, type PriceTable, type Price } from './pipeline/prices.js';
export { parseFallbacks, type FallbackEntry } from './pipeline/fallbacks.js';
/** The buckets of the LLM layer, logical names (namespaced like streams: `T1ABC_LLM_RATE`); the KV store itself is @roadmap/messaging's. */
export { LLM_BUCKET_NAMES as LLM_BUCKETS, type KvNatsHandle as LlmNatsHandle } from '@roadmap/messaging';
