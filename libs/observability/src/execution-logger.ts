import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Subjects, type LogBatchEntry, type LogLevel } from '@roadmap/contracts';
import type { Logger } from 'pino';
import { counter, histogram } from './metrics.js';

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
}

/** This process, as operators find it: the pod name in Kubernetes (HOSTNAME), plus the pid. */
export const INSTANCE = `${hostname()}:${process.pid}`;

const published = counter('roadmap_execution_logs_published_total', 'Execution-log entries published to the LOGS stream', [
  'level',
  'outcome',
]);
const batchEntries = histogram('roadmap_execution_log_batch_entries', 'Entries per LOGS message', [], [1, 2, 5, 10, 25, 50, 100, 250]);

interface Pending {
  readonly entry: LogBatchEntry;
  /** The entry as JSON: serialised once, when logged, for both the size check and the message. */
  readonly json: string;
  readonly resolve: (stored: boolean) => void;
}

/**
 * Records what a task's work did, for the people who look at a task later. Entries go to the LOGS
 * stream and the log sink writes them to PostgreSQL in batches: no service writes the table itself,
 * so logging never competes with the work for database connections.
 *
 * Entries logged in the same event-loop turn, or while earlier messages await their ack, travel in
 * one message (producer-side batching, see {@link ExecutionLoggerOptions.lingerMs}): `log()` resolves once the broker has stored the message holding the entry — it is then never
 * lost — and never rejects: an entry that cannot be published goes to the process log instead, so
 * logging never fails the work.
 */
export class ExecutionLogger {
  private readonly lingerMs: number;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly maxInFlight: number;
  private pending: Pending[] = [];
  private pendingBytes = 0;
  private timer?: NodeJS.Timeout;
  private immediate?: NodeJS.Immediate;
  /** LOGS messages sent and not acknowledged yet. */
  private inFlight = 0;
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

  log(level: LogLevel, message: string, context: ExecutionLogContext = {}): Promise<boolean> {
    // The process's own fields (service, instance) travel once, on the message (see flush).
    const entry: LogBatchEntry = {
      id: context.key === undefined ? randomUUID() : keyedId(context.key),
      ts: context.at ? context.at.toISOString() : this.now(),
      level,
      taskId: context.taskId ?? null,
      step: context.step ?? null,
      message: message.slice(0, 4000),
      data: context.data ?? null,
    };
    let json: string;
    try {
      json = JSON.stringify(entry);
    } catch (error) {
      // Data that JSON cannot hold (a cycle, a BigInt): the entry goes to the process log (pino
      // writes cycles safely), and the work goes on.
      published.inc({ level, outcome: 'fallback' });
      this.fallback.warn({ entry, err: error }, 'execution log entry cannot be serialised; kept in the process log');
      return Promise.resolve(false);
    }
    // Its exact size in the message (UTF-8, and the comma before it).
    const bytes = Buffer.byteLength(json) + 1;
    if (this.envelopeBytes + this.pendingBytes + bytes > this.maxBytes) void this.flush();
    return new Promise<boolean>((resolve) => {
      this.pending.push({ entry, json, resolve });
      this.pendingBytes += bytes;
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

  /** Sends what is pending now; resolves when it is stored (or fell back). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    const batch = this.pending;
    if (batch.length === 0) return Promise.resolve();
    this.pending = [];
    this.pendingBytes = 0;
    // A LogBatch, from the entries' own JSON.
    let json = this.header;
    for (let i = 0; i < batch.length; i++) json += i === 0 ? batch[i]!.json : `,${batch[i]!.json}`;
    json += ']}';
    batchEntries.observe(batch.length);
    this.inFlight++;
    const sent = this.publisher.publishJson(Subjects.log(this.service), json, { msgId: randomUUID() }).finally(() => {
      this.inFlight--;
      // Entries that waited for a free slot go now, together.
      if (this.pending.length > 0 && this.lingerMs <= 0 && this.timer === undefined && this.immediate === undefined) this.immediate = setImmediate(() => this.flush());
    });
    return sent.then(
      () => {
        countByLevel(batch, 'published');
        for (const p of batch) p.resolve(true);
      },
      (error: unknown) => {
        countByLevel(batch, 'fallback');
        for (const p of batch) {
          this.fallback.warn({ entry: p.entry, err: error }, 'execution log entry not published; kept in the process log');
          p.resolve(false);
        }
      },
    );
  }
}

/** Counts a sent batch's entries per level: one counter update per level, not one per entry. */
function countByLevel(batch: readonly Pending[], outcome: 'published' | 'fallback'): void {
  const counts = new Map<LogLevel, number>();
  for (const p of batch) counts.set(p.entry.level, (counts.get(p.entry.level) ?? 0) + 1);
  for (const [level, n] of counts) published.inc({ level, outcome }, n);
}
