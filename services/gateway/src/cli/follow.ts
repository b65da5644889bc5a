import { FINAL_EVENT_TYPES, TaskEventSchema, type TaskEvent } from '@roadmap/contracts';
import { EventSource } from 'eventsource';
import type { ApiClient } from './api-client.js';
import { CliError, ExitCode, exitCodeOfStatus } from './exit-codes.js';
import { clock, duration, progressBar } from './format.js';

/** Every event type the server sends (named SSE events go to their own listeners only). */
const EVENT_TYPES: readonly string[] = TaskEventSchema.options.map((o) => o.shape.type.value);
/** Reconnect failures in a row, with no event between them, before the server counts as gone. */
const MAX_FAILED_RECONNECTS = 10;

export type FollowMode = 'bar' | 'lines' | 'json';

/**
 * Follows a task's live progress (GET /api/v1/tasks/:id/events) until its final event, or until it
 * waits for a review. Writes as it goes: a progress bar redrawn in place on a terminal (stderr),
 * one plain line per event otherwise (stdout), or one JSON line per event with `json`. The
 * EventSource reconnects by itself with Last-Event-ID, so a gateway restart loses nothing.
 * Returns the last event seen.
 */
export function followTask(api: ApiClient, taskId: string, mode: FollowMode): Promise<TaskEvent | undefined> {
  const auth = api.authHeaders();
  const render = renderer(mode);
  return new Promise((resolve, reject) => {
    let last: TaskEvent | undefined;
    let failures = 0;
    const es = new EventSource(`${api.baseUrl}/api/v1/tasks/${taskId}/events`, {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, ...auth } }),
    });
    const finish = (error?: CliError) => {
      es.close();
      render.end();
      if (error) reject(error);
      else resolve(last);
    };
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (message) => {
        failures = 0;
        let event: TaskEvent;
        try {
          event = JSON.parse(message.data) as TaskEvent;
        } catch {
          return; // not ours to judge: the server only sends JSON
        }
        last = event;
        render.event(event);
        if (FINAL_EVENT_TYPES.includes(event.type) || event.type === 'review.awaiting') finish();
      });
    }
    es.addEventListener('error', (error) => {
      const code = (error as { code?: number }).code;
      if (es.readyState === EventSource.CLOSED) {
        // 204: the task's stream is over (its final event was before we connected): its status tells the rest.
        if (code === 204) finish();
        else if (code !== undefined) finish(new CliError(`live progress refused: HTTP ${code} ${(error as { message?: string }).message ?? ''}`.trim(), exitCodeOfStatus(code)));
        else finish(new CliError(`live progress failed: ${(error as { message?: string }).message ?? 'connection closed'}`, ExitCode.unavailable));
        return;
      }
      if (++failures >= MAX_FAILED_RECONNECTS) {
        finish(new CliError(`lost the live progress of task ${taskId}: the API at ${api.baseUrl} does not answer`, ExitCode.unavailable));
      }
    });
  });
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
