import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { FINAL_TASK_STATUSES, TASK_STATUSES } from '@roadmap/contracts';
import type { Messaging } from '@roadmap/messaging';
import { counter, gauge, histogram, type Logger } from '@roadmap/observability';
import type { DataSource, QueryRunner } from 'typeorm';
import { AdvisoryLock, withTimeout } from './advisory-lock.js';
import { readQueues } from './queue-info.js';

/*
 * Cluster-wide metrics: queue depth per consumer, stream sizes, tasks by status, finished tasks and
 * their durations. They describe shared state (JetStream, PostgreSQL), not the process, so exactly one
 * process of the platform exports them: the holder of a PostgreSQL session-level advisory lock
 * (`pg_try_advisory_lock(hashtext('roadmap-cluster-metrics:<schema>'))`) on a connection it keeps.
 * Every process competes for it; when the holder dies or loses its connection, PostgreSQL releases
 * the lock and another process takes it over within LEASE_RETRY_MS. Non-holders export the metric
 * names with no series, so `sum()` over the cluster never double counts.
 */

/** Labels are logical names (ROADMAP_WORKFLOW, content-worker-normal), never namespaced ones. */
export const queuePending = gauge('roadmap_queue_pending_messages', 'Messages not yet delivered to a consumer (num_pending)', [
  'stream',
  'consumer',
]);
export const queueAckPending = gauge(
  'roadmap_queue_ack_pending_messages',
  'Messages delivered to a consumer and not yet acknowledged (num_ack_pending)',
  ['stream', 'consumer'],
);
export const queueRedelivered = gauge(
  'roadmap_queue_redelivered_messages',
  'Messages delivered more than once and not yet acknowledged (num_redelivered)',
  ['stream', 'consumer'],
);
export const streamMessages = gauge('roadmap_stream_messages', 'Messages stored in a stream (DEAD_LETTERS: dead letters kept)', ['stream']);
export const tasksByStatus = gauge('roadmap_tasks', 'Tasks by current status (all tasks in the database)', ['status']);
export const tasksFinished = counter(
  'roadmap_tasks_finished_total',
  'Tasks that reached a final status, counted by the cluster-metrics lease holder from tasks.finished_at',
  ['status'],
);
/** Task durations: seconds to minutes of LLM work per roadmap. */
const TASK_BUCKETS = [1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600];
export const taskDuration = histogram(
  'roadmap_task_duration_seconds',
  'Time from accepting a task to its final status, by status',
  ['status'],
  TASK_BUCKETS,
);
export const taskFirstContent = histogram(
  'roadmap_task_first_content_seconds',
  'Time from accepting a task to its first completed content item',
  [],
  TASK_BUCKETS,
);
export const leaseHolder = gauge(
  'roadmap_cluster_metrics_lease_holder',
  '1 on the one process exporting cluster-wide metrics (queue depth, tasks), 0 elsewhere',
  [],
);
export const collectErrors = counter('roadmap_cluster_metrics_errors_total', 'Failed collections of cluster-wide metrics, by source', [
  'source',
]);

export interface ClusterMetricsOptions {
  /** DATABASE_SCHEMA: the lock key includes it, so platforms sharing a database each get a holder. */
  readonly schema: string;
  /** DATABASE_POOL_SIZE: the holder keeps one pooled connection, so a pool of one never competes. */
  readonly poolSize?: number;
  /** How often a non-holder tries to take the lease, and the holder checks its connection. */
  readonly leaseRetryMs?: number;
  /** Collection deadline; a slower collection leaves the gauges empty for that scrape. */
  readonly timeoutMs?: number;
  /** Collections closer together than this reuse the previous one (several scrapers, one refresh). */
  readonly minIntervalMs?: number;
  /** Finished tasks are counted once their finished_at is this far in the past (late commits). */
  readonly lagSeconds?: number;
}

const LEASE_RETRY_MS = 10_000;
const TIMEOUT_MS = 3_000;
const MIN_INTERVAL_MS = 1_000;
const LAG_SECONDS = 3;

