import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { PRIORITIES, type Priority } from '@roadmap/contracts';
import { counter, gauge, type Logger } from '@roadmap/observability';
import { sql } from '@roadmap/persistence';
import { LOGGER } from '@roadmap/runtime';
import { DataSource, type EntityManager } from 'typeorm';
import { Outbox } from '../outbox/outbox.js';
import { DISPATCH_LANES, LIVE, type DispatchLane } from './dispatch.js';

const held = gauge('roadmap_dispatch_held_messages', 'Work held in PostgreSQL for fair dispatch, by lane, priority and owner (exported by the workflow workers\' sweep)', ['lane', 'priority', 'owner']);
const released = counter('roadmap_dispatch_released_total', 'Held work released to the outbox (and so to its stream), by lane and priority', ['lane', 'priority']);

/** How the {@link FairDispatcher} shares the queues between owners. */
export interface FairDispatchOptions {
  /** Work one owner of weight 1 may have in flight per lane and priority (its weight multiplies it); 0: no limit. */
  windows: Readonly<Record<DispatchLane, number>>;
  /** How often held work is released without being asked (ms); 0: never (only where something asks). */
  sweepMs: number;
  /**
   * The least time between the starts of two releases of one lane and priority asked for by this
   * process (ms). A lone request runs at once; under a stream of admissions or finishes the requests
   * that arrive meanwhile wait together for one release, which takes everything that fits.
   */
  releaseIntervalMs: number;
}

export const DISPATCH_OPTIONS = Symbol('DISPATCH_OPTIONS');
const DEFAULTS: FairDispatchOptions = { windows: { workflow: 2, content: 16 }, sweepMs: 0, releaseIntervalMs: 0 };
/** Sweeps between two searches for held work that died while held (a cancelled task's items). */
const PRUNE_EVERY = 30;
/** How soon a release that found another process releasing the lane tries again, at the least (ms). */
const BUSY_RETRY_MS = 10;
/** A window of 0: as good as no limit. */
const UNLIMITED = 1_000_000;

/**
 * Releases held work (`dispatch_queue`, written by {@link Dispatch.hold}) to the outbox so that
 * every owner gets its share of the queues: per lane and priority, an owner has at most its window
 * (`window × owner_policies.weight`) of messages in flight, counted from the rows whose work is
 * still alive, and a release interleaves the owners weight by weight (weight 3: three messages for
 * another's one) in the order they go into the stream. A flood of one owner then holds at most a
 * window of the stream and of the workers' slots; another owner's first message is at most that far
 * behind, and JetStream's one FIFO consumer per stream and priority (nats-server 2.9) needs no change.
 *
 * A release is one short transaction under a transaction-level advisory lock per lane and priority
 * (two releases never both fill the same room), asked for after the commit that made room or held
 * work (`request`: coalesced, a burst of finishes makes one release running and at most one after
 * it). Because in-flight work is counted from rows, a release that never happens (a process killed
 * after its commit) loses nothing: the next one, or the sweep, catches up.
 */
