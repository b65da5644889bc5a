import type { ContentGenerateMessage, LogLevel, Progress } from '@roadmap/contracts';
import type { ExecutionLogContext, ExecutionLogger } from '@roadmap/observability';
import { taskEvent, type OutboxMessage } from '@roadmap/workflow';
import type { ItemOutcome } from './content.repository.js';

/** An item that reached its final state, as its announcements tell it. */
export interface FinishedItem {
  itemId: string;
  title: string;
  /** Why it failed; absent: it was generated. */
  error?: { code: string; message: string };
  /** More for its log entry (duration, tokens). */
  data?: Record<string, unknown>;
  /** Whether its task's end is announced here (false for a spent budget: the task's stop says why). */
  announceFinish?: boolean;
}

/** An execution-log entry with its key (see {@link ExecutionLogger.message}). */
export type LogEntry = { level: LogLevel; message: string; context: ExecutionLogContext & { key: string } };

/**
 * What an item reaching its final state announces, for the outbox of the completion's transaction:
 * its event and execution-log entry, and its task's end (event and entry) when it was the last. So
 * they exist exactly when the completion does, whatever happens to the worker after its commit.
 * Nothing when the item had already ended (a redelivery): the first completion announced it. Ids
 * derive from the item, its generation and state, and the finish's counts (a retried item reopens
 * the task, so a task can finish more than once).
 */
export function itemAnnouncements(log: Pick<ExecutionLogger, 'message'>, message: ContentGenerateMessage, outcome: ItemOutcome, item: FinishedItem): OutboxMessage[] {
  if (!outcome.changed) return [];
  const { taskId, conceptId, kind, generation } = message;
  const key = `${conceptId}:${kind}:${generation}`;
  const events = [
    item.error
      ? taskEvent({ type: 'item.failed', taskId, conceptId, kind, error: `${item.error.code}: ${item.error.message}`, progress: outcome.progress }, key)
      : taskEvent({ type: 'item.completed', taskId, conceptId, kind, progress: outcome.progress }, key),
  ];
  if (item.announceFinish !== false && outcome.finished === 'completed') events.push(taskEvent({ type: 'task.completed', taskId, progress: outcome.progress }, finalKey(outcome.progress)));
  if (item.announceFinish !== false && outcome.finished === 'failed') events.push(taskEvent({ type: 'task.failed', taskId, error: itemsFailed(outcome.progress) }, finalKey(outcome.progress)));
  const entry = log.message(itemLogEntries(message, outcome, item));
  return entry ? [...events, entry] : events;
}

/**
 * The execution-log entries of an item's final state (and of its task's end when it was the last),
 * keyed by the item, its generation and state (and the finish's counts), dated by the item's own
 * time: logged again they are stored once (the sink keeps an id once).
 */
export function itemLogEntries(
  message: ContentGenerateMessage,
  outcome: Pick<ItemOutcome, 'progress' | 'finished' | 'finishedAt' | 'taskFinishedAt'>,
  item: FinishedItem,
): LogEntry[] {
  const { taskId, conceptId, kind, generation } = message;
  const status = item.error ? 'failed' : 'completed';
  const context = { taskId, step: kind, key: `item:${item.itemId}:${generation}:${status}`, at: outcome.finishedAt ?? undefined };
  const entries: LogEntry[] = [
    item.error
      ? { level: 'error', message: `${kind} for "${item.title}" failed: ${item.error.message}`, context: { ...context, data: { conceptId, generation, code: item.error.code } } }
      : { level: 'info', message: `${kind} for "${item.title}" generated`, context: { ...context, data: { conceptId, generation, ...item.data } } },
  ];
  if (item.announceFinish !== false && outcome.finished) {
    const finish = { taskId, key: `task:${taskId}:${finalKey(outcome.progress)}`, at: outcome.taskFinishedAt ?? undefined, data: outcome.progress };
    entries.push(
      outcome.finished === 'completed'
        ? { level: 'info', message: 'roadmap completed', context: finish }
        : { level: 'error', message: `roadmap finished with failures: ${itemsFailed(outcome.progress)}`, context: finish },
    );
  }
  return entries;
}

/** A task stopped because an LLM budget is spent: its event and log entry, for the transaction that fails it. */
export function budgetAnnouncements(log: Pick<ExecutionLogger, 'message'>, taskId: string, reason: { code: string; message: string }, key: string): OutboxMessage[] {
  const entry = log.message([
    { level: 'error', message: `roadmap stopped: ${reason.message}`, context: { taskId, key: `budget:${taskId}:${key}`, data: { code: reason.code } } },
  ]);
  return [taskEvent({ type: 'task.failed', taskId, error: `${reason.code}: ${reason.message}` }, `budget:${key}`), ...(entry ? [entry] : [])];
}

/** Several finishes are possible over a task's life (a retried item reopens it): each is named by its counts. */
function finalKey(progress: Progress): string {
  return `final:${progress.done}:${progress.failed}`;
}

function itemsFailed(progress: Progress): string {
  return `${progress.failed} of ${progress.total} content items failed`;
}
