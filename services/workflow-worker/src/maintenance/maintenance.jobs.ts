import {
  dropExpiredLogPartitions,
  ensureLogPartitions,
  pruneDeadLetters,
  pruneFinishedCheckpoints,
  pruneIdempotencyKeys,
  pruneLlmCalls,
  pruneMaintenanceRuns,
  pruneScheduleRuns,
} from '@roadmap/persistence';
import type { DataSource } from 'typeorm';
import type { MaintenanceJob } from './maintenance.scheduler.js';
import type { Reaper } from './reaper.js';

const DAY_MS = 24 * 3600 * 1000;

/** The settings the jobs take (MAINTENANCE_ENV in the workflow worker's configuration). */
export interface MaintenanceJobsConfig {
  readonly LOG_PARTITIONS_INTERVAL_SECONDS: number;
  readonly LOG_PARTITIONS_AHEAD_DAYS: number;
  readonly LOG_RETENTION_DAYS: number;
  readonly RETENTION_INTERVAL_SECONDS: number;
  readonly CHECKPOINT_RETENTION_DAYS: number;
  readonly LLM_CALLS_RETENTION_DAYS: number;
  readonly MAINTENANCE_RUNS_RETENTION_DAYS: number;
  readonly DEAD_LETTER_RETENTION_DAYS: number;
  readonly REAPER_INTERVAL_SECONDS: number;
}

const daysAgo = (days: number) => new Date(Date.now() - days * DAY_MS);

/**
 * execution-logs: daily partitions for today and LOG_PARTITIONS_AHEAD_DAYS ahead (rows that landed in
 * the default partition move into them), and partitions older than LOG_RETENTION_DAYS dropped.
 */
export function executionLogsJob(dataSource: DataSource, config: MaintenanceJobsConfig): MaintenanceJob {
  return {
    name: 'execution-logs',
    intervalMs: config.LOG_PARTITIONS_INTERVAL_SECONDS * 1000,
    async run() {
      const { created, movedRows } = await ensureLogPartitions(dataSource, new Date(), config.LOG_PARTITIONS_AHEAD_DAYS);
      const { dropped, droppedRowsEstimate, deletedRows } = await dropExpiredLogPartitions(dataSource, daysAgo(config.LOG_RETENTION_DAYS));
      return { rows: movedRows + droppedRowsEstimate + deletedRows, detail: { created, dropped, movedRows, droppedRowsEstimate, deletedRows } };
    },
  };
}

/**
 * retention: checkpoints of tasks finished CHECKPOINT_RETENTION_DAYS ago, LLM call records older than
 * LLM_CALLS_RETENTION_DAYS, this history older than MAINTENANCE_RUNS_RETENTION_DAYS, dead-letter
 * records older than DEAD_LETTER_RETENTION_DAYS and Idempotency-Key records past their 24 h window. Task events
 * need nothing here: they live only in the EVENTS stream, whose max age (24 h) JetStream enforces.
 */
export function retentionJob(dataSource: DataSource, config: MaintenanceJobsConfig): MaintenanceJob {
  return {
    name: 'retention',
    intervalMs: config.RETENTION_INTERVAL_SECONDS * 1000,
    async run() {
      const checkpoints = await pruneFinishedCheckpoints(dataSource, daysAgo(config.CHECKPOINT_RETENTION_DAYS));
      const llmCalls = await pruneLlmCalls(dataSource, daysAgo(config.LLM_CALLS_RETENTION_DAYS));
      const maintenanceRuns = await pruneMaintenanceRuns(dataSource, daysAgo(config.MAINTENANCE_RUNS_RETENTION_DAYS));
      const scheduleRuns = await pruneScheduleRuns(dataSource, daysAgo(config.MAINTENANCE_RUNS_RETENTION_DAYS));
      // Idempotency keys answer for 24 h; a day's margin keeps the prune clear of the window.
      const idempotencyKeys = await pruneIdempotencyKeys(dataSource, daysAgo(2));
      const deadLetters = await pruneDeadLetters(dataSource, daysAgo(config.DEAD_LETTER_RETENTION_DAYS));
      return {
        rows: checkpoints + llmCalls + maintenanceRuns + scheduleRuns + idempotencyKeys + deadLetters,
        detail: { checkpoints, llmCalls, maintenanceRuns, scheduleRuns, idempotencyKeys, deadLetters },
      };
    },
  };
}

/** reaper: stuck tasks re-driven or failed (see Reaper). */
export function reaperJob(reaper: Reaper, config: MaintenanceJobsConfig): MaintenanceJob {
  return { name: 'reaper', intervalMs: config.REAPER_INTERVAL_SECONDS * 1000, run: () => reaper.run() };
}
