import { CommonEnvSchema, env, loadConfig } from '@roadmap/contracts';

export const LogSinkEnvSchema = CommonEnvSchema.extend({
  /** Health and metrics port. */
  PORT: env.int(3003, 0, 65535),
  /** A batch is written when it holds this many LOGS messages (each a producer's batch of entries)... */
  LOG_SINK_BATCH_SIZE: env.int(100, 1, 10_000),
  /** ...or when its oldest entry has waited this long. */
  LOG_SINK_FLUSH_MS: env.int(1_000, 10, 60_000),
  /** Batches written at once. */
  WORKER_CONCURRENCY: env.int(2, 1, 32),
});
export type LogSinkConfig = Readonly<ReturnType<typeof LogSinkEnvSchema.parse>>;

export const loadLogSinkConfig = (): LogSinkConfig => loadConfig(LogSinkEnvSchema);
