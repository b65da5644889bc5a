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
export { validateOutput, estimateTokens } from './provider.js';
export type { LlmProvider, LlmResult, LlmUsage, GenerateOptions, LlmCallContext, LlmPartial, LlmCallRecord, LlmCallObserver } from './provider.js';
export { OfflineProvider, type OfflineProviderOptions } from './offline/offline-provider.js';
export { OpenAiProvider, type OpenAiProviderOptions } from './openai-provider.js';
export { strictJsonSchema, type JsonSchema } from './json-schema.js';
export { MeasuredLlmProvider, withMetrics } from './measured-provider.js';
export { LlmEnvSchema, refineLlmEnv, validateLlmConfig, createLlmProvider, type LlmConfig } from './config.js';
export { LlmModule, LLM_PROVIDER } from './llm.module.js';
