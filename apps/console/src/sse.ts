import { FollowError, followTask, type FollowState, type TaskEvent as ApiTaskEvent } from '@roadmap/client';
import { client, session } from './api.js';

export interface TaskEvent {
  /** The event's sequence in the EVENTS stream (what Last-Event-ID names). */
  readonly id: number;
  readonly type: ApiTaskEvent['type'];
  readonly data: ApiTaskEvent;
}

export interface EventStreamHandlers {
  onEvent(event: TaskEvent): void;
  onState(state: FollowState): void;
}

/**
 * Follows GET /api/v1/tasks/:id/events with @roadmap/client's followTask (fetch, not EventSource:
 * EventSource cannot send an Authorization header, and a credential in the URL would stay in logs
 * and history): it reconnects with Last-Event-ID after a drop, polls the task when the stream stays
 * unavailable, and ends after the final event. A 401 ends the session. Returns a function that stops.
 */
export function followTaskEvents(taskId: string, handlers: EventStreamHandlers): () => void {
  const controller = new AbortController();
  followTask(client, taskId, {
    signal: controller.signal,
    intervalMs: 3_000,
    maxReconnects: Number.POSITIVE_INFINITY,
    onState: handlers.onState,
    onEvent: (event, id) => handlers.onEvent({ id: Number(id), type: event.type, data: event }),
  }).catch((error: unknown) => {
    if (error instanceof FollowError && error.status === 401) session.clear();
    handlers.onState('ended');
  });
  return () => controller.abort();
}
