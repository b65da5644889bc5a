import type { Priority } from '@roadmap/contracts';
import { captureTraceContext } from '@roadmap/messaging';
import { onlyIn, sql, SqlParams } from '@roadmap/persistence';
import type { EntityManager } from 'typeorm';
import type { OutboxMessage } from '../outbox/outbox.js';

/**
 * A class of work dispatched fairly: `workflow`, a task's first command (its design phase holds a
 * workflow worker's slot); `content`, one content item of one generation.
 */
export type DispatchLane = 'workflow' | 'content';
export const DISPATCH_LANES: readonly DispatchLane[] = ['workflow', 'content'];

/**
 * Whether the work a `dispatch_queue` row `q` names is still alive: what "in flight" is counted from,
 * so the count cannot leak whichever way the work ended (completed, failed, cancelled, dead-lettered,
 * reaped, regenerated under a new generation). A workflow start lives while its task is queued or
 * running before any fan-out (`progress_total` is set by the fan-out: the task then waits on its
 * items or children, not on a workflow slot); a content item while it is of the message's generation,
 * not final, and its task may still run it.
 */
export const LIVE: Readonly<Record<DispatchLane, string>> = {
  workflow: `EXISTS (SELECT 1 FROM tasks t WHERE t.id = q.task_id AND (t.status = 'queued' OR (t.status = 'running' AND t.progress_total = 0)))`,
  content: `EXISTS (SELECT 1 FROM content_items i JOIN tasks t ON t.id = q.task_id
                     WHERE i.roadmap_id = (q.payload->>'roadmapId')::uuid AND i.concept_id = (q.payload->>'conceptId')::uuid
                       AND i.kind = q.payload->>'kind' AND i.generation = (q.payload->>'generation')::int
                       AND i.status IN ('pending', 'running') AND t.status IN ('queued', 'running'))`,
};

/** A message to hold: its outbox message (with its logical key) and whose work it is. */
export interface HeldMessage extends OutboxMessage {
  readonly key: string;
  readonly taskId: string;
  readonly owner: string;
  readonly priority: Priority;
}

/**
 * Holds work for fair dispatch inside the caller's transaction, instead of `Outbox.add`: the
 * messages wait in `dispatch_queue` and reach the outbox when the {@link FairDispatcher} releases
 * them (the caller asks it to, after its commit: `FairDispatcher.request`; the workflow worker's
 * sweep releases what no one asked for). A message whose key is held already is not held twice.
 * Workflow commands keep their per-task order in the outbox; content messages do not need it.
 */
export const Dispatch = {
  async hold(em: EntityManager, lane: DispatchLane, messages: readonly HeldMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const params = new SqlParams();
    await sql(em, Dispatch.holdSql(params, lane, messages), params.values);
  },

  /**
   * The INSERT of {@link Dispatch.hold} as a part of a larger statement: with `onlyTasks` (a sibling
   * `WITH` sub-statement returning task ids), only the messages of the tasks it inserted.
   */
  holdSql(p: SqlParams, lane: DispatchLane, messages: readonly HeldMessage[], onlyTasks?: string): string {
    const trace = captureTraceContext();
    const col = (pick: (m: HeldMessage) => unknown, cast: string) => p.add(messages.map(pick), cast);
    return `INSERT INTO dispatch_queue (lane, priority, owner, task_id, msg_id, subject, payload, ordered, trace)
       SELECT ${p.add(lane)}, priority, owner, task_id, msg_id, subject, payload::jsonb, ${p.add(lane === 'workflow')}::boolean, trace::jsonb
         FROM unnest(${col((m) => m.priority, 'text[]')}, ${col((m) => m.owner, 'text[]')}, ${col((m) => m.taskId, 'uuid[]')}, ${col((m) => m.key, 'text[]')},
                     ${col((m) => m.subject, 'text[]')}, ${col((m) => JSON.stringify(m.payload), 'text[]')},
                     ${col((m) => (m.trace ?? trace ? JSON.stringify(m.trace ?? trace) : null), 'text[]')})
              AS x(priority, owner, task_id, msg_id, subject, payload, trace)${onlyIn('x.task_id', onlyTasks)}
       ON CONFLICT (msg_id) DO NOTHING`;
  },
};
