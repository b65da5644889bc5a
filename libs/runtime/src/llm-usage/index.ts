export { LlmCallRecorder, LLM_USAGE_OPTIONS, truncateText } from './llm-call-recorder.js';
export { LlmUsageEnvSchema, llmUsageOptions, type LlmUsageConfig, type LlmUsageOptions } from './llm-usage.config.js';
export { LlmUsageModule } from './llm-usage.module.js';
