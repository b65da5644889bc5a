import type { Writable } from 'node:stream';
import { FINAL_EVENT_TYPES, FINAL_TASK_STATUSES, type TaskStatus } from '@roadmap/contracts';
import type { Logger } from '@roadmap/observability';
import { isSafeEventType, sseComment, sseEvent, sseRetry } from './sse.js';

/** One stored progress event: its EVENTS stream sequence, its JSON, and how many more the stream holds after it. */
export interface StoredEvent {
  readonly seq: number;
  readonly data: string;
  /** Events of the task still in the stream after this one when it was delivered (0: caught up). */
  readonly pending: number;
}

/** What the closing rule needs to know about the task. */
export interface TaskState {
  readonly status: TaskStatus;
  /** When it reached its final state (falls back to the last update). */
  readonly finishedAt: Date;
}

export type StreamEndReason = 'final' | 'client' | 'shutdown' | 'error' | 'source' | 'gone';

export interface TaskEventStreamOptions {
  readonly taskId: string;
  /** The HTTP response, headers already sent. */
  readonly out: Writable;
  /** The task's events from the starting point on; ends when {@link stop} is called. */
  readonly events: AsyncIterable<StoredEvent>;
  /** Events waiting in the stream when it opened (0: nothing to replay). */
  readonly initiallyPending: number;
  /** Stops the source and releases its consumer. */
  readonly stop: () => Promise<void>;
  /** Reads the task's current state (null if it no longer exists). */
  readonly loadTask: () => Promise<TaskState | null>;
  readonly keepAliveMs: number;
  readonly retryMs: number;
  /** How long after a task ended without its final event in this stream the stream still waits for one. */
  readonly finalGraceMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** Rechecks of a task whose final event arrived before its row says it is final. */
const SETTLE_RETRY_MS = 1_000;
const SETTLE_RETRIES = 10;

export const isFinalEvent = (type: string | undefined): boolean => type !== undefined && (FINAL_EVENT_TYPES as readonly string[]).includes(type);
export const isFinalStatus = (status: TaskStatus): boolean => FINAL_TASK_STATUSES.includes(status);

/**
 * Whether a task that has nothing more in the stream is done for good: final, and for long enough
 * that a final event published right after its commit would already be stored.
 */
export function isSettled(task: TaskState, graceMs: number, now = Date.now()): boolean {
  return isFinalStatus(task.status) && now - task.finishedAt.getTime() >= graceMs;
}

/**
 * One client's Server-Sent Events stream of a task's progress events.
 *
 * Writes a `retry:` hint, then each stored event as `id: <stream sequence>`, `event: <type>`,
 * `data: <json>`, a `: keep-alive` comment every `keepAliveMs`, and ends the response once it has
 * caught up with the stream after a final event (task.completed, .failed, .cancelled) and the task
 * row is final too. A task that is final but whose final event never reaches this stream (lost, or
 * expired with the stream's max age) ends the same way once `finalGraceMs` has passed. Writes respect
 * back-pressure: a slow client holds the consumer, not the gateway's memory.
 */
export class TaskEventStream {
  /** Resolves with the reason once the response has ended and the source is released. */
  readonly done: Promise<StreamEndReason>;
  private resolveDone!: (reason: StreamEndReason) => void;
  private ending?: Promise<StreamEndReason>;
  private keepAlive?: NodeJS.Timeout;
  private settleTimer?: NodeJS.Timeout;
  private settling = false;
  private settleRetries = 0;
  private caughtUp: boolean;
  private lastSeq = 0;
  private lastType: string | undefined;
  private delivered = 0;
  private readonly now: () => number;

  constructor(private readonly opts: TaskEventStreamOptions) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.caughtUp = opts.initiallyPending === 0;
    this.now = opts.now ?? Date.now;
  }

  /** Events written so far. */
  get eventsSent(): number {
    return this.delivered;
  }

  start(): void {
    const { out } = this.opts;
    out.once('close', () => void this.end('client'));
    out.on('error', () => void this.end('client'));
    this.write(sseRetry(this.opts.retryMs));
    this.keepAlive = setInterval(() => {
      this.write(sseComment('keep-alive'));
      if (this.caughtUp) void this.settle();
    }, this.opts.keepAliveMs);
    this.keepAlive.unref();
    if (this.caughtUp) void this.settle();
    void this.pump();
  }

