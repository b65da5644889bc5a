import { CommonEnvSchema, env, loadConfig } from '@roadmap/contracts';
import { LlmEnvSchema, refineLlmEnv } from '@roadmap/llm';

export const ContentWorkerEnvSchema = CommonEnvSchema.extend(LlmEnvSchema.shape).extend({
  /** Health and metrics port. */
  PORT: env.int(3002, 0, 65535),
  /** Content items generated at once by one process (each mostly waits on the LLM). */
  WORKER_CONCURRENCY: env.int(16, 1, 1024),
}).superRefine(refineLlmEnv);
export type ContentWorkerConfig = Readonly<ReturnType<typeof ContentWorkerEnvSchema.parse>>;

export const loadContentWorkerConfig = (): ContentWorkerConfig => loadConfig(ContentWorkerEnvSchema);
