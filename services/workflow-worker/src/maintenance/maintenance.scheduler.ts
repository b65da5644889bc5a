import { counter, gauge, histogram, type Logger } from '@roadmap/observability';
import { AdvisoryLock } from '@roadmap/runtime';
import type { DataSource } from 'typeorm';
import { Poller } from './poller.js';

/** What a job reports about one run: the rows it deleted, moved or changed, and the details. */
export interface MaintenanceJobResult {
  readonly rows: number;
  readonly detail: Record<string, unknown>;
}

/** A periodic job (what Celery beat ran), run by one process of the platform at a time. */
export interface MaintenanceJob {
  /** Stable name: the lock key, the run history's `job`, the metrics' label. */
  readonly name: string;
  /** Time between the starts of two runs, across the whole platform. */
  readonly intervalMs: number;
  run(): Promise<MaintenanceJobResult>;
}

export interface MaintenanceSchedulerOptions {
  /** DATABASE_SCHEMA: part of every lock key, so platforms sharing a database each run their jobs. */
  readonly schema: string;
  /** MAINTENANCE_POLL_MS: how often this process checks whether a job is due. */
  readonly pollMs: number;
  /** Who ran a job (host:pid), recorded with each run. */
  readonly instance: string;
  /** Deadline of a lock request. */
  readonly lockTimeoutMs?: number;
  /** MAINTENANCE_ENABLED: false leaves this process out of the jobs. */
  readonly enabled?: boolean;
}

