import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { ConflictError, CONSUMERS, Headers, NotFoundError, ValidationError } from '@roadmap/contracts';
import { Messaging } from '@roadmap/messaging';
import { sql } from '@roadmap/persistence';
import { LOGGER } from '@roadmap/runtime';
import type { Logger } from '@roadmap/observability';
import { DataSource, type EntityManager } from 'typeorm';

interface DeadLetterRow {
  id: string;
  dlq_sequence: string;
  stream: string;
  subject: string;
  stream_sequence: string | null;
  deliveries: number | null;
  reason: string;
  headers: Record<string, string>;
  payload: string;
  task_id: string | null;
  created_at: Date;
  replayed_at: Date | null;
  replay_count: number;
  discarded_at: Date | null;
  discarded_by: string | null;
}

/** Which dead letters a list shows: those still to deal with (default), the discarded ones, or both. */
export const DEAD_LETTER_STATES = ['open', 'discarded', 'all'] as const;
export type DeadLetterState = (typeof DEAD_LETTER_STATES)[number];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Dead letters for operators. Every gateway replica records what lands in the DEAD_LETTERS stream
 * into the dead_letters table (one shared durable consumer; the DLQ sequence makes a redelivery a
 * no-op) with its raw payload, whatever it is (a dead letter may be invalid JSON), and fails the task
 * of a dead-lettered workflow command with the reason. Operators list, inspect and replay them.
 */
@Injectable()
export class DeadLettersService implements OnApplicationBootstrap, OnModuleDestroy {
  private messages?: ConsumerMessages;
  private stopped = false;

  constructor(
    @Inject(Messaging) private readonly messaging: Messaging,
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    void this.consume();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    await this.messages?.close();
  }

