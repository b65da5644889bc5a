import { JetStreamApiError, type JsMsg, type PubAck } from '@nats-io/jetstream';
import {
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  headers as natsHeaders,
  RequestError,
  TimeoutError,
  type MsgHdrs,
} from '@nats-io/nats-core';
import { AppError, Headers, STREAMS, Subjects, UnavailableError } from '@roadmap/contracts';
import { retryWhileElecting } from './elections.js';
import type { Messaging } from './messaging.js';
import { deadLettersTotal, publishDuration, type DeadLetterCode } from './metrics.js';
import { tracePublish } from './tracing.js';

/** Options of {@link JetStreamPublisher.publish}. */
export interface PublishOptions {
  /**
   * Sets `Nats-Msg-Id`: a second publish with the same id inside the stream's duplicate window is
   * dropped by the server, so a retried request does not become a second job.
   */
  readonly msgId?: string;
  /** Extra headers (task id, trace context). Keys are case-sensitive on the wire. */
  readonly headers?: Readonly<Record<string, string>>;
  /** How long to wait for the stream's ack; default 5 s. */
  readonly timeoutMs?: number;
}

/** The stream's ack of a publish. */
export interface PublishResult {
  /** Stream sequence of the stored message (of the original one for a duplicate). */
  readonly seq: number;
  /** True when the message was a duplicate by `Nats-Msg-Id` and not stored again. */
  readonly duplicate: boolean;
}

/** One message of {@link JetStreamPublisher.publishMany}: subject, payload and its publish options. */
export interface PublishItem extends PublishOptions {
  /** Logical subject. */
  readonly subject: string;
  readonly payload: unknown;
}

const DEFAULT_TIMEOUT_MS = 5_000;
/** Publishes awaiting their ack at once in {@link JetStreamPublisher.publishMany}. */
export const PUBLISH_MANY_IN_FLIGHT = 256;
/** Headers are single lines; a reason longer than this is cut. */
const MAX_REASON_LENGTH = 1_000;

/**
 * Publishes JSON messages to JetStream and waits for the stream's ack, so a resolved publish is
 * durably stored. Subjects are logical; the namespace is applied here.
 */
export class JetStreamPublisher {
  constructor(private readonly messaging: Messaging) {}

  /**
   * Publishes `payload` as JSON to the logical `subject`. Sets `Roadmap-Published-At` (epoch ms, for
   * queue-wait metrics) and, with `msgId`, `Nats-Msg-Id`.
   * @throws UnavailableError when NATS is unreachable, no stream takes the subject, or the ack times out (retryable: 503).
   * @throws AppError `PAYLOAD_TOO_LARGE` when the stream refuses the size; `INTERNAL` for other stream refusals.
   */
  async publish(subject: string, payload: unknown, opts: PublishOptions = {}): Promise<PublishResult> {
    const data = JSON.stringify(payload);
    if (data === undefined) throw new TypeError(`payload for ${subject} is not JSON-serialisable`);
    return this.publishJson(subject, data, opts);
  }

  /**
   * {@link publish} for a payload the caller already serialised as JSON (the execution logger
   * serialises each entry once, when it is logged, and joins them into the message).
   */
  async publishJson(subject: string, data: string, opts: PublishOptions = {}): Promise<PublishResult> {
    const hdrs = natsHeaders();
    if (opts.headers) for (const key in opts.headers) hdrs.set(key, opts.headers[key]!);
    hdrs.set(Headers.publishedAt, String(Date.now()));
    return tracePublish(subject, hdrs, opts.msgId, data.length, () => this.send(subject, data, hdrs, opts.msgId, opts.timeoutMs));
  }

