import { Subjects, type WorkflowMessage } from '@roadmap/contracts';
import type { EntityManager } from 'typeorm';
import { Dispatch, type HeldMessage } from '../dispatch/dispatch.js';
import type { NewTask, TaskLifecycle } from './task-lifecycle.js';

/** How new tasks are admitted besides their rows: their domain rows and each one's trace. */
export interface AdmissionOptions {
  /** The tasks' creation time (one clock for the task and its domain rows). */
  readonly now?: Date;
  /** Writes the admitted tasks' own rows (a roadmap task's roadmap) in the same transaction. */
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
 * Admits new tasks inside the caller's transaction: their rows through the lifecycle, their domain
 * rows, and their `generate` commands held for fair dispatch (`Dispatch.hold`: the owner's workflow
 * window releases them to the outbox), so a task and its first message commit together (or neither
 * does). The one admission path of POST /tasks, POST /roadmaps and schedules. After the commit the
 * caller asks the `FairDispatcher` for a release (or leaves it to the workflow workers' sweep, within
 * `DISPATCH_SWEEP_MS`). A task whose id exists already is left alone; returns the tasks inserted.
 */
export async function admitTasks(lifecycle: TaskLifecycle, em: EntityManager, tasks: readonly NewTask[], options: AdmissionOptions = {}): Promise<NewTask[]> {
  const now = options.now ?? new Date();
  const inserted = new Set(await lifecycle.insert(em, tasks, now));
  const admitted = tasks.filter((t) => inserted.has(t.id));
  if (admitted.length === 0) return admitted;
  await options.rows?.(em, admitted, now);
  await Dispatch.hold(
    em,
    'workflow',
    admitted.map((t) => generateCommand(t, options.traceOf?.(t))),
  );
  return admitted;
}
