import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { isRetryable, Subjects, type LogBatch, type LogBatchEntry, type LogLevel } from '@roadmap/contracts';
import type { Logger } from 'pino';
import { counter, gauge, histogram } from './metrics.js';

/** What the ExecutionLogger needs of the messaging layer (kept as an interface: this lib sits below it). */
export interface LogEntryPublisher {
  /** Publishes a payload already serialised as JSON (each entry is serialised once, when logged). */
  publishJson(subject: string, json: string, options?: { msgId?: string }): Promise<unknown>;
}

export interface ExecutionLogContext {
  readonly taskId?: string | null;
  readonly step?: string | null;
  readonly data?: Record<string, unknown> | null;
  /**
   * Makes the entry's id a function of this key, so logging the same event again (a handler redone
   * after a crash between its commit and its log) stores one row: the sink ignores a known id.
   */
  readonly key?: string;
  /** When it happened, if not now: with `key`, the time of the original event (see `key`). */
  readonly at?: Date;
}

/** A UUID-shaped id derived from a key (SHA-256, version nibble 8: custom), stable across processes. */
export function keyedId(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** How entries are batched into LOGS messages. */
export interface ExecutionLoggerOptions {
  /**
   * How long the first entry of a batch waits for others before the batch is sent. Default 0: the
   * batch leaves at the end of the event-loop turn it was logged in, unless {@link maxInFlight}
   * messages are unacknowledged: then it waits for one of them (Nagle's rule), gathering what is
   * logged meanwhile. So a lone entry pays no linger (a handler awaiting its log() finishes sooner)
   * and a busy process still sends full messages.
   */
  readonly lingerMs?: number;
  /** LOGS messages awaiting their ack at once; more entries wait and travel together. Default 4. */
  readonly maxInFlight?: number;
  /** Entries per message at most. */
  readonly maxEntries?: number;
  /** JSON bytes (UTF-8) per message at most (the LOGS stream accepts 256 KiB). */
  readonly maxBytes?: number;
  /**
   * JSON bytes (UTF-8) of entries logged and not stored yet, at most: waiting for their message,
   * awaiting its ack, or kept for a retry while the broker is unreachable. An entry logged past it is
   * dropped (written to the process log and counted in `roadmap_execution_logs_dropped_total`):
   * memory stays bounded however long an outage lasts. Default 64 MiB (EXECUTION_LOG_BUFFER_BYTES).
   */
  readonly maxBufferedBytes?: number;
  /** First wait before a failed message is sent again; it doubles on each failure up to {@link maxRetryDelayMs}. Default 100. */
  readonly retryDelayMs?: number;
  /** Longest wait between two sends of a failed message. Default 5,000. */
  readonly maxRetryDelayMs?: number;
}

/** This process, as operators find it: the pod name in Kubernetes (HOSTNAME), plus the pid. */
export const INSTANCE = `${hostname()}:${process.pid}`;

const published = counter('roadmap_execution_logs_published_total', 'Execution-log entries published to the LOGS stream', [
  'level',
  'outcome',
]);
const dropped = counter(
  'roadmap_execution_logs_dropped_total',
  'Execution-log entries that never reached the LOGS stream (kept in the process log only): the buffer was full, the process stopped before the broker came back, or the data could not be serialised',
  ['reason'],
);
const buffered = gauge('roadmap_execution_logs_buffered_bytes', 'JSON bytes of execution-log entries logged and not yet stored by the broker', []);
const batchEntries = histogram('roadmap_execution_log_batch_entries', 'Entries per LOGS message', [], [1, 2, 5, 10, 25, 50, 100, 250]);

interface Pending {
  readonly entry: LogBatchEntry;
  /** The entry as JSON: serialised once, when logged, for both the size check and the message. */
  readonly json: string;
  /** Its UTF-8 size in the message, comma included. */
  readonly bytes: number;
  readonly resolve: (stored: boolean) => void;
}

/** One LOGS message: sent again as it is, under the same message id, until the broker stores it. */
interface Message {
  readonly json: string;
  readonly msgId: string;
  readonly entries: readonly Pending[];
}

/** Why entries were dropped (the `reason` label of `roadmap_execution_logs_dropped_total`). */
type DropReason = 'buffer_full' | 'shutdown' | 'refused' | 'unserialisable';

/**
 * Records what a task's work did, for the people who look at a task later. Entries go to the LOGS
 * stream and the log sink writes them to PostgreSQL in batches: no service writes the table itself,
 * so logging never competes with the work for database connections.
 *
 * Entries logged in the same event-loop turn, or while earlier messages await their ack, travel in
 * one message (producer-side batching, see {@link ExecutionLoggerOptions.lingerMs}): `log()` resolves
 * true once the broker has stored the message holding the entry, and never rejects, so logging never
 * fails the work. A message the broker does not take (NATS restarting, a network blip) is kept and
 * sent again, under the same message id, with a backoff, the messages logged meanwhile queued behind
 * it in order: an entry waits for the broker rather than being lost. What drops an entry, counted in
 * `roadmap_execution_logs_dropped_total` and written to the process log (`log()` then resolves
 * false): the buffer limit ({@link ExecutionLoggerOptions.maxBufferedBytes}), a stop ({@link drain})
 * that outlasts its grace period while the broker is away, a message the broker refuses for good (a
 * non-retryable error: too large for the stream), and data JSON cannot hold.
 */
export class ExecutionLogger {
  private readonly lingerMs: number;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly maxInFlight: number;
  private readonly maxBufferedBytes: number;
  private readonly minRetryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private pending: Pending[] = [];
  private pendingBytes = 0;
  private timer?: NodeJS.Timeout;
  private immediate?: NodeJS.Immediate;
  /** LOGS messages sent and not acknowledged yet. */
  private inFlight = 0;
  /** Messages the broker did not take, oldest first; while any is here, new messages queue behind it. */
  private backlog: Message[] = [];
  private retryTimer?: NodeJS.Timeout;
  private retryDelayMs: number;
  /** Bytes of the entries logged and not settled (stored or dropped) yet: what the buffer limit bounds. */
  private unsettledBytes = 0;
  private unsettledEntries = 0;
  /** Called when the last unsettled entry settles (see {@link drain}). */
  private onIdle?: () => void;
  /** Set by {@link drain} once its time is up: a failed message is then dropped, not kept. */
  private stopped = false;
  /** A kept message is being sent again. */
  private retrying = false;
  /** The start of every message: this process's fields, then the entries (a LogBatch). */
  private readonly header: string;
  /**
   * UTF-8 bytes of a message besides its entries' JSON: the header and the closing `]}`, less the
   * comma the first entry does not need.
   */
  private readonly envelopeBytes: number;
  /** The last millisecond an entry was stamped with, and its ISO form (see {@link now}). */
  private stampMs = Number.NaN;
  private stampIso = '';

  constructor(
    private readonly service: string,
    private readonly publisher: LogEntryPublisher,
    private readonly fallback: Logger,
    options: ExecutionLoggerOptions = {},
  ) {
    this.lingerMs = options.lingerMs ?? 0;
    this.maxEntries = options.maxEntries ?? 256;
    this.maxBytes = options.maxBytes ?? 192 * 1024;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 4);
    this.maxBufferedBytes = options.maxBufferedBytes ?? 64 * 1024 * 1024;
    this.minRetryDelayMs = options.retryDelayMs ?? 100;
    this.maxRetryDelayMs = Math.max(this.minRetryDelayMs, options.maxRetryDelayMs ?? 5_000);
    this.retryDelayMs = this.minRetryDelayMs;
    this.header = `${JSON.stringify({ service, instance: INSTANCE }).slice(0, -1)},"entries":[`;
    this.envelopeBytes = Buffer.byteLength(this.header) + 2 - 1;
  }

  debug(message: string, context?: ExecutionLogContext) {
    return this.log('debug', message, context);
  }
  info(message: string, context?: ExecutionLogContext) {
    return this.log('info', message, context);
  }
  warn(message: string, context?: ExecutionLogContext) {
    return this.log('warn', message, context);
  }
  error(message: string, context?: ExecutionLogContext) {
    return this.log('error', message, context);
  }

  /**
   * Entries as one LOGS message for a transactional outbox: written in the transaction of the effect
   * they tell of (an item generated, a step completed), published by the outbox's relay after the
   * commit, so they exist exactly when the effect does, whatever happens to this process after. Each
   * has a `key` (its id): a message published again stores each entry once. Null for no entries.
   */
  message(entries: ReadonlyArray<{ level: LogLevel; message: string; context: ExecutionLogContext & { key: string } }>): { subject: string; payload: LogBatch } | null {
    if (entries.length === 0) return null;
    return {
      subject: Subjects.log(this.service),
      payload: { service: this.service, instance: INSTANCE, entries: entries.map((e) => this.entry(e.level, e.message, e.context)) },
    };
  }

  private entry(level: LogLevel, message: string, context: ExecutionLogContext): LogBatchEntry {
    return {
      id: context.key === undefined ? randomUUID() : keyedId(context.key),
      ts: context.at ? context.at.toISOString() : this.now(),
      level,
      taskId: context.taskId ?? null,
      step: context.step ?? null,
      message: message.slice(0, 4000),
      data: context.data ?? null,
    };
  }

  log(level: LogLevel, message: string, context: ExecutionLogContext = {}): Promise<boolean> {
    // The process's own fields (service, instance) travel once, on the message (see flush).
    const entry = this.entry(level, message, context);
    let json: string;
    try {
      json = JSON.stringify(entry);
    } catch (error) {
      // Data that JSON cannot hold (a cycle, a BigInt): the entry goes to the process log (pino
      // writes cycles safely), and the work goes on.
      this.drop([entry], 'unserialisable', error);
      return Promise.resolve(false);
    }
    // Its exact size in the message (UTF-8, and the comma before it).
    const bytes = Buffer.byteLength(json) + 1;
    if (this.unsettledBytes + bytes > this.maxBufferedBytes) {
      this.drop([entry], 'buffer_full');
      return Promise.resolve(false);
    }
    if (this.envelopeBytes + this.pendingBytes + bytes > this.maxBytes) void this.flush();
    return new Promise<boolean>((resolve) => {
      this.pending.push({ entry, json, bytes, resolve });
      this.pendingBytes += bytes;
      this.unsettledBytes += bytes;
      this.unsettledEntries++;
      buffered.inc(bytes);
      if (this.pending.length >= this.maxEntries) void this.flush();
      else this.schedule();
    });
  }

  /**
   * The current time in ISO form, formatted once per millisecond: entries logged in the same
   * millisecond share it (formatting a date cost about as much as serialising the entry).
   */
  private now(): string {
    const ms = Date.now();
    if (ms !== this.stampMs) {
      this.stampMs = ms;
      this.stampIso = new Date(ms).toISOString();
    }
    return this.stampIso;
  }

  /** Arms the send of what is pending: after the linger, or at the end of this turn; when busy, on the next ack. */
  private schedule(): void {
    if (this.timer || this.immediate) return;
    if (this.lingerMs > 0) this.timer = setTimeout(() => this.flush(), this.lingerMs);
    else if (this.inFlight < this.maxInFlight) this.immediate = setImmediate(() => this.flush());
    // Else every slot is busy: the next ack sends the pending entries (see flush).
  }

  /**
   * Sends what is pending now (or queues it behind messages waiting for a retry); resolves when
   * the message is stored or kept for a retry.
   */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    const entries = this.pending;
    if (entries.length === 0) return Promise.resolve();
    this.pending = [];
    this.pendingBytes = 0;
    // A LogBatch, from the entries' own JSON.
    let json = this.header;
    for (let i = 0; i < entries.length; i++) json += i === 0 ? entries[i]!.json : `,${entries[i]!.json}`;
    json += ']}';
    batchEntries.observe(entries.length);
    const message: Message = { json, msgId: randomUUID(), entries };
    // The broker failed the messages before: this one waits its turn behind them (the retry sends them in order).
    if (this.backlog.length > 0) {
      this.backlog.push(message);
      return Promise.resolve();
    }
    return this.send(message).then(
      () => this.settle(message.entries, true),
      (error: unknown) => this.keep(message, error),
    );
  }

  /**
   * Sends everything logged so far and waits until the broker has stored it, for at most
   * `timeoutMs` (a stopping process calls this before it closes its NATS connection). What is not
   * stored by then is dropped (counted, and written to the process log), as is any message that
   * fails afterwards. Resolves true when nothing was dropped.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    void this.flush();
    if (this.backlog.length > 0) {
      // Retry at once, and then often: the grace period is short.
      this.retryDelayMs = this.minRetryDelayMs;
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.retry();
    }
    if (this.unsettledEntries > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.onIdle = resolve;
        timer = setTimeout(resolve, Math.max(0, timeoutMs));
      });
      clearTimeout(timer);
      this.onIdle = undefined;
    }
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const lost = [...this.backlog.flatMap((m) => m.entries), ...this.pending];
    this.backlog = [];
    this.pending = [];
    this.pendingBytes = 0;
    if (lost.length === 0) return this.unsettledEntries === 0;
    this.drop(lost.map((p) => p.entry), 'shutdown');
    this.settle(lost, false);
    return false;
  }

  /** Entries (and bytes) logged and not yet stored or dropped. */
  get unsettled(): { entries: number; bytes: number } {
    return { entries: this.unsettledEntries, bytes: this.unsettledBytes };
  }

  private send(message: Message): Promise<unknown> {
    this.inFlight++;
    return this.publisher.publishJson(Subjects.log(this.service), message.json, { msgId: message.msgId }).finally(() => {
      this.inFlight--;
      // Entries that waited for a free slot go now, together.
      if (this.pending.length > 0 && this.lingerMs <= 0 && this.timer === undefined && this.immediate === undefined) this.immediate = setImmediate(() => this.flush());
    });
  }

  /**
   * A message the broker did not take: kept for a retry, or dropped if it never will be (refused for
   * good, e.g. larger than the stream accepts) or the process is stopping.
   */
  private keep(message: Message, error: unknown): void {
    if (this.stopped || !isRetryable(error)) {
      this.discard(message, this.stopped ? 'shutdown' : 'refused', error);
      return;
    }
    countByLevel(message.entries, 'retried');
    // Said once per outage, not once per message.
    if (this.backlog.length === 0) this.fallback.warn({ err: error, entries: message.entries.length }, 'execution log message not published; kept and retried');
    this.backlog.push(message);
    this.armRetry();
  }

  private armRetry(): void {
    if (this.retryTimer || this.backlog.length === 0) return;
    // Jittered, so the processes of a platform that lost the broker together do not return in step.
    const delay = this.retryDelayMs * (0.75 + Math.random() * 0.5);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.retry();
    }, delay);
    // A process with nothing else to do is not kept alive by it (a stopping one calls drain()).
    this.retryTimer.unref();
  }

  /** Sends the oldest kept message; on success the next at once, on failure again after a longer wait. */
  private retry(): void {
    const message = this.backlog[0];
    if (!message || this.retrying) return;
    this.retrying = true;
    this.send(message).then(
      () => {
        this.retrying = false;
        // drain() gave up on it meanwhile: already counted as dropped, and the broker has it after all.
        if (this.backlog[0] !== message) return;
        this.backlog.shift();
        this.retryDelayMs = this.minRetryDelayMs;
        this.settle(message.entries, true);
        if (this.backlog.length > 0) this.retry();
        else if (this.pending.length > 0) this.schedule();
      },
      (error: unknown) => {
        this.retrying = false;
        if (this.stopped) return;
        if (!isRetryable(error)) {
          // Refused for good: it must not hold up the messages behind it.
          this.backlog.shift();
          this.discard(message, 'refused', error);
          if (this.backlog.length > 0) this.retry();
          else if (this.pending.length > 0) this.schedule();
          return;
        }
        this.retryDelayMs = Math.min(this.retryDelayMs * 2, this.maxRetryDelayMs);
        this.fallback.debug({ err: error, backlog: this.backlog.length, retryInMs: this.retryDelayMs }, 'execution log retry failed');
        this.armRetry();
      },
    );
  }

  /** Resolves entries as stored or not, and releases their share of the buffer. */
  private settle(entries: readonly Pending[], stored: boolean): void {
    if (stored) countByLevel(entries, 'published');
    let bytes = 0;
    for (const p of entries) {
      bytes += p.bytes;
      p.resolve(stored);
    }
    this.unsettledBytes -= bytes;
    this.unsettledEntries -= entries.length;
    buffered.dec(bytes);
    if (this.unsettledEntries === 0) this.onIdle?.();
  }

  private discard(message: Message, reason: DropReason, error: unknown): void {
    this.drop(
      message.entries.map((p) => p.entry),
      reason,
      error,
    );
    this.settle(message.entries, false);
  }

  /** Entries that will never reach the stream: counted, and kept in the process log with the reason. */
  private drop(entries: readonly LogBatchEntry[], reason: DropReason, error?: unknown): void {
    dropped.inc({ reason }, entries.length);
    for (const entry of entries) this.fallback.error({ entry, reason, err: error }, 'execution log entry dropped; kept in the process log only');
  }
}

/** Counts a message's entries per level: one counter update per level, not one per entry. */
function countByLevel(batch: readonly Pending[], outcome: 'published' | 'retried'): void {
  const counts = new Map<LogLevel, number>();
  for (const p of batch) counts.set(p.entry.level, (counts.get(p.entry.level) ?? 0) + 1);
  for (const [level, n] of counts) published.inc({ level, outcome }, n);
}
