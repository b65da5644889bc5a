import { AppError, type TaskStatus } from '@roadmap/contracts';

/**
 * The task state machine: queued -> running -> (awaiting_review -> running)* -> completed | failed |
 * cancelled, and resume from failed or cancelled. Every write of a task's status names the states it
 * may come from through this table, so no code path can invent a transition.
 *
 * Beyond the happy path, each extra edge is a behaviour the platform has:
 * - queued -> awaiting_review: a task resumed while it waited for a person waits again;
 * - queued -> completed: a resumed task whose work was all done already;
 * - queued/awaiting_review -> failed: the reaper, a dead-lettered command or a hard deadline;
 * - running -> running: a new run (lease) or step of the same task;
 * - completed/failed -> running: a person regenerates some of a task's items;
 * - failed -> failed: the error is made precise (a spent LLM budget replaces ITEMS_FAILED).
 */
export const TASK_TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  queued: ['running', 'awaiting_review', 'completed', 'failed', 'cancelled'],
  running: ['running', 'awaiting_review', 'completed', 'failed', 'cancelled'],
  awaiting_review: ['running', 'failed', 'cancelled'],
  completed: ['running'],
  failed: ['queued', 'running', 'failed'],
  cancelled: ['queued'],
};

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return TASK_TRANSITIONS[from].includes(to);
}

/** The states a task may move to `to` from: the guard of every status write. */
export function statesBefore(to: TaskStatus): TaskStatus[] {
  return (Object.keys(TASK_TRANSITIONS) as TaskStatus[]).filter((from) => canTransition(from, to));
}

/** A change of state the machine does not allow (a bug or a race the caller must handle). */
export class InvalidTransitionError extends AppError {
  constructor(
    readonly taskId: string,
    readonly from: TaskStatus,
    readonly to: TaskStatus,
  ) {
    super('INVALID_TRANSITION', `task ${taskId} cannot go from ${from} to ${to}`, { status: 409 });
  }
}
