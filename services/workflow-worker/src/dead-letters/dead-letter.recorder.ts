import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Headers } from '@roadmap/contracts';
import type { JetStreamContext } from '@roadmap/messaging';
import { sql } from '@roadmap/persistence';
import { WorkflowEngine } from '@roadmap/workflow';
import { DataSource } from 'typeorm';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Records what lands in the DEAD_LETTERS stream into the dead_letters table, for operators (the
 * gateway lists, replays and discards them). The payload is kept as it is, whatever it is (a dead
 * letter may be invalid JSON). Idempotent: the DLQ sequence is the table's unique key, so a
 * redelivery is a no-op. A dead-lettered workflow command also fails its task, with the reason.
 */
@Injectable()
export class DeadLetterRecorder {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(WorkflowEngine) private readonly engine: Pick<WorkflowEngine, 'failIn'>,
  ) {}

  async record(data: Uint8Array, ctx: JetStreamContext): Promise<void> {
    const headers = ctx.headers;
    // PostgreSQL text cannot hold NUL; the rest of a non-UTF-8 payload is kept with replacement characters.
    const payload = decoder.decode(data).replaceAll('\u0000', '');
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
          ctx.streamSequence,
          stream,
          headers[Headers.deadLetterSubject] ?? ctx.subject,
          numberOrNull(headers[Headers.deadLetterSequence]),
          numberOrNull(headers[Headers.deadLetterDeliveries]),
          reason,
          JSON.stringify(headers),
          payload,
          taskId,
        ],
      );
      // A workflow command that failed for good ends its task, with the reason, while it is queued or
      // running (a task that finished or waits for review keeps its state). A content item's failure
      // is the item's: the task goes on with the others.
      if (inserted.count > 0 && taskId && stream === 'ROADMAP_WORKFLOW') {
        await this.engine.failIn(em, taskId, { code: 'DEAD_LETTERED', message: reason }, { from: ['queued', 'running'] });
      }
    });
  }

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
