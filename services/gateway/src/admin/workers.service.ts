import { Inject, Injectable } from '@nestjs/common';
import { sql } from '@roadmap/persistence';
import { MISSED_HEARTBEATS_GONE, type WorkerHeartbeatRow } from '@roadmap/runtime';
import { DataSource } from 'typeorm';

/**
 * The worker registry as operators read it: every service process's last heartbeat (written by
 * libs/runtime's WorkerRegistry), with what each of its consumers has in flight and has handled.
 * A process silent for three of its heartbeat periods is `gone` (crashed, or cut off); rows of gone
 * processes are forgotten after ten minutes; a process that stops cleanly removes its own row.
 */
@Injectable()
export class WorkersService {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async list() {
    const { rows } = await sql<WorkerHeartbeatRow & { silent_ms: number }>(
      this.dataSource,
      `SELECT *, (EXTRACT(EPOCH FROM now() - heartbeat_at) * 1000)::float8 AS silent_ms
         FROM worker_heartbeats ORDER BY service, started_at, id`,
    );
    return {
      items: rows.map((row) => {
        const consumers = (row.consumers ?? []).map((c) => ({
          consumer: c.consumer,
          stream: c.stream,
          concurrency: c.concurrency,
          inFlight: c.inFlight,
          held: c.held,
          handled: { acked: c.handled.ack, retried: c.handled.retry, deadLettered: c.handled.dead_letter },
          since: c.since,
        }));
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
          inFlight: consumers.reduce((n, c) => n + c.inFlight, 0),
          consumers,
        };
      }),
    };
  }
}