@Injectable()
export class ClusterMetrics implements OnApplicationBootstrap, OnModuleDestroy {
  private lock?: AdvisoryLock;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** finished_at / first content watermark (database clock, ISO) of the last counted rows. */
  private watermark?: string;
  private refreshing?: Promise<void>;
  private lastRefresh = 0;

  private readonly lockKey: string;
  private readonly candidate: boolean;
  private readonly leaseRetryMs: number;
  private readonly timeoutMs: number;
  private readonly minIntervalMs: number;
  private readonly lagSeconds: number;

  constructor(
    private readonly dataSource: DataSource,
    private readonly messaging: Messaging,
    private readonly logger: Logger,
    options: ClusterMetricsOptions,
  ) {
    this.lockKey = `roadmap-cluster-metrics:${options.schema}`;
    this.candidate = (options.poolSize ?? 2) >= 2;
    this.leaseRetryMs = options.leaseRetryMs ?? LEASE_RETRY_MS;
    this.timeoutMs = options.timeoutMs ?? TIMEOUT_MS;
    this.minIntervalMs = options.minIntervalMs ?? MIN_INTERVAL_MS;
    this.lagSeconds = options.lagSeconds ?? LAG_SECONDS;
    leaseHolder.set(0);
    // Every cluster gauge refreshes (once, shared) before the registry reads it.
    for (const metric of [queuePending, queueAckPending, queueRedelivered, streamMessages, tasksByStatus, tasksFinished, taskDuration, taskFirstContent]) {
      (metric as unknown as { collect?: () => Promise<void> }).collect = () => this.refresh();
    }
  }

  get isHolder(): boolean {
    return this.lock !== undefined;
  }

  /** The connection holding the lease (collections run on it), while this process holds it. */
  private get runner(): QueryRunner | undefined {
    return this.lock?.runner;
  }

  onApplicationBootstrap(): void {
    if (this.candidate) void this.tick();
    else this.logger.info('DATABASE_POOL_SIZE is 1: this process does not export cluster-wide metrics');
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.release(true);
  }

  /** One lease round: take the lease when free, or check that the held connection still answers. */
  private async tick(): Promise<void> {
    try {
      if (this.lock) await this.lock.check(this.timeoutMs);
      else await this.tryAcquire();
    } catch (error) {
      this.logger.warn({ err: error }, 'cluster metrics lease lost; another process will take it');
      await this.release(false);
    }
    if (this.stopped) return;
    // Jitter so replicas started together do not all ask at once.
    this.timer = setTimeout(() => void this.tick(), this.leaseRetryMs * (0.75 + Math.random() * 0.5));
    this.timer.unref();
  }

  private async tryAcquire(): Promise<void> {
    const lock = await AdvisoryLock.tryAcquire(this.dataSource, this.lockKey, this.timeoutMs);
    if (!lock) return;
    if (this.stopped) return lock.release();
    try {
      const [{ upto }] = (await lock.runner.query(`SELECT (now() - make_interval(secs => $1))::text AS upto`, [this.lagSeconds])) as Array<{
        upto: string;
      }>;
      this.watermark = upto;
    } catch (error) {
      await lock.release(false);
      throw error;
    }
    this.lock = lock;
    for (const status of FINAL_TASK_STATUSES) tasksFinished.inc({ status }, 0);
    leaseHolder.set(1);
    this.logger.info({ lock: this.lockKey }, 'exporting cluster-wide metrics (lease taken)');
  }

  private async release(unlock: boolean): Promise<void> {
    const lock = this.lock;
    this.lock = undefined;
    this.watermark = undefined;
    leaseHolder.set(0);
    this.clear();
    await lock?.release(unlock);
  }

  private clear(): void {
    for (const metric of [queuePending, queueAckPending, queueRedelivered, streamMessages, tasksByStatus]) metric.reset();
  }

