import { env } from '@roadmap/contracts';

const DAY_SECONDS = 24 * 3600;

/**
 * Scheduled maintenance settings (README, "Scheduled maintenance"), part of the workflow worker's
 * environment: the process that owns the task lifecycle runs its maintenance. Intervals are how often a job runs across the whole platform, whatever the number of replicas.
 */
export const MAINTENANCE_ENV = {
  /** Whether this process takes part in running maintenance jobs (one replica runs each job at a time). */
  MAINTENANCE_ENABLED: env.bool(true),
  /** How often each process checks whether a job is due (a due job starts at most this late). */
  MAINTENANCE_POLL_MS: env.int(15_000, 100, 3_600_000),
  /** Seconds between runs of the execution-logs job (partitions ahead, expired partitions dropped). */
  LOG_PARTITIONS_INTERVAL_SECONDS: env.int(3600, 1, DAY_SECONDS),
  /** Daily execution_logs partitions created ahead of today. */
  LOG_PARTITIONS_AHEAD_DAYS: env.int(7, 1, 90),
  /** Days execution logs are kept (a day's partition is dropped once all of it is older). */
  LOG_RETENTION_DAYS: env.int(14, 1, 3650),
  /** Seconds between runs of the retention job (checkpoints, LLM call records, run history). */
  RETENTION_INTERVAL_SECONDS: env.int(3600, 1, DAY_SECONDS),
  /** Days the workflow checkpoints of a finished (completed, failed, cancelled) task are kept. */
  CHECKPOINT_RETENTION_DAYS: env.int(30, 1, 3650),
  /** Days LLM call records (prompts, responses) are kept; usage totals are kept for good. */
  LLM_CALLS_RETENTION_DAYS: env.int(30, 1, 3650),
  /** Days the maintenance run history (GET /api/v1/admin/maintenance) is kept. */
  MAINTENANCE_RUNS_RETENTION_DAYS: env.int(30, 1, 3650),
  /** Days dead-letter records (GET /api/v1/admin/dead-letters) are kept. */
  DEAD_LETTER_RETENTION_DAYS: env.int(30, 1, 3650),
  /** Seconds between runs of the reaper (stuck tasks). */
  REAPER_INTERVAL_SECONDS: env.int(60, 1, DAY_SECONDS),
  /** A task queued this long with no change is re-driven (its workflow message was lost). */
  REAPER_QUEUED_AFTER_SECONDS: env.int(900, 1, 30 * DAY_SECONDS),
  /** A running task with no step, checkpoint or item progress this long is re-driven. */
  REAPER_STALLED_AFTER_SECONDS: env.int(1800, 1, 30 * DAY_SECONDS),
  /** Re-drives of one task before the reaper fails it with TASK_STALLED. */
  REAPER_MAX_REDRIVES: env.int(3, 0, 100),
  /** Whether this process fires operator schedules (each occurrence is fired once, whatever the replicas). */
  SCHEDULES_ENABLED: env.bool(true),
  /** How often each process looks for due schedule occurrences (an occurrence starts at most this late). */
  SCHEDULES_POLL_MS: env.int(1_000, 50, 60_000),
  /** How late an occurrence may still start under `catchup: none`; older ones count as missed (downtime). */
  SCHEDULES_MISFIRE_GRACE_SECONDS: env.int(60, 1, DAY_SECONDS),
};
