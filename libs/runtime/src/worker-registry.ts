import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { OnModuleDestroy } from '@nestjs/common';
import type { RouteSnapshot } from '@roadmap/messaging';
import { INSTANCE, type Logger } from '@roadmap/observability';
import { sql } from '@roadmap/persistence';
import type { DataSource } from 'typeorm';

/*
 * The worker registry: every service process upserts one row of worker_heartbeats every
 * WORKER_HEARTBEAT_MS with what its consumers are doing (from the JetStream server's snapshot), so
 * operators see which process consumes which consumer, since when, with what in flight, like
 * `celery inspect active`. A row not refreshed for three periods is a process that is gone.
 *
 * PostgreSQL rather than a JetStream KV bucket: nats-server 2.9 has no per-key TTL (only the bucket's
 * max age), services never create streams (provisioning does), and the table lives in the platform's
 * schema, so staleness is judged by one clock (the database's now()) and test platforms clean up with
 * their schema. One small upsert per process and period is no load.
 */

/** A row of worker_heartbeats as the registry writes it. */
export interface WorkerHeartbeatRow {
  id: string;
  service: string;
  instance: string;
  host: string;
  pid: number;
  version: string;
  started_at: Date;
  heartbeat_at: Date;
  interval_ms: number;
  consumers: RouteSnapshot[];
  stats: ProcessStats | Record<string, never>;
  serves: ServedType[];
}

/** A kind of work a process serves beyond its consumers (a workflow type), with its version. */
export interface ServedType {
  readonly name: string;
  readonly version: string;
}

/**
 * Optional provider: what the process serves (`() => ServedType[]`), reported with each heartbeat for
 * `inspect registered`. The module that registers workflow definitions provides it.
 */
export const WORKER_SERVES = Symbol('WORKER_SERVES');

/** What a process reports of itself with each heartbeat (`workers stats`). */
export interface ProcessStats {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  /** Event-loop delay over the last heartbeat period (ms): how late timers and I/O callbacks ran. */
  readonly eventLoopLagMs: { readonly mean: number; readonly p99: number; readonly max: number };
  readonly uptimeSeconds: number;
}

/** Heartbeats missed before a process counts as gone. */
export const MISSED_HEARTBEATS_GONE = 3;
/** Rows not refreshed for this long are deleted by the next writer (gone processes stay visible until then). */
export const FORGET_AFTER_MS = 10 * 60_000;

export interface WorkerRegistryOptions {
  readonly service: string;
  readonly intervalMs: number;
  /** `<package>@<version>` of the running service. */
  readonly version?: string;
}

export class WorkerRegistry implements OnModuleDestroy {
  /** This process's row: a new id per start, so a restarted process is a new entry. */
  readonly id = randomUUID();
  private readonly startedAt = new Date();
  private readonly version: string;
  private snapshot: () => RouteSnapshot[] = () => [];
  private serves: () => readonly ServedType[] = () => [];
  private timer?: NodeJS.Timeout;
  private writing?: Promise<void>;
  private stopped = false;
  private warned = false;
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 20 });

  constructor(
    private readonly dataSource: DataSource,
    private readonly logger: Logger,
    private readonly options: WorkerRegistryOptions,
  ) {
    this.version = options.version ?? serviceVersion();
  }

  /** Starts heartbeating, reporting the consumers `snapshot` returns (none for a process without consumers) and what it `serves`. */
  start(snapshot?: () => RouteSnapshot[], serves?: () => readonly ServedType[]): void {
    if (snapshot) this.snapshot = snapshot;
    if (serves) this.serves = serves;
    if (this.timer || this.stopped) return;
    this.loopDelay.enable();
    this.timer = setInterval(() => void this.beat(), this.options.intervalMs);
    this.timer.unref();
    void this.beat();
  }

  /** Writes one heartbeat now (also forgets rows gone for long). Never throws: a missed beat is logged once. */
  beat(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.writing ??= this.write().finally(() => {
      this.writing = undefined;
    });
    return this.writing;
  }

  private async write(): Promise<void> {
    try {
      await sql(
        this.dataSource,
        `INSERT INTO worker_heartbeats (id, service, instance, host, pid, version, started_at, heartbeat_at, interval_ms, consumers, stats, serves)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now(), $8, $9::jsonb, $10::jsonb, $11::jsonb)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), interval_ms = EXCLUDED.interval_ms, consumers = EXCLUDED.consumers,
                                        stats = EXCLUDED.stats, serves = EXCLUDED.serves`,
        [
          this.id,
          this.options.service,
          INSTANCE,
          hostname(),
          process.pid,
          this.version,
          this.startedAt,
          this.options.intervalMs,
          JSON.stringify(this.snapshot()),
          JSON.stringify(this.stats()),
          JSON.stringify(this.serves()),
        ],
      );
      await sql(this.dataSource, `DELETE FROM worker_heartbeats WHERE heartbeat_at < now() - make_interval(secs => $1)`, [FORGET_AFTER_MS / 1000]);
      this.warned = false;
    } catch (error) {
      // The database may be away (an outage is ridden out elsewhere); the next beat tries again.
      if (!this.warned) this.logger.warn({ err: error }, 'worker registry heartbeat not written; retrying');
      this.warned = true;
    }
  }

  /** Memory, event-loop lag since the last beat, and uptime. */
  private stats(): ProcessStats {
    const memory = process.memoryUsage();
    const ms = (ns: number) => (Number.isFinite(ns) ? Math.round(ns / 1e4) / 100 : 0);
    const stats = {
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      eventLoopLagMs: { mean: ms(this.loopDelay.mean), p99: ms(this.loopDelay.percentile(99)), max: ms(this.loopDelay.max) },
      uptimeSeconds: Math.round(process.uptime()),
    };
    this.loopDelay.reset();
    return stats;
  }

  /** On shutdown the row goes: a process that stopped cleanly is not shown as gone. */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.loopDelay.disable();
    await this.writing;
    if (!this.timer) return;
    await Promise.race([
      sql(this.dataSource, `DELETE FROM worker_heartbeats WHERE id = $1`, [this.id]).catch(() => undefined),
      new Promise((resolve) => setTimeout(resolve, 2_000).unref()),
    ]);
  }
}

/** `<name>@<version>` of the package whose entry point runs (dist/src/main.js -> ../../package.json). */
function serviceVersion(): string {
  try {
    const entry = process.argv[1];
    if (!entry) return 'unknown';
    const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', '..', 'package.json'), 'utf8')) as { name?: string; version?: string };
    return `${pkg.name ?? 'unknown'}@${pkg.version ?? 'unknown'}`;
  } catch {
    return 'unknown';
  }
}