export const maintenanceRuns = counter('roadmap_maintenance_runs_total', 'Runs of scheduled maintenance jobs, by job and outcome (ok, error)', [
  'job',
  'outcome',
]);
export const maintenanceDuration = histogram(
  'roadmap_maintenance_run_duration_seconds',
  'Duration of a scheduled maintenance run, by job',
  ['job'],
  [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
);
export const maintenanceRows = counter('roadmap_maintenance_rows_total', 'Rows scheduled maintenance deleted, moved or changed, by job', ['job']);
/**
 * Read from maintenance_runs on every poll by every workflow worker, so it is the platform's value whichever
 * replica ran the job, and survives restarts: `time() - max by (job) (...)` is how long ago the job
 * last succeeded anywhere (RoadmapMaintenanceNotRunning).
 */
export const maintenanceLastSuccess = gauge(
  'roadmap_maintenance_last_success_timestamp_seconds',
  'Unix time of the last successful run of a maintenance job (on any replica; the scheduler start when none yet)',
  ['job'],
);
export const maintenanceInterval = gauge('roadmap_maintenance_interval_seconds', 'Configured interval of a maintenance job', ['job']);

/**
 * Runs each job once per interval across every workflow-worker replica. Single runner: a process runs a job
 * only while holding the job's PostgreSQL advisory lock (`roadmap-maintenance:<schema>:<job>`, the
 * AdvisoryLock the cluster-metrics lease uses), taken without waiting. Once per interval: under that
 * lock it reads when the job last started (maintenance_runs, the database's clock) and runs only when
 * an interval has passed, so neither a second replica nor a restart, a new leader or a clock skewed
 * host runs it early. A runner that dies mid-run frees the lock with its session; its run row is
 * marked `abandoned` by the next holder.
 */
export class MaintenanceScheduler extends Poller {
  private readonly startedAt = Date.now();
  private readonly lockTimeoutMs: number;

  constructor(
    private readonly dataSource: DataSource,
    logger: Logger,
    readonly jobs: readonly MaintenanceJob[],
    private readonly options: MaintenanceSchedulerOptions,
  ) {
    super(logger, { pollMs: options.pollMs, enabled: options.enabled, disabledMessage: 'MAINTENANCE_ENABLED is false: this process runs no maintenance jobs' });
    this.lockTimeoutMs = options.lockTimeoutMs ?? 5_000;
    for (const job of jobs) maintenanceInterval.set({ job: job.name }, job.intervalMs / 1000);
  }

  protected started(): void {
    this.logger.info({ jobs: this.jobs.map((j) => ({ job: j.name, intervalSeconds: j.intervalMs / 1000 })) }, 'scheduled maintenance on');
  }

  /** One poll: refreshes the last-success gauges and runs every due job this process can lock. */
  async tick(): Promise<void> {
    try {
      await this.refreshLastSuccess();
    } catch (error) {
      this.logger.warn({ err: error }, 'maintenance: reading the run history failed');
    }
    for (const job of this.jobs) {
      if (this.stopping) return;
      try {
        await this.runIfDue(job);
      } catch (error) {
        this.logger.warn({ err: error, job: job.name }, 'maintenance: could not check or start a job');
      }
    }
  }

  /** Runs `job` when it is due and no other process is running it; says what happened. */
  async runIfDue(job: MaintenanceJob): Promise<'ran' | 'not_due' | 'busy'> {
    if (!(await this.isDue(job, this.dataSource))) return 'not_due';
    const lock = await AdvisoryLock.tryAcquire(this.dataSource, `roadmap-maintenance:${this.options.schema}:${job.name}`, this.lockTimeoutMs);
    if (!lock) return 'busy';
    let unlock = true;
    try {
      // Under the lock, nobody else runs this job: a row still `running` is a dead runner's.
      await lock.runner.query(
        `UPDATE maintenance_runs SET outcome = 'abandoned', finished_at = now(), detail = detail || '{"reason":"the runner stopped mid-run"}'
          WHERE job = $1 AND outcome = 'running'`,
        [job.name],
      );
      if (!(await this.isDue(job, lock.runner))) return 'not_due';
      const [{ id }] = (await lock.runner.query(
        `INSERT INTO maintenance_runs (job, instance, outcome, interval_seconds) VALUES ($1, $2, 'running', $3) RETURNING id`,
        [job.name, this.options.instance, job.intervalMs / 1000],
      )) as Array<{ id: string }>;
      const started = performance.now();
      let outcome: 'ok' | 'error' = 'error';
      let detail: Record<string, unknown>;
      try {
        const result = await job.run();
        outcome = 'ok';
        detail = { rows: result.rows, ...result.detail };
        maintenanceRows.inc({ job: job.name }, result.rows);
      } catch (error) {
        detail = { error: error instanceof Error ? error.message : String(error) };
        this.logger.error({ err: error, job: job.name, durationMs: Math.round(performance.now() - started) }, `maintenance job ${job.name} failed`);
      }
      const seconds = (performance.now() - started) / 1000;
      maintenanceRuns.inc({ job: job.name, outcome });
      maintenanceDuration.observe({ job: job.name }, seconds);
      if (outcome === 'ok') {
        maintenanceLastSuccess.set({ job: job.name }, Date.now() / 1000);
        this.logger.info({ job: job.name, durationMs: Math.round(seconds * 1000), rows: detail.rows, detail }, `maintenance job ${job.name} ran`);
      }
      await lock.runner.query(`UPDATE maintenance_runs SET outcome = $2, finished_at = now(), detail = $3::jsonb WHERE id = $1`, [
        id,
        outcome,
        JSON.stringify(detail),
      ]);
      return 'ran';
    } catch (error) {
      unlock = false; // the lock's connection may be broken: close it rather than pool it
      throw error;
    } finally {
      await lock.release(unlock);
    }
  }

  /** Whether the job's last run (on any replica) started at least an interval ago, by the database's clock. */
  private async isDue(job: MaintenanceJob, on: { query(text: string, params?: unknown[]): Promise<unknown> }): Promise<boolean> {
    const rows = (await on.query(
      `SELECT coalesce(max(started_at) <= now() - make_interval(secs => $2), true) AS due FROM maintenance_runs WHERE job = $1`,
      [job.name, job.intervalMs / 1000],
    )) as Array<{ due: boolean }>;
    return rows[0]?.due === true;
  }

  private async refreshLastSuccess(): Promise<void> {
    const rows = (await this.dataSource.query(
      `SELECT j.job, extract(epoch FROM (SELECT r.finished_at FROM maintenance_runs r WHERE r.job = j.job AND r.outcome = 'ok'
                                          ORDER BY r.started_at DESC LIMIT 1))::float8 AS last_ok
         FROM unnest($1::text[]) AS j(job)`,
      [this.jobs.map((j) => j.name)],
    )) as Array<{ job: string; last_ok: number | null }>;
    for (const row of rows) maintenanceLastSuccess.set({ job: row.job }, row.last_ok ?? this.startedAt / 1000);
  }
}
