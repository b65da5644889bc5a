import { API_BASE, authHeader, session } from './api.js';

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

const FINAL = ['task.completed', 'task.failed', 'task.cancelled'];

/**
 * Follows GET /api/v1/tasks/:id/events with fetch() instead of EventSource: EventSource cannot send
 * an Authorization header, and putting the credential in the URL would leave it in logs and history.
 * Parses the text/event-stream itself, remembers the last id and reconnects with Last-Event-ID after
 * a dropped connection (as EventSource would), and stops for good when the server ends the stream
 * after the task's final event, or answers 204 (the task is over and nothing is left). Returns a
 * function that stops following.
 */
export function followTaskEvents(taskId: string, handlers: EventStreamHandlers): () => void {
  const controller = new AbortController();
  let lastId: number | undefined;
  let lastType = '';
  let retryMs = 3000;

  const run = async () => {
    while (!controller.signal.aborted) {
      handlers.onState('connecting');
      try {
        const response = await fetch(`${API_BASE}/tasks/${taskId}/events`, {
          headers: { accept: 'text/event-stream', ...authHeader(), ...(lastId === undefined ? {} : { 'last-event-id': String(lastId) }) },
          signal: controller.signal,
        });
        if (response.status === 401) session.clear();
        if (response.status === 204 || response.status === 404 || response.status === 401 || !response.body) {
          handlers.onState('ended');
          return;
        }
        if (!response.ok) throw new Error(`events: ${response.status}`);
        handlers.onState('live');
        await readStream(response.body, (block) => {
          const parsed = parseBlock(block);
          if (parsed.retry !== undefined) retryMs = parsed.retry;
          if (parsed.id !== undefined) lastId = parsed.id;
          if (parsed.data === undefined || parsed.id === undefined) return;
          const data = parseData(parsed.data);
          if (!data) return; // not an event of ours: skipped, its id is still remembered
          lastType = parsed.event ?? String(data.type ?? 'message');
          handlers.onEvent({ id: parsed.id, type: lastType, data });
        });
        // The server ends the stream once the task is over (after its final event, and not resumed
        // or retried since: a replay goes past an earlier task.completed). Anything else is a drop.
        if (FINAL.includes(lastType)) {
          handlers.onState('ended');
          return;
        }
      } catch {
        // A dropped connection or a gateway restart: reconnect below, after what we saw last.
        if (controller.signal.aborted) return;
      }
      handlers.onState('retrying');
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  };
  void run();
  return () => controller.abort();
}

/** Reads event blocks (separated by a blank line) until the stream ends. */
export async function readStream(body: ReadableStream<Uint8Array>, onBlock: (block: string) => void): Promise<void> {
  const reader = body.pipeThrough<string>(new TextDecoderStream() as ReadableWritablePair<string, Uint8Array>).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        onBlock(block);
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

export function parseBlock(block: string): { id?: number; event?: string; data?: string; retry?: number } {
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

function parseData(text: string): TaskEvent['data'] | null {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' ? (value as TaskEvent['data']) : null;
  } catch {
    return null;
  }
}
