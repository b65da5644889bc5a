import { Inject, Injectable } from '@nestjs/common';
import { MAINTENANCE_JOBS, NotFoundError } from '@roadmap/contracts';
import { sql } from '@roadmap/persistence';
import { DataSource } from 'typeorm';

interface RunRow {
  id: string;
  job: string;
  instance: string;
  started_at: Date;
  finished_at: Date | null;
  outcome: string;
  detail: Record<string, unknown>;
  interval_seconds: number | null;
}

/**
 * The run history of the scheduled maintenance jobs, for operators. The workflow workers run the jobs
 * and record each run with the interval they were configured with: a job's interval and next due time
 * are its latest run's (null before its first run).
 */
@Injectable()
export class MaintenanceService {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** Per job: its interval, its last success, when it is due next, and its most recent runs, newest first. */
  async list(limit: number, only?: string) {
    const jobs: readonly string[] = only ? MAINTENANCE_JOBS.filter((j) => j === only) : MAINTENANCE_JOBS;
    if (only && jobs.length === 0) throw new NotFoundError('Maintenance job', only);
    const { rows } = await sql<RunRow>(
      this.dataSource,
      `SELECT r.* FROM unnest($1::text[]) AS j(job)
         CROSS JOIN LATERAL (SELECT id::text, job, instance, started_at, finished_at, outcome, detail, interval_seconds FROM maintenance_runs m
                              WHERE m.job = j.job ORDER BY m.started_at DESC LIMIT $2) r`,
      [jobs, limit],
    );
    const { rows: success } = await sql<{ job: string; at: Date | null }>(
      this.dataSource,
      `SELECT j.job, (SELECT finished_at FROM maintenance_runs m WHERE m.job = j.job AND m.outcome = 'ok' ORDER BY started_at DESC LIMIT 1) AS at
         FROM unnest($1::text[]) AS j(job)`,
      [jobs],
    );
    return {
      jobs: jobs.map((job) => {
        const runs = rows.filter((r) => r.job === job);
        const last = runs[0];
        const intervalSeconds = last?.interval_seconds ?? null;
        return {
          job,
          intervalSeconds,
          lastSuccessAt: success.find((s) => s.job === job)?.at?.toISOString() ?? null,
          nextDueAt: last && intervalSeconds !== null ? new Date(last.started_at.getTime() + intervalSeconds * 1000).toISOString() : null,
          runs: runs.map((r) => ({
            id: r.id,
            instance: r.instance,
            startedAt: r.started_at.toISOString(),
            finishedAt: r.finished_at?.toISOString() ?? null,
            durationMs: r.finished_at ? r.finished_at.getTime() - r.started_at.getTime() : null,
            outcome: r.outcome,
            detail: r.detail,
          })),
        };
      }),
    };
  }
}
