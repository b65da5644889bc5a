import { CommonEnvSchema, env, loadConfig, refineTimeLimits, timeLimitEnv } from '@roadmap/contracts';
import { LlmEnvSchema, refineLlmEnv } from '@roadmap/llm';
import { LlmUsageEnvSchema } from '@roadmap/runtime';
import { DispatchEnvSchema } from '@roadmap/workflow';

export const ContentWorkerEnvSchema = CommonEnvSchema.extend(LlmEnvSchema.shape).extend(LlmUsageEnvSchema.shape).extend(DispatchEnvSchema.shape).extend({
  /** Health and metrics port. */
  PORT: env.int(3002, 0, 65535),
  /** Content items generated at once by one process (each mostly waits on the LLM). */
  WORKER_CONCURRENCY: env.int(16, 1, 1024),
  /**
   * Messages each priority's consumer holds beyond its WORKER_CONCURRENCY: delivered and ready, they
   * start their LLM call the moment one ends, while the finished item is still being written and
   * announced. LLM calls at once stay bounded by WORKER_CONCURRENCY. 0 turns it off.
   */
  WORKER_STANDBY: env.int(16, 0, 1024),
  /** One content item's generation: at the soft limit its LLM call is aborted; at the hard limit a run that did not stop is given up. */
  ...timeLimitEnv('CONTENT', 10 * 60_000, 12 * 60_000),
})
  .superRefine(refineLlmEnv)
  .superRefine(refineTimeLimits('CONTENT'));
export type ContentWorkerConfig = Readonly<ReturnType<typeof ContentWorkerEnvSchema.parse>>;

export const loadContentWorkerConfig = (): ContentWorkerConfig => loadConfig(ContentWorkerEnvSchema);