  /** Ends the response and releases the source; idempotent. */
  end(reason: StreamEndReason): Promise<StreamEndReason> {
    this.ending ??= (async () => {
      clearInterval(this.keepAlive);
      clearTimeout(this.settleTimer);
      const { out } = this.opts;
      if (!out.writableEnded && !out.destroyed) {
        // On shutdown the connection goes too: kept alive, it would hold the server's close up.
        const socket = reason === 'shutdown' ? (out as { socket?: { end(): void } | null }).socket : undefined;
        out.end(() => socket?.end());
      }
      try {
        await this.opts.stop();
      } catch (error) {
        this.opts.logger.debug({ err: error, taskId: this.opts.taskId }, 'event stream: releasing the consumer failed');
      }
      this.opts.logger.debug({ taskId: this.opts.taskId, reason, events: this.delivered, lastSeq: this.lastSeq }, 'event stream ended');
      this.resolveDone(reason);
      return reason;
    })();
    return this.ending;
  }

  private get closed(): boolean {
    return this.ending !== undefined;
  }

  private async pump(): Promise<void> {
    try {
      for await (const event of this.opts.events) {
        if (this.closed) break;
        await this.deliver(event);
      }
      // The source ended without being stopped (connection closed): the client reconnects and resumes.
      if (!this.closed) await this.end('source');
    } catch (error) {
      if (this.closed) return;
      this.opts.logger.warn({ err: error, taskId: this.opts.taskId }, 'event stream failed; the client will resume');
      await this.end('error');
    }
  }

  private async deliver(event: StoredEvent): Promise<void> {
    let type: unknown;
    let json: string;
    try {
      const parsed: unknown = JSON.parse(event.data);
      type = (parsed as { type?: unknown } | null)?.type;
      // Re-serialised: one line, whatever the publisher's formatting.
      json = JSON.stringify(parsed);
    } catch {
      type = undefined;
      json = '';
    }
    if (isSafeEventType(type)) {
      if (!this.write(sseEvent(event.seq, type, json))) await this.drained();
      this.delivered += 1;
    } else {
      this.opts.logger.warn({ taskId: this.opts.taskId, seq: event.seq }, 'event stream: skipped an event that is not a typed JSON object');
    }
    this.lastSeq = event.seq;
    this.lastType = typeof type === 'string' ? type : undefined;
    this.caughtUp = event.pending === 0;
    this.settleRetries = 0;
    if (this.caughtUp && isFinalEvent(this.lastType)) await this.settle();
  }

  /**
   * The closing rule, checked once caught up: after a final event, end when the task row is final
   * too (a resumed or retried task goes on); without one, end when the task has been final for
   * `finalGraceMs`.
   */
  private async settle(): Promise<void> {
    if (this.closed || this.settling || !this.caughtUp) return;
    this.settling = true;
    const seq = this.lastSeq;
    try {
      const task = await this.opts.loadTask();
      // Something arrived meanwhile: the next check decides.
      if (this.closed || seq !== this.lastSeq || !this.caughtUp) return;
      if (!task) {
        await this.end('gone');
        return;
      }
      if (!isFinalStatus(task.status)) {
        // A final event can precede the row's update (or the task was resumed and its next event is on its way).
        if (isFinalEvent(this.lastType) && this.settleRetries++ < SETTLE_RETRIES) this.scheduleSettle(SETTLE_RETRY_MS);
        return;
      }
      if (isFinalEvent(this.lastType)) {
        await this.end('final');
        return;
      }
      const wait = this.opts.finalGraceMs - (this.now() - task.finishedAt.getTime());
      if (wait <= 0) await this.end('final');
      else this.scheduleSettle(wait);
    } catch (error) {
      this.opts.logger.warn({ err: error, taskId: this.opts.taskId }, 'event stream: reading the task failed; checking again later');
    } finally {
      this.settling = false;
    }
  }

  private scheduleSettle(ms: number): void {
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => void this.settle(), ms);
    this.settleTimer.unref();
  }

  private write(chunk: string): boolean {
    const { out } = this.opts;
    if (out.writableEnded || out.destroyed) return true;
    return out.write(chunk);
  }

  /** Waits until the client has taken what was written (or is gone). */
  private drained(): Promise<void> {
    const { out } = this.opts;
    if (out.destroyed || out.writableEnded) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        out.off('drain', done);
        out.off('close', done);
        resolve();
      };
      out.once('drain', done);
      out.once('close', done);
    });
  }
}
