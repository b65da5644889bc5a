import type { Messaging } from './messaging.js';
import type { Logger } from '@roadmap/observability';
import type { Outcome } from './metrics.js';

/** One consumer of a {@link JetStreamServer} as {@link JetStreamServer.snapshot} reports it. */
export interface RouteSnapshot {
  /** Durable consumer name and logical stream. */
  readonly consumer: string;
  readonly stream: string;
  /** The consumer's filter subject (logical): what the handler serves. */
  readonly filterSubject: string;
  /** Handler slots (batch slots for a batch handler), operator controls applied. */
  readonly concurrency: number;
  /** Handler slots as configured at start. */
  readonly configuredConcurrency: number;
  /** Who paused the consumer and when (ISO), if it is paused. */
  readonly paused: { readonly by: string; readonly at: string } | null;
  /** What runs now (at most 50): since when, and for which task. */
  readonly active: ReadonlyArray<{ readonly subject: string; readonly streamSequence: number; readonly deliveryCount: number; readonly startedAt: string; readonly taskId: string | null }>;
  /** Messages being handled now. */
  readonly inFlight: number;
  /** Messages delivered and held, not handled yet (parked, or a batch being collected). */
  readonly held: number;
  /** Messages per outcome since the consumer was bound. */
  readonly handled: Readonly<Record<Outcome, number>>;
  /** ISO time the consumer was bound. */
  readonly since: string;
}

/** Options of {@link JetStreamServer}. */
export interface JetStreamServerOptions {
  readonly messaging: Messaging;
  /**
   * Operator controls (pause, concurrency, drain) read from the ADMIN_CONTROL KV bucket before the
   * first pull and watched after: `workerId` is this process's id in the worker registry, `onDrain`
   * starts the graceful exit when an operator drains it. Absent: no controls (unit tests).
   */
  readonly control?: { readonly workerId: string; readonly onDrain?: () => void };
  readonly logger: Logger;
  /**
   * Handlers in flight at once per durable (batches in flight for a batch handler); default 1. A
   * replica takes a message only when a slot is free, so other replicas get the rest of the work.
   */
  readonly concurrency?: Readonly<Record<string, number>>;
  /**
   * Messages consume() may hold for a durable beyond those the loop took (single-message handlers).
   * Default: adaptive. Until its handlers prove fast the route pulls exactly its free slots (one
   * fetch, renewed when filled or expired), so a busy replica holds nothing it is not running
   * (nothing waits unheartbeated, other replicas get the work) and an idle one takes a burst in one
   * round trip; once handlers prove fast (mean under 5 ms) it consumes with a prefetch of
   * max(concurrency, 128) for throughput. A fixed value disables the adaptation; messages held past
   * a saturated stretch are then parked and heartbeated.
   */
  readonly prefetch?: Readonly<Record<string, number>>;
  /** Batch size and flush age per durable of a batch handler, overriding the decorator's (env config). */
  readonly batches?: Readonly<Record<string, { readonly maxBatch: number; readonly maxWaitMs: number }>>;
  /** On close, how long in-flight handlers may run before they are aborted and their messages naked; default 20 s. */
  readonly shutdownGraceMs?: number;
  /**
   * How long a handler failing because infrastructure is unreachable (database restarting, dropped
   * connection) is retried in place before the failure counts as a delivery; default 2 minutes.
   */
  readonly outageRetryMs?: number;
  /**
   * Time limits per durable (single-message handlers). At `softMs` the handler's signal aborts with
   * a {@link TimeLimitExceeded} reason so it can checkpoint and stop; its failure is then retried like
   * any other (the next delivery resumes from the checkpoints) and dead-lettered on the last one. At
   * `hardMs` a handler that has not returned is given up: its message is dead-lettered (`time_limit`)
   * and terminated, and its late result is ignored. Absent: no limit.
   */
  readonly timeLimits?: Readonly<Record<string, TimeLimits>>;
}

/** Soft and hard time limits of one kind of work, in ms from the handler's start. */
export interface TimeLimits {
  readonly softMs: number;
  readonly hardMs: number;
}

/** The reason a handler's signal carries when its soft time limit passed (or, rarely, its hard one). */
export class TimeLimitExceeded extends Error {
  constructor(
    readonly limit: 'soft' | 'hard',
    readonly limitMs: number,
  ) {
    super(`${limit} time limit of ${limitMs} ms exceeded`);
    this.name = 'TimeLimitExceeded';
  }

  /** Whether `signal` fired because a time limit passed. */
  static isTimeLimit(signal: AbortSignal): boolean {
    return signal.aborted && signal.reason instanceof TimeLimitExceeded;
  }
}
