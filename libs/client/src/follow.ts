import { createParser } from 'eventsource-parser';
import type { RoadmapClient, TaskDetail, TaskEvent } from './client.js';

/** Events after which a task does nothing more (unless a person resumes it). */
export const FINAL_EVENTS = ['task.completed', 'task.failed', 'task.cancelled'] as const;
const FINAL_STATUSES = ['completed', 'failed', 'cancelled'];

export interface FollowOptions {
  /** Each progress event, in order, once (replayed from the start unless `lastEventId` is given), with its id. */
  onEvent?: (event: TaskEvent, id: string | undefined) => void;
  /** Where the follow stands: connecting, live (the stream is open), retrying (after a drop), polling, ended. */
  onState?: (state: FollowState) => void;
  /** Each polled state while the event stream is unavailable. */
  onPoll?: (task: TaskDetail) => void;
  /** Resume after this event id (the `id:` of the last event seen). */
  lastEventId?: string;
  signal?: AbortSignal;
  /** Pause between polls, and between reconnects (ms, default 1000). */
  intervalMs?: number;
  /** Failed connections in a row after which the stream is given up for polling (default 3). */
  maxReconnects?: number;
  /** Event types that end the follow besides the final ones (`review.awaiting`: stop when a person must act). */
  stopOn?: readonly string[];
}

export type FollowState = 'connecting' | 'live' | 'retrying' | 'polling' | 'ended';

export interface FollowResult {
  /** The task as GET /tasks/{id} answers once it is over. */
  task: TaskDetail;
  /** How it was followed to the end: live events, or polling when the stream was unavailable. */
  via: 'events' | 'polling';
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

/**
 * Follows a task to its end (or to an event of `stopOn`): reads GET /tasks/{id}/events (Server-Sent Events), reconnecting with
 * Last-Event-ID after a drop so no event is lost or repeated; when the stream cannot be had (a proxy
 * that refuses it, repeated failures), polls GET /tasks/{id} instead. Resolves with the final task
 * once a final event (task.completed, task.failed, task.cancelled) arrives or the task is over.
 */
export async function followTask(client: RoadmapClient, taskId: string, options: FollowOptions = {}): Promise<FollowResult> {
  const interval = options.intervalMs ?? 1_000;
  let lastEventId = options.lastEventId;
  let failures = 0;
  while (!options.signal?.aborted && failures < (options.maxReconnects ?? 3)) {
    options.onState?.('connecting');
    try {
      const outcome = await readStream(client, taskId, lastEventId, options, (id) => (lastEventId = id));
      if (outcome === 'final' || outcome === 'over') {
        options.onState?.('ended');
        return { task: await getTask(client, taskId), via: 'events' };
      }
      failures = 0; // the stream ended early (a deploy, a proxy timeout): resume where it stopped
    } catch (error) {
      if (isClientError(error)) {
        options.onState?.('ended');
        throw error;
      }
      failures += 1;
    }
    options.onState?.('retrying');
    await sleep(interval, options.signal);
  }
  if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
  options.onState?.('polling');
  const task = await poll(client, taskId, options, interval);
  options.onState?.('ended');
  return { task, via: 'polling' };
}

/** The API refused to let a task be followed: `status` is the HTTP status (404: no such task, 401: no valid credential). */
export class FollowError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'FollowError';
  }
}
/** A 4xx other than 408/429 will not get better by retrying (no such task, no credential). */
const isClientError = (error: unknown) => error instanceof FollowError && error.status >= 400 && error.status < 500 && ![408, 429].includes(error.status);

async function readStream(
  client: RoadmapClient,
  taskId: string,
  lastEventId: string | undefined,
  options: FollowOptions,
  seen: (id: string) => void,
): Promise<'final' | 'over' | 'ended'> {
  const { response } = await client.GET('/api/v1/tasks/{id}/events', {
    params: { path: { id: taskId }, header: lastEventId ? { 'Last-Event-ID': lastEventId } : {} },
    parseAs: 'stream',
    signal: options.signal,
  });
  if (response.status === 204) return 'over';
  if (!response.ok || !response.body) throw new FollowError(response.status, `GET events: ${response.status}`);
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) throw new FollowError(502, 'GET events: not an event stream');
  options.onState?.('live');
  let final = false;
  const parser = createParser({
    onEvent: (message) => {
      const event = JSON.parse(message.data) as TaskEvent;
      if (message.id) seen(message.id);
      options.onEvent?.(event, message.id);
      if ((FINAL_EVENTS as readonly string[]).includes(event.type) || options.stopOn?.includes(event.type)) final = true;
    },
  });
  const decoder = new TextDecoder();
  const reader = response.body.getReader();
  try {
    while (!final) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return final ? 'final' : 'ended';
}

async function getTask(client: RoadmapClient, taskId: string): Promise<TaskDetail> {
  const { data, error, response } = await client.GET('/api/v1/tasks/{id}', { params: { path: { id: taskId } } });
  if (!data) throw new FollowError(response.status, `GET task: ${error?.code ?? response.status} ${error?.message ?? ''}`.trim());
  return data;
}

async function poll(client: RoadmapClient, taskId: string, options: FollowOptions, interval: number): Promise<TaskDetail> {
  for (;;) {
    const task = await getTask(client, taskId);
    options.onPoll?.(task);
    if (FINAL_STATUSES.includes(task.status) || (task.status === 'awaiting_review' && options.stopOn?.includes('review.awaiting')) || options.signal?.aborted) return task;
    await sleep(interval, options.signal);
  }
}