  private async consume(): Promise<void> {
    const { stream, durable } = CONSUMERS.deadLetterSink;
    while (!this.stopped) {
      try {
        const consumer = await this.messaging.js.consumers.get(this.messaging.streamName(stream), durable);
        this.messages = await consumer.consume({ max_messages: 64 });
        for await (const m of this.messages) {
          try {
            await this.record(m);
            m.ack();
          } catch (error) {
            this.logger.warn({ err: error, dlqSequence: m.info.streamSequence }, 'dead letter not recorded yet; retrying');
            m.nak(5_000);
          }
        }
      } catch (error) {
        if (!this.stopped) this.logger.warn({ err: error }, 'dead-letter consumer unavailable; retrying');
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, 2_000));
    }
  }

  private async record(m: JsMsg): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [key, values] of m.headers ?? []) headers[key] = values.at(-1) ?? '';
    const payload = new TextDecoder('utf-8', { fatal: false }).decode(m.data).replaceAll('\u0000', '');
    const taskId = taskIdOf(payload);
    const stream = headers[Headers.deadLetterStream] ?? 'unknown';
    const reason = headers[Headers.deadLetterReason] ?? 'unknown';
    await this.dataSource.transaction(async (em) => {
      const inserted = await sql(
        em,
        `INSERT INTO dead_letters (id, dlq_sequence, stream, subject, stream_sequence, deliveries, reason, headers, payload, task_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10) ON CONFLICT (dlq_sequence) DO NOTHING`,
        [
          randomUUID(),
          m.info.streamSequence,
          stream,
          headers[Headers.deadLetterSubject] ?? this.messaging.logicalSubject(m.subject),
          numberOrNull(headers[Headers.deadLetterSequence]),
          numberOrNull(headers[Headers.deadLetterDeliveries]),
          reason,
          JSON.stringify(headers),
          payload,
          taskId,
        ],
      );
      // A workflow command that failed for good ends its task, with the reason. (A content item's
      // failure is the item's: the task goes on with the others.)
      if (inserted.count > 0 && taskId && stream === 'ROADMAP_WORKFLOW') {
        await sql(
          em,
          `UPDATE tasks SET status = 'failed', error = $2::jsonb, finished_at = now(), updated_at = now()
            WHERE id = $1 AND status IN ('queued', 'running')`,
          [taskId, JSON.stringify({ code: 'DEAD_LETTERED', message: reason })],
        );
      }
    });
  }

  async list(limit: number, stream?: string, state: DeadLetterState = 'open') {
    const { rows } = await sql<DeadLetterRow>(
      this.dataSource,
      `SELECT * FROM dead_letters
        WHERE ($1::text IS NULL OR stream = $1)
          AND ($3 = 'all' OR ($3 = 'open') = (discarded_at IS NULL))
        ORDER BY created_at DESC, id DESC LIMIT $2`,
      [stream ?? null, limit, state],
    );
    return { items: rows.map((r) => view(r, false)) };
  }

  async get(id: string) {
    return view(await this.find(id), true);
  }

  /**
   * Puts a dead letter back on its original subject (a new message id), and counts the replay. The
   * row is locked while it is published, so a replay and a discard of the same one serialise; a
   * discarded dead letter is a 409.
   */
  async replay(id: string) {
    await this.dataSource.transaction(async (em) => {
      const row = await this.find(id, em, true);
      if (row.discarded_at) throw new ConflictError(`Dead letter ${id} was discarded${row.discarded_by ? ` by ${row.discarded_by}` : ''}: it cannot be replayed`);
      if (!row.subject || row.subject.startsWith('dlq.')) throw new ValidationError('This dead letter has no subject to go back to', [{ field: 'id', message: 'not replayable' }]);
      const hdrs = natsHeaders();
      for (const [key, value] of Object.entries(row.headers)) {
        if (key.startsWith('Roadmap-Dlq-') || key.toLowerCase().startsWith('nats-')) continue;
        hdrs.set(key, value);
      }
      await this.messaging.js.publish(this.messaging.subject(row.subject), row.payload, {
        headers: hdrs,
        msgID: `replay:${row.id}:${row.replay_count + 1}`,
      });
      await sql(em, `UPDATE dead_letters SET replayed_at = now(), replay_count = replay_count + 1 WHERE id = $1`, [id]);
    });
    return { ...view(await this.find(id), false), status: 'replayed' };
  }

  /**
   * Marks a dead letter as dealt with without replaying it: it is kept (with who discarded it, for
   * audit), left out of the default list, and can no longer be replayed. Discarding twice is harmless.
   */
  async discard(id: string, by: string) {
    await this.find(id);
    await sql(this.dataSource, `UPDATE dead_letters SET discarded_at = now(), discarded_by = $2 WHERE id = $1 AND discarded_at IS NULL`, [id, by]);
    return { ...view(await this.find(id), false), status: 'discarded' };
  }

  private async find(id: string, runner: DataSource | EntityManager = this.dataSource, lock = false): Promise<DeadLetterRow> {
    const { rows } = await sql<DeadLetterRow>(runner, `SELECT * FROM dead_letters WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
    if (!rows[0]) throw new NotFoundError('Dead letter', id);
    return rows[0];
  }
}

function view(row: DeadLetterRow, withPayload: boolean) {
  return {
    id: row.id,
    stream: row.stream,
    subject: row.subject,
    streamSequence: row.stream_sequence === null ? null : Number(row.stream_sequence),
    deliveries: row.deliveries,
    reason: row.reason,
    taskId: row.task_id,
    createdAt: row.created_at.toISOString(),
    replayedAt: row.replayed_at?.toISOString() ?? null,
    replayCount: row.replay_count,
    discardedAt: row.discarded_at?.toISOString() ?? null,
    discardedBy: row.discarded_by,
    ...(withPayload ? { headers: row.headers, payload: row.payload } : {}),
  };
}

function taskIdOf(payload: string): string | null {
  try {
    const taskId = (JSON.parse(payload) as { taskId?: unknown })?.taskId;
    return typeof taskId === 'string' && UUID.test(taskId) ? taskId : null;
  } catch {
    return null; // not JSON: no task to name
  }
}

function numberOrNull(value: string | undefined): number | null {
  const n = Number(value);
  return value !== undefined && Number.isFinite(n) ? n : null;
}
