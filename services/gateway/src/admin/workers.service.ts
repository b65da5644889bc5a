import { Inject, Injectable } from '@nestjs/common';
import { AppError } from '@roadmap/contracts';
import { sql } from '@roadmap/persistence';
import { MISSED_HEARTBEATS_GONE, type WorkerHeartbeatRow } from '@roadmap/runtime';
import { DataSource } from 'typeorm';
import { QueueControlService } from './queue-control.service.js';

type Row = WorkerHeartbeatRow & { silent_ms: number };

/**
 * The worker registry as operators read it: every service process's last heartbeat (written by
 * libs/runtime's WorkerRegistry), with what each of its consumers has in flight and has handled.
 * A process silent for three of its heartbeat periods is `gone` (crashed, or cut off); rows of gone
 * processes are forgotten after ten minutes; a process that stops cleanly removes its own row.
 * Worker control (drain, concurrency) goes through the ADMIN_CONTROL bucket every worker watches.
 */
@Injectable()
export class WorkersService {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(QueueControlService) private readonly queues: QueueControlService,
  ) {}

  private async rows(): Promise<Row[]> {
    const { rows } = await sql<Row>(
      this.dataSource,
      `SELECT *, (EXTRACT(EPOCH FROM now() - heartbeat_at) * 1000)::float8 AS silent_ms
         FROM worker_heartbeats ORDER BY service, started_at, id`,
    );
    return rows;
  }

  async list() {
    return { items: (await this.rows()).map((row) => ({ ...identity(row), inFlight: consumersOf(row).reduce((n, c) => n + c.inFlight, 0), consumers: consumersOf(row) })) };
  }

  /** `inspect active`: what each worker runs now, since when, and for which task. */
  async active() {
    return {
      items: (await this.rows()).map((row) => ({
        ...identity(row),
        active: (row.consumers ?? []).flatMap((c) => (c.active ?? []).map((a) => ({ consumer: c.consumer, ...a }))),
      })),
    };
  }

  /** `inspect registered`: the consumers (handlers) and workflow types each worker serves, with versions. */
  async registered() {
    return {
      items: (await this.rows()).map((row) => ({
        ...identity(row),
        handlers: (row.consumers ?? []).map((c) => ({
          consumer: c.consumer,
          stream: c.stream,
          filterSubject: c.filterSubject ?? null,
          concurrency: c.concurrency,
          configuredConcurrency: c.configuredConcurrency ?? c.concurrency,
          paused: c.paused ?? null,
        })),
        workflows: row.serves ?? [],
      })),
    };
  }

  /** `inspect stats`: handled, failed, retried, memory, event-loop lag and uptime per worker. */
  async stats() {
    return {
      items: (await this.rows()).map((row) => {
        const totals = { handled: 0, failed: 0, retried: 0 };
        for (const c of row.consumers ?? []) {
          totals.handled += c.handled.ack;
          totals.failed += c.handled.dead_letter;
          totals.retried += c.handled.retry;
        }
        return { ...identity(row), ...totals, process: Object.keys(row.stats ?? {}).length > 0 ? row.stats : null };
      }),
    };
  }

  /** Tells one live worker process to stop pulling, finish what it runs and exit 0. */
  async drain(workerId: string, by: string) {
    const worker = await this.alive(workerId);
    const stamp = await this.queues.control.drain(workerId, by);
    return { workerId, service: worker.service, instance: worker.instance, draining: true, requestedBy: stamp.by, requestedAt: stamp.at };
  }

  /** Sets a consumer's slots on every worker or one (null: back to the configured value); kept until changed again. */
  async setConcurrency(consumer: string, concurrency: number | null, workerId: string | undefined, by: string) {
    this.queues.consumer(consumer);
    if (workerId !== undefined) await this.alive(workerId, 'workerId');
    await this.queues.control.setConcurrency(consumer, concurrency, by, workerId);
    return { consumer, concurrency, workerId: workerId ?? null, scope: workerId ? 'worker' : 'all', setBy: by, setAt: new Date().toISOString() };
  }

  private async alive(workerId: string, field = 'id'): Promise<Row> {
    const row = (await this.rows()).find((r) => r.id === workerId);
    if (!row || row.silent_ms > MISSED_HEARTBEATS_GONE * row.interval_ms) {
      throw new AppError('WORKER_NOT_FOUND', `No live worker process has id ${workerId}: see GET /api/v1/admin/workers`, {
        status: 404,
        details: [{ field, message: row ? 'the worker is gone' : 'unknown worker' }],
      });
    }
    return row;
  }
}

function identity(row: Row) {
  return {
    id: row.id,
    service: row.service,
    instance: row.instance,
    host: row.host,
    pid: row.pid,
    version: row.version,
    status: row.silent_ms > MISSED_HEARTBEATS_GONE * row.interval_ms ? ('gone' as const) : ('alive' as const),
    startedAt: row.started_at.toISOString(),
    lastHeartbeatAt: row.heartbeat_at.toISOString(),
    heartbeatIntervalMs: row.interval_ms,
  };
}

function consumersOf(row: Row) {
  return (row.consumers ?? []).map((c) => ({
    consumer: c.consumer,
    stream: c.stream,
    concurrency: c.concurrency,
    configuredConcurrency: c.configuredConcurrency ?? c.concurrency,
    paused: c.paused ?? null,
    inFlight: c.inFlight,
    held: c.held,
    handled: { acked: c.handled.ack, retried: c.handled.retry, deadLettered: c.handled.dead_letter },
    since: c.since,
  }));
}