  /**
   * Publishes every item, at most {@link PUBLISH_MANY_IN_FLIGHT} awaiting their ack at once, and
   * resolves with the results in item order once all are acked. If any publish fails, the first
   * error is thrown after the others settled (give items a `msgId` so the caller can simply retry).
   */
  async publishMany(items: readonly PublishItem[]): Promise<PublishResult[]> {
    const results = new Array<PublishResult>(items.length);
    let next = 0;
    let failure: { error: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const index = next++;
        const item = items[index]!;
        try {
          results[index] = await this.publish(item.subject, item.payload, item);
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PUBLISH_MANY_IN_FLIGHT, items.length) }, worker));
    if (failure) throw failure.error;
    return results;
  }

  /**
   * Copies a message that failed for good to `dlq.<STREAM>` of its stream, with its original bytes
   * and headers plus the reason, stream, subject, sequence and delivery count. The dead letter's
   * `Nats-Msg-Id` is `<STREAM>:<sequence>`, so a message dead-lettered twice (a term lost on a
   * reconnect) is stored once.
   */
  async deadLetter(message: JsMsg, code: DeadLetterCode, detail: string): Promise<PublishResult> {
    const { stream: actualStream, streamSequence, deliveryCount } = message.info;
    const stream = this.messaging.logicalStream(actualStream);
    const hdrs = natsHeaders();
    if (message.headers) {
      for (const [key, values] of message.headers) {
        // Nats-* are server directives (dedupe id, expectations) that must not apply to the copy.
        if (key.toLowerCase().startsWith('nats-')) continue;
        for (const value of values) hdrs.append(key, value);
      }
    }
    hdrs.set(Headers.deadLetterReason, oneLine(`${code}: ${detail}`));
    hdrs.set(Headers.deadLetterStream, stream);
    hdrs.set(Headers.deadLetterSubject, this.messaging.logicalSubject(message.subject));
    hdrs.set(Headers.deadLetterSequence, String(streamSequence));
    hdrs.set(Headers.deadLetterDeliveries, String(deliveryCount));
    const result = await this.send(Subjects.deadLetter(stream), message.data, hdrs, `${stream}:${streamSequence}`);
    deadLettersTotal.inc({ stream, reason: code });
    return result;
  }

  private async send(subject: string, data: string | Uint8Array, hdrs: MsgHdrs, msgId?: string, timeoutMs?: number): Promise<PublishResult> {
    const started = performance.now();
    let ack: PubAck;
    try {
      const publish = () =>
        this.messaging.js.publish(this.messaging.subject(subject), data, {
          headers: hdrs,
          timeout: timeoutMs ?? DEFAULT_TIMEOUT_MS,
          ...(msgId === undefined ? {} : { msgID: msgId }),
        });
      // With a message id a repeat is deduplicated, so a stream leader election (a clustered
      // JetStream's failover) is waited out instead of failing the caller.
      ack = msgId === undefined ? await publish() : await retryWhileElecting(publish, () => this.messaging.isConnected());
    } catch (err) {
      publishDuration.observe({ stream: streamOf(subject) }, (performance.now() - started) / 1000);
      throw toPublishError(err, subject);
    }
    publishDuration.observe({ stream: this.messaging.logicalStream(ack.stream) }, (performance.now() - started) / 1000);
    return { seq: ack.seq, duplicate: ack.duplicate };
  }
}

/** Maps a NATS publish failure to the platform's errors: transport trouble is retryable (503). */
export function toPublishError(err: unknown, subject: string): Error {
  if (err instanceof AppError) return err;
  if (err instanceof JetStreamApiError) {
    // 10054: message size exceeds maximum allowed.
    if (err.code === 10054) return new AppError('PAYLOAD_TOO_LARGE', `message on ${subject} is too large for its stream`, { status: 413, cause: err });
    if (err.status >= 500) return new UnavailableError(`JetStream could not store the message on ${subject}: ${err.message}`, undefined, err);
    return new AppError('INTERNAL', `JetStream refused the message on ${subject}: ${err.message}`, { cause: err });
  }
  if (
    err instanceof TimeoutError ||
    err instanceof RequestError ||
    err instanceof ConnectionError ||
    err instanceof ClosedConnectionError ||
    err instanceof DrainingConnectionError ||
    // No stream listens on the subject (not provisioned) surfaces as "jetstream is not enabled".
    (err instanceof Error && err.name === 'JetStreamNotEnabled')
  ) {
    return new UnavailableError(`NATS is unavailable: could not publish to ${subject} (${(err as Error).message})`, undefined, err);
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** Logical stream whose subjects include `subject` (for metric labels when no ack names it). */
function streamOf(subject: string): string {
  for (const decl of Object.values(STREAMS)) {
    for (const pattern of decl.subjects) {
      if (subjectMatches(pattern, subject)) return decl.name;
    }
  }
  return 'unknown';
}

function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

function oneLine(text: string): string {
  const flat = text.replace(/[\r\n]+/g, ' ');
  return flat.length > MAX_REASON_LENGTH ? `${flat.slice(0, MAX_REASON_LENGTH - 1)}...` : flat;
}
