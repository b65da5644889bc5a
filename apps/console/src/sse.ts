import { API_BASE, authHeader } from './api.js';

export interface TaskEvent {
  /** The event's sequence in the EVENTS stream (what Last-Event-ID names). */
  readonly id: number;
  readonly type: string;
  readonly data: Record<string, unknown> & { at?: string };
}

export interface EventStreamHandlers {
  onEvent(event: TaskEvent): void;
  onState(state: 'connecting' | 'live' | 'ended' | 'retrying'): void;
}

/**
 * Follows GET /api/v1/tasks/:id/events with fetch() instead of EventSource: EventSource cannot send
 * an Authorization header, and putting the credential in the URL would leave it in logs and history.
 * Parses the text/event-stream itself, remembers the last id and reconnects with Last-Event-ID after
 * a dropped connection (as EventSource would), and stops for good on the task's final event or a
 * 204 (the task is over and nothing is left). Returns a function that stops following.
 */
export function followTaskEvents(taskId: string, handlers: EventStreamHandlers): () => void {
  const controller = new AbortController();
  let lastId: number | undefined;
  let retryMs = 3000;

  const run = async () => {
    while (!controller.signal.aborted) {
      handlers.onState('connecting');
      try {
        const response = await fetch(`${API_BASE}/tasks/${taskId}/events`, {
          headers: { accept: 'text/event-stream', ...authHeader(), ...(lastId === undefined ? {} : { 'last-event-id': String(lastId) }) },
          signal: controller.signal,
        });
        if (response.status === 204 || response.status === 404 || response.status === 401 || !response.body) {
          handlers.onState('ended');
          return;
        }
        if (!response.ok) throw new Error(`events: ${response.status}`);
        handlers.onState('live');
        const finished = await readStream(response.body, (block) => {
          const parsed = parseBlock(block);
          if (parsed.retry !== undefined) retryMs = parsed.retry;
          if (parsed.id !== undefined) lastId = parsed.id;
          if (parsed.data === undefined || parsed.id === undefined) return false;
          const data = JSON.parse(parsed.data) as TaskEvent['data'];
          const type = parsed.event ?? String(data.type ?? 'message');
          handlers.onEvent({ id: parsed.id, type, data });
          return type === 'task.completed' || type === 'task.failed' || type === 'task.cancelled';
        });
        if (finished) {
          handlers.onState('ended');
          return;
        }
      } catch (error) {
        if (controller.signal.aborted) return;
      }
      handlers.onState('retrying');
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  };
  void run();
  return () => controller.abort();
}

/** Reads event blocks (separated by a blank line) until the stream ends or `onBlock` says it is over. */
async function readStream(body: ReadableStream<Uint8Array>, onBlock: (block: string) => boolean): Promise<boolean> {
  const reader = body.pipeThrough<string>(new TextDecoderStream() as ReadableWritablePair<string, Uint8Array>).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return false;
      buffer += value.replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (onBlock(block)) return true;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

function parseBlock(block: string): { id?: number; event?: string; data?: string; retry?: number } {
  const out: { id?: number; event?: string; data?: string; retry?: number } = {};
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id' && /^\d+$/.test(value)) out.id = Number(value);
    else if (field === 'event') out.event = value;
    else if (field === 'data') out.data = out.data === undefined ? value : `${out.data}\n${value}`;
    else if (field === 'retry' && /^\d+$/.test(value)) out.retry = Number(value);
  }
  return out;
}
