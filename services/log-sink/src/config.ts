import { CommonEnvSchema, env, loadConfig } from '@roadmap/contracts';

export const LogSinkEnvSchema = CommonEnvSchema.extend({
  /** Health and metrics port. */
  PORT: env.int(3003, 0, 65535),
  /** A batch is written when it holds this many LOGS messages (each a producer's batch of entries)... */
  LOG_SINK_BATCH_SIZE: env.int(100, 1, 10_000),
  /**
   * ...or when its oldest entry has waited this long. Short: a busy sink fills batches before this
   * anyway, and an idle one writes what trickles in within 0.1 s instead of holding it for a second
   * (1 s cost the last partial batch of a burst nearly a second of ingestion, bench/README.md).
   */
  LOG_SINK_FLUSH_MS: env.int(100, 10, 60_000),
  /** Batches written at once. */
  WORKER_CONCURRENCY: env.int(2, 1, 32),
});
export type LogSinkConfig = Readonly<ReturnType<typeof LogSinkEnvSchema.parse>>;

export const loadLogSinkConfig = (): LogSinkConfig => loadConfig(LogSinkEnvSchema);