@Injectable()
export class FairDispatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly options: FairDispatchOptions;
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  /** When the last release of a lane and priority started (performance.now()), and the releases waiting for their turn. */
  private readonly started = new Map<string, number>();
  private readonly waiting = new Map<string, NodeJS.Timeout>();
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  private sweeps = 0;
  private stopped = false;

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(LOGGER) private readonly logger: Logger,
    @Optional() @Inject(DISPATCH_OPTIONS) options?: Partial<FairDispatchOptions>,
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  private get schema(): string {
    return (this.dataSource.options as { schema?: string }).schema ?? 'public';
  }

  onApplicationBootstrap(): void {
    if (this.options.sweepMs > 0) this.schedule();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const timer of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
    await this.sweeping;
    await Promise.allSettled([...this.running.values()]);
  }

  /**
   * Asks for a release of `lane` (both lanes when omitted) at `priority`: now, or right after the one
   * running, and no sooner than `releaseIntervalMs` after the previous one started.
   */
  request(priority: Priority, lane?: DispatchLane): void {
    for (const l of lane ? [lane] : DISPATCH_LANES) this.requestOne(l, priority);
  }

  private requestOne(lane: DispatchLane, priority: Priority): void {
    if (this.stopped) return;
    const key = `${lane}:${priority}`;
    if (this.waiting.has(key)) return;
    if (this.running.has(key)) {
      this.again.add(key);
      return;
    }
    // Every release reads the whole lane: one per interval serves all the requests made meanwhile,
    // where one per request would spend a transaction per admission batch finding the windows full.
    const wait = (this.started.get(key) ?? -Infinity) + this.options.releaseIntervalMs - performance.now();
    if (wait > 0) return this.requestIn(key, lane, priority, wait);
    this.started.set(key, performance.now());
    const run = this.releaseOnce(lane, priority, false)
      .then((count) => {
        // Another process is releasing this lane: its release may have read the queue before this
        // one's commit, so try again after the interval rather than wait on its lock with a connection.
        if (count === null) {
          this.again.delete(key);
          this.requestIn(key, lane, priority, Math.max(this.options.releaseIntervalMs, BUSY_RETRY_MS));
        }
      })
      .catch((error) => this.logger.warn({ err: error, lane, priority }, 'fair dispatch: release failed; the next one or the sweep catches up'))
      .finally(() => {
        this.running.delete(key);
        if (this.again.delete(key)) this.requestOne(lane, priority);
      });
    this.running.set(key, run);
  }

  /** Asks for the release in `ms`; the requests made meanwhile are served by it. */
  private requestIn(key: string, lane: DispatchLane, priority: Priority, ms: number): void {
    if (this.stopped || this.waiting.has(key)) return;
    this.waiting.set(
      key,
      setTimeout(() => {
        this.waiting.delete(key);
        this.requestOne(lane, priority);
      }, ms),
    );
  }

  /** Releases what fits in the owners' windows of one lane and priority; returns how many messages went out. */
  async release(lane: DispatchLane, priority: Priority): Promise<number> {
    return (await this.releaseOnce(lane, priority, true))!;
  }

  /** One release; `wait`: for another process's release of the lane to end, else null when one is running. */
  private async releaseOnce(lane: DispatchLane, priority: Priority, wait: boolean): Promise<number | null> {
    const count = await this.dataSource.transaction((em) => this.releaseIn(em, lane, priority, wait));
    if (count) released.inc({ lane, priority }, count);
    return count;
  }

  private async releaseIn(em: EntityManager, lane: DispatchLane, priority: Priority, wait: boolean): Promise<number | null> {
    const lock = [`roadmap-dispatch:${this.schema}:${lane}:${priority}`];
    if (wait) await sql(em, `SELECT pg_advisory_xact_lock(hashtext($1))`, lock, { prepare: true });
    else {
      const { rows } = await sql<{ locked: boolean }>(em, `SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked`, lock, { prepare: true });
      if (!rows[0]?.locked) return null;
    }
    // Released work that ended (whichever way) no longer counts: forget it.
    await sql(em, `DELETE FROM dispatch_queue q WHERE q.lane = $1 AND q.priority = $2 AND q.released_at IS NOT NULL AND NOT ${LIVE[lane]}`, [lane, priority], { prepare: true });
    const window = this.options.windows[lane] || UNLIMITED;
    const { rows } = await sql<{ msg_id: string; task_id: string; subject: string; payload: unknown; trace: Record<string, string> | null; ordered: boolean }>(
      em,
      // Per owner with held work: its room (window × weight − in flight), its oldest live held rows
      // up to that room; out in weighted round-robin order (an owner's n-th message in round n / weight).
      // The owners come from a skip scan of the held index (one probe per owner, not a read of every
      // held row: a flood holds tens of thousands).
      `WITH RECURSIVE owners AS (
         (SELECT owner FROM dispatch_queue WHERE lane = $1 AND priority = $2 AND released_at IS NULL ORDER BY owner LIMIT 1)
         UNION ALL
         SELECT (SELECT q.owner FROM dispatch_queue q WHERE q.lane = $1 AND q.priority = $2 AND q.released_at IS NULL AND q.owner > o.owner ORDER BY q.owner LIMIT 1)
           FROM owners o WHERE o.owner IS NOT NULL
       ), room AS (
         SELECT o.owner, COALESCE(p.weight, 1) AS weight,
                $3 * COALESCE(p.weight, 1) - (SELECT count(*) FROM dispatch_queue f
                                                WHERE f.lane = $1 AND f.priority = $2 AND f.owner = o.owner AND f.released_at IS NOT NULL) AS room
           FROM owners o LEFT JOIN owner_policies p ON p.owner = o.owner WHERE o.owner IS NOT NULL
       ), picked AS (
         SELECT h.seq, r.weight, row_number() OVER (PARTITION BY r.owner ORDER BY h.seq) AS rn
           FROM room r CROSS JOIN LATERAL (
             SELECT q.seq FROM dispatch_queue q
              WHERE q.lane = $1 AND q.priority = $2 AND q.owner = r.owner AND q.released_at IS NULL AND ${LIVE[lane]}
              ORDER BY q.seq LIMIT GREATEST(r.room, 0)) h
       ), marked AS (
         UPDATE dispatch_queue q SET released_at = now() FROM picked p WHERE q.seq = p.seq
         RETURNING q.seq, q.owner, q.msg_id, q.task_id, q.subject, q.payload, q.trace, q.ordered, p.rn, p.weight
       )
       SELECT msg_id, task_id, subject, payload, trace, ordered FROM marked ORDER BY ceil(rn::numeric / weight), owner, seq`,
      [lane, priority, window],
      { prepare: true },
    );
    await Outbox.add(
      em,
      rows.map((r) => ({ subject: r.subject, payload: r.payload, key: r.msg_id, taskId: r.ordered ? r.task_id : null, trace: r.trace ?? undefined })),
    );
    return rows.length;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.sweeping = this.sweep()
        .catch((error) => this.logger.warn({ err: error }, 'fair dispatch: sweep failed; trying again'))
        .finally(() => {
          this.sweeping = undefined;
          this.schedule();
        });
    }, this.options.sweepMs);
    this.timer.unref();
  }

  /**
   * Releases every lane with held work (a release no event asked for: a cancel, a process killed
   * after its commit), exports the held gauges, and now and then forgets held work that died while
   * held (a cancelled task's items), so releases do not step over it.
   */
  async sweep(): Promise<void> {
    if (++this.sweeps % PRUNE_EVERY === 0) {
      for (const lane of DISPATCH_LANES) {
        await sql(this.dataSource, `DELETE FROM dispatch_queue q WHERE q.lane = $1 AND q.released_at IS NULL AND NOT ${LIVE[lane]}`, [lane]);
      }
    }
    const { rows } = await sql<{ lane: DispatchLane; priority: Priority; owner: string; held: number }>(
      this.dataSource,
      `SELECT lane, priority, owner, count(*)::int AS held FROM dispatch_queue WHERE released_at IS NULL GROUP BY lane, priority, owner`,
    );
    held.reset();
    for (const row of rows) held.set({ lane: row.lane, priority: row.priority, owner: row.owner }, row.held);
    const lanes = new Set(rows.map((r) => `${r.lane}:${r.priority}`));
    for (const lane of DISPATCH_LANES) {
      for (const priority of PRIORITIES) if (lanes.has(`${lane}:${priority}`)) this.request(priority, lane);
    }
  }
}