  /** Refreshes every cluster gauge on the holder (shared by concurrent scrapes, bounded by a deadline). */
  refresh(): Promise<void> {
    if (!this.runner) return Promise.resolve();
    if (this.refreshing) return this.refreshing;
    if (Date.now() - this.lastRefresh < this.minIntervalMs) return Promise.resolve();
    this.refreshing = (async () => {
      const [queues, tasks] = await Promise.allSettled([
        withTimeout(this.collectQueues(), this.timeoutMs, 'queue metrics'),
        withTimeout(this.collectTasks(), this.timeoutMs, 'task metrics'),
      ]);
      for (const [source, result] of [['nats', queues], ['database', tasks]] as const) {
        if (result.status === 'rejected') {
          collectErrors.inc({ source });
          this.logger.warn({ err: result.reason, source }, 'cluster metrics collection failed');
        }
      }
    })().finally(() => {
      this.lastRefresh = Date.now();
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async collectQueues(): Promise<void> {
    const { consumers, streams } = await readQueues(this.messaging);
    // Reset after the answers are in: a series disappears only when its consumer or stream does.
    for (const metric of [queuePending, queueAckPending, queueRedelivered, streamMessages]) metric.reset();
    let failed = 0;
    for (const state of consumers) {
      if (!('info' in state)) {
        failed++;
        continue;
      }
      const labels = { stream: state.decl.stream, consumer: state.decl.durable };
      queuePending.set(labels, state.info.num_pending);
      queueAckPending.set(labels, state.info.num_ack_pending);
      queueRedelivered.set(labels, state.info.num_redelivered);
    }
    for (const state of streams) {
      if ('info' in state) streamMessages.set({ stream: state.decl.name }, state.info.state.messages);
      else failed++;
    }
    if (failed > 0) throw new Error(`${failed} consumer/stream info requests failed`);
  }

  private async collectTasks(): Promise<void> {
    const runner = this.runner;
    if (!runner || this.watermark === undefined) return;
    const counts = (await runner.query('SELECT status, count(*)::int AS n FROM tasks GROUP BY status')) as Array<{ status: string; n: number }>;
    tasksByStatus.reset();
    for (const status of TASK_STATUSES) tasksByStatus.set({ status }, 0);
    for (const row of counts) tasksByStatus.set({ status: row.status }, row.n);

    const from = this.watermark;
    const [{ upto }] = (await runner.query(`SELECT (now() - make_interval(secs => $1))::text AS upto`, [this.lagSeconds])) as Array<{
      upto: string;
    }>;
    const finished = (await runner.query(
      `SELECT status, EXTRACT(EPOCH FROM finished_at - created_at)::float8 AS seconds
         FROM tasks
        WHERE finished_at > $1::timestamptz AND finished_at <= $2::timestamptz AND status = ANY($3::text[])`,
      [from, upto, FINAL_TASK_STATUSES],
    )) as Array<{ status: string; seconds: number }>;
    // First content: only tasks accepted in the last day (bounded scan; older tasks have theirs).
    const first = (await runner.query(
      `SELECT EXTRACT(EPOCH FROM f.first_at - t.created_at)::float8 AS seconds
         FROM tasks t
         JOIN LATERAL (SELECT min(ci.completed_at) AS first_at FROM content_items ci
                        WHERE ci.roadmap_id = t.roadmap_id AND ci.status = 'completed') f ON true
        WHERE t.roadmap_id IS NOT NULL AND t.created_at > $1::timestamptz - interval '1 day'
          AND f.first_at > $1::timestamptz AND f.first_at <= $2::timestamptz`,
      [from, upto],
    )) as Array<{ seconds: number }>;
    if (this.watermark !== from) return; // the lease moved meanwhile
    for (const row of finished) {
      tasksFinished.inc({ status: row.status });
      taskDuration.observe({ status: row.status }, Math.max(0, row.seconds));
    }
    for (const row of first) taskFirstContent.observe(Math.max(0, row.seconds));
    this.watermark = upto;
  }
}
