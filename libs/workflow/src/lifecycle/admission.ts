import { Subjects, type WorkflowMessage } from '@roadmap/contracts';
import { sql, SqlParams } from '@roadmap/persistence';
import type { EntityManager } from 'typeorm';
import { Dispatch, type HeldMessage } from '../dispatch/dispatch.js';
import type { Db, NewTask, TaskLifecycle } from './task-lifecycle.js';

/** How new tasks are admitted besides their rows: their domain rows and each one's trace. */
export interface AdmissionOptions {
  /** The tasks' creation time (one clock for the task and its domain rows). */
  readonly now?: Date;
  /**
   * The admitted tasks' own rows (a roadmap task's roadmap) as a part of the admitting statement: an
   * INSERT built with `params`, limited to the tasks the statement inserted with `onlyIn(column, admitted)`.
   */
  readonly rowsSql?: (params: SqlParams, tasks: readonly NewTask[], now: Date, admitted: string) => string;
  /** Writes the admitted tasks' own rows after the statement, in the caller's transaction (`db` must then be a transaction's EntityManager). */
  readonly rows?: (em: EntityManager, admitted: readonly NewTask[], now: Date) => Promise<unknown>;
  /** The trace a task's first command continues (a batched admission gives each request its own). */
  readonly traceOf?: (task: NewTask) => Record<string, string> | undefined;
}

/**
 * A new task's first command (`generate`), keyed `workflow-generate:<task>`: the same task always
 * makes the same held row, outbox row and `Nats-Msg-Id`. Held for fair dispatch as its owner's work.
 */
export function generateCommand(task: Pick<NewTask, 'id' | 'type' | 'owner' | 'priority' | 'roadmapId'>, trace?: Record<string, string>): HeldMessage {
  const payload: WorkflowMessage = { taskId: task.id, type: task.type, command: 'generate', ...(task.roadmapId ? { roadmapId: task.roadmapId } : {}) };
  return { subject: Subjects.workflow(task.priority, 'generate'), payload, key: `workflow-generate:${task.id}`, taskId: task.id, owner: task.owner, priority: task.priority, trace };
}

/**
 * Admits new tasks: their rows through the lifecycle, their domain rows, and their `generate`
 * commands held for fair dispatch (`Dispatch.holdSql`: the owner's workflow window releases them to
 * the outbox), in **one statement** (a data-modifying `WITH`), so a task and its first message commit
 * together or not at all even outside a transaction, and an admission costs one round trip to
 * PostgreSQL (the API's latency under load is mostly round trips). The one admission path of POST
 * /tasks, POST /roadmaps and schedules. After the commit the caller asks the `FairDispatcher` for a
 * release (or leaves it to the workflow workers' sweep, within `DISPATCH_SWEEP_MS`). A task whose id
 * exists already is left alone; returns the tasks inserted.
 */
export async function admitTasks(lifecycle: TaskLifecycle, db: Db, tasks: readonly NewTask[], options: AdmissionOptions = {}): Promise<NewTask[]> {
  if (tasks.length === 0) return [];
  if (options.rows && !('queryRunner' in db && db.queryRunner?.isTransactionActive)) throw new Error('admitTasks: `rows` needs the caller\'s transaction');
  const now = options.now ?? new Date();
  const params = new SqlParams();
  const parts = [`admitted AS (${lifecycle.insertSql(params, tasks, now)})`];
  const own = options.rowsSql?.(params, tasks, now, 'admitted');
  if (own) parts.push(`own_rows AS (${own})`);
  const commands = tasks.map((t) => generateCommand(t, options.traceOf?.(t)));
  parts.push(`held AS (${Dispatch.holdSql(params, 'workflow', commands, 'admitted')})`);
  const { rows } = await sql<{ id: string }>(db, `WITH ${parts.join(',\n')}\nSELECT id FROM admitted`, params.values, { prepare: true });
  const inserted = new Set(rows.map((r) => r.id));
  const admitted = tasks.filter((t) => inserted.has(t.id));
  if (admitted.length > 0) await options.rows?.(db as EntityManager, admitted, now);
  return admitted;
}
