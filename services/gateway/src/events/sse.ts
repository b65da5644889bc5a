import { ValidationError } from '@roadmap/contracts';

/*
 * The Server-Sent Events wire format (https://html.spec.whatwg.org/multipage/server-sent-events.html):
 * fields `id`, `event`, `data`, `retry` and comments, each line ending in LF, an event ending in a
 * blank line.
 */

/** Response headers of an event stream; `x-accel-buffering: no` stops nginx (the ingress) buffering it. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const;

/** One event. `data` is split on line breaks (one `data:` line each), so any text is framed safely. */
export function sseEvent(id: number, type: string, data: string): string {
  const lines = data.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`);
  return `id: ${id}\nevent: ${type}\n${lines.join('')}\n`;
}

/** A comment line: ignored by clients, keeps idle connections open through proxies. */
export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

/** How long a client waits before reconnecting after the stream ends or drops. */
export function sseRetry(ms: number): string {
  return `retry: ${Math.max(0, Math.floor(ms))}\n\n`;
}

/** An event type fit for the `event:` field (no line breaks, nothing a client would mis-parse). */
export function isSafeEventType(type: unknown): type is string {
  return typeof type === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(type);
}

/**
 * The stream sequence a client has already seen, from `Last-Event-ID` (preferred: a reconnecting
 * EventSource sends it) or the `lastEventId` query parameter; `undefined` when neither is set.
 * Ids are the EVENTS stream sequences this endpoint sends, so anything but a non-negative integer is
 * a 400.
 */
export function parseLastEventId(header: string | string[] | undefined, query: string | string[] | undefined): number | undefined {
  const pick = (value: string | string[] | undefined) => (Array.isArray(value) ? value.at(-1) : value)?.trim() || undefined;
  const fromHeader = pick(header);
  const raw = fromHeader ?? pick(query);
  if (raw === undefined) return undefined;
  const field = fromHeader !== undefined ? 'Last-Event-ID' : 'lastEventId';
  if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new ValidationError(`${field} must be an event id this endpoint sent (a non-negative integer)`, [
      { field, message: 'must be a non-negative integer' },
    ]);
  }
  return Number(raw);
}
