import { Subjects, type TaskEvent } from '@roadmap/contracts';
import type { TaskEventInput } from '@roadmap/runtime';
import type { OutboxMessage } from './outbox.js';

/**
 * A task's progress event as an outbox message, for the transaction that decided it (a status
 * change, an item's completion, a checkpoint). Its `Nats-Msg-Id` is `<task>:<type>:<dedupe>`, the
 * id {@link TaskEvents.publish} gives the same event, so a transaction that runs again never says it
 * twice; it is ordered with the task's other messages.
 */
export function taskEvent(event: TaskEventInput, dedupe: string): OutboxMessage {
  return {
    subject: Subjects.taskEvents(event.taskId),
    payload: { ...event, at: new Date().toISOString() } as TaskEvent,
    key: `${event.taskId}:${event.type}:${dedupe}`,
    taskId: event.taskId,
  };
}

/**
 * The core NATS notice that makes every worker abort a cancelled (or failed for good) task's work in
 * flight, for the transaction that ended it. `key` names that end (`cancelled:<at>`, `deadline`, …).
 */
export function cancelNotice(taskId: string, key: string): OutboxMessage {
  return { subject: Subjects.taskCancelled, payload: { taskId }, key: `cancel-notice:${taskId}:${key}`, taskId, core: true };
}

/** The `task.cancelled` event and the cancel notice of each task a transaction cancelled. */
export function cancelMessages(taskIds: readonly string[], key: string): OutboxMessage[] {
  return taskIds.flatMap((taskId) => [cancelNotice(taskId, key), taskEvent({ type: 'task.cancelled', taskId }, key)]);
}
