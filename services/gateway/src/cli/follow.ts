import { FINAL_EVENTS, FollowError, followTask as follow, type TaskEvent } from '@roadmap/client';
import type { ApiClient } from './api-client.js';
import { CliError, ExitCode, exitCodeOfStatus } from './exit-codes.js';
import { clock, duration, progressBar } from './format.js';

/** Reconnect failures in a row, with no event between them, before the live stream is given up for polling. */
const MAX_FAILED_RECONNECTS = 10;
const FINAL_EVENT_TYPES: readonly string[] = FINAL_EVENTS;

export type FollowMode = 'bar' | 'lines' | 'json';

/**
 * Follows a task's live progress (GET /api/v1/tasks/:id/events, through @roadmap/client's
 * followTask) until its final event, or until it waits for a review. Writes as it goes: a progress
 * bar redrawn in place on a terminal (stderr), one plain line per event otherwise (stdout), or one
 * JSON line per event with `json`. The helper reconnects with Last-Event-ID, so a gateway restart
 * loses nothing, and polls the task when the stream stays unavailable. Returns the last event seen.
 */
export async function followTask(api: ApiClient, taskId: string, mode: FollowMode): Promise<TaskEvent | undefined> {
  const render = renderer(mode);
  let last: TaskEvent | undefined;
  try {
    await follow(api.client, taskId, {
      maxReconnects: MAX_FAILED_RECONNECTS,
      stopOn: ['review.awaiting'],
      onEvent: (event) => {
        last = event;
        render.event(event);
      },
    });
  } catch (error) {
    if (error instanceof CliError) throw error;
    if (error instanceof FollowError) throw new CliError(`live progress refused: ${error.message}`, exitCodeOfStatus(error.status));
    throw new CliError(`lost the live progress of task ${taskId}: the API at ${api.baseUrl} does not answer (${(error as Error).message})`, ExitCode.unavailable);
  } finally {
    render.end();
  }
  return last;
}

interface Renderer {
  event(event: TaskEvent): void;
  end(): void;
}

function renderer(mode: FollowMode): Renderer {
  if (mode === 'json') return { event: (e) => process.stdout.write(`${JSON.stringify(e)}\n`), end: () => undefined };
  if (mode === 'lines') {
    return {
      event: (e) => {
        if (e.type === 'item.partial') return; // a stream of excerpts: too chatty for a log
        process.stdout.write(`${clock(e.at)} ${describe(e)}\n`);
      },
      end: () => undefined,
    };
  }
  // A terminal: one line redrawn in place (stderr, so stdout keeps only the summary).
  let step = 'queued';
  let progress = { done: 0, failed: 0, total: 0 };
  let drawn = false;
  const started = Date.now();
  const draw = () => {
    process.stderr.write(`\r\x1b[2K${progressBar(progress.done, progress.failed, progress.total)}  ${duration(Date.now() - started)}  ${step}`);
    drawn = true;
  };
  return {
    event: (e) => {
      if ('progress' in e) progress = e.progress;
      if (e.type === 'step.started') step = e.step;
      else if (e.type === 'content.started') step = 'content_generation';
      else if (e.type === 'review.awaiting') step = `awaiting review (revision ${e.revision})`;
      else if (FINAL_EVENT_TYPES.includes(e.type)) step = e.type.slice('task.'.length);
      draw();
    },
    end: () => {
      if (drawn) process.stderr.write('\n');
    },
  };
}

/** One event as a line of text. */
export function describe(e: TaskEvent): string {
  const p = 'progress' in e ? ` ${e.progress.done + e.progress.failed}/${e.progress.total}` : '';
  switch (e.type) {
    case 'step.started':
    case 'step.completed':
      return `${e.type} ${e.step}`;
    case 'item.completed':
    case 'item.retrying':
      return `${e.type} ${e.kind} of concept ${e.conceptId}${p}`;
    case 'item.failed':
      return `${e.type} ${e.kind} of concept ${e.conceptId}: ${e.error}${p}`;
    case 'review.awaiting':
      return `${e.type} revision ${e.revision}`;
    case 'review.submitted':
      return `${e.type} ${e.decision}`;
    case 'task.failed':
      return `${e.type}: ${e.error}`;
    default:
      return `${e.type}${p}`;
  }
}
