import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { isRetryable, UnavailableError } from '@roadmap/contracts';
import { JetStreamPublisher, Messaging, withCapturedTraceContext } from '@roadmap/messaging';
import { counter, gauge, histogram, type Logger } from '@roadmap/observability';
import { AdvisoryLock, LOGGER } from '@roadmap/runtime';
import { DataSource } from 'typeorm';

/** The channel the outbox trigger notifies on (payload: the schema), once per inserting statement. */
export const OUTBOX_CHANNEL = 'roadmap_outbox';

const backlog = gauge('roadmap_outbox_backlog_rows', 'Outbox rows written and not yet published (on the relay holding the lease)', []);
const oldestAge = gauge('roadmap_outbox_oldest_age_seconds', 'Age of the oldest unpublished outbox row (on the relay holding the lease)', []);
const delay = histogram(
  'roadmap_outbox_publish_delay_seconds',
  'From an outbox row written (its transaction) to its publish acknowledged, on the relay holding the lease',
  [],
  [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
);
const published = counter(
  'roadmap_outbox_published_total',
  "Outbox rows published, by outcome (duplicate: the stream had it already; refused: dropped, the stream refuses it for good; reordered: also counted as published, stored after a later message of its task)",
  ['outcome'],
);
/** Bound on the rows remembered as overtaken (a long outage must not grow the map without end). */
const MAX_OVERTAKEN = 10_000;

/** Timings of the {@link OutboxRelay}. */
export interface OutboxRelayOptions {
  /** How often the holder looks at the table without a notice, and a non-holder asks for the lease (ms). */
  pollMs: number;
  /** Rows read and published per round. */
  batchSize: number;
  /** Bound on each database round trip of the lease (ms). */
  timeoutMs: number;
}

export const OUTBOX_RELAY_OPTIONS = Symbol('OUTBOX_RELAY_OPTIONS');
const DEFAULTS: OutboxRelayOptions = { pollMs: 1_000, batchSize: 500, timeoutMs: 5_000 };

interface PgClient {
  on(event: string, listener: (...args: any[]) => void): void;
  off(event: string, listener: (...args: any[]) => void): void;
}

interface Row {
  seq: string;
  id: string;
  msg_id: string;
  task_id: string | null;
  subject: string;
  payload: unknown;
  trace: Record<string, string> | null;
  core: boolean;
  created_at: Date;
}

/**
 * Publishes the outbox's rows after their transactions committed, then deletes them. Runs in every
 * process that writes the outbox; one per schema is active, under a PostgreSQL advisory lock held by
 * its own session (freed when that session dies: a killed relay needs no expiry). The holder LISTENs
 * on that session, so a commit anywhere wakes it, and also polls every `pollMs` (a lost notice waits
 * at most that long). Rows go out in `seq` order, pipelined on the one connection, with their
 * `Nats-Msg-Id` (`msg_id`), so a batch published again (a relay killed before its delete, two holders
 * after a lost lock) is stored once by the stream.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly options: OutboxRelayOptions;
  private lock?: AdvisoryLock;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private forget?: () => void;
  /** When the backlog gauges were last read (ms). */
  private statsAt = 0;
  /** Rows not acknowledged while a later row of their task was stored: msg id -> that later msg id. */
  private readonly overtaken = new Map<string, string>();

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(JetStreamPublisher) private readonly publisher: JetStreamPublisher,
    @Inject(Messaging) private readonly messaging: Messaging,
    @Inject(LOGGER) private readonly logger: Logger,
    @Optional() @Inject(OUTBOX_RELAY_OPTIONS) options?: Partial<OutboxRelayOptions>,
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  private get schema(): string {
    return (this.dataSource.options as { schema?: string }).schema ?? 'public';
  }

  /** Whether this process holds the lease (publishes the outbox). */
  get isHolder(): boolean {
    return this.lock !== undefined;
  }

  onApplicationBootstrap(): void {
    // The lease pins one pooled connection: a pool of one would leave the process none for its own work.
    const poolSize = (this.dataSource.options as { extra?: { max?: number } }).extra?.max ?? 10;
    if (poolSize < 2) {
      this.logger.info('DATABASE_POOL_SIZE is 1: this process does not relay the outbox');
      return;
    }
    this.wake();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    await this.release(true);
  }

  /** Runs a round now (or right after the one running). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.round().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.wake();
        return;
      }
      // Jitter so replicas started together do not all ask for the lease at once.
      this.timer = setTimeout(() => this.wake(), this.options.pollMs * (this.lock ? 1 : 0.75 + Math.random() * 0.5));
      this.timer.unref();
    });
  }

  private async round(): Promise<void> {
    try {
      if (!this.lock) await this.acquire();
      if (this.lock) await this.drain(this.lock);
    } catch (error) {
      this.logger.warn({ err: error }, 'outbox relay round failed; trying again');
      // A database failure may have taken the lock's session: let it go, and ask again next round.
      if (this.lock) await this.lock.check(this.options.timeoutMs).catch(() => this.release(false));
    }
  }

  private async acquire(): Promise<void> {
    const lock = await AdvisoryLock.tryAcquire(this.dataSource, `roadmap-outbox:${this.schema}`, this.options.timeoutMs);
    if (!lock) return;
    if (this.stopped) return lock.release();
    const client = (lock.runner as unknown as { databaseConnection: PgClient }).databaseConnection;
    const onNotice = (n: { channel: string; payload?: string }) => {
      if (n.channel === OUTBOX_CHANNEL && n.payload === this.schema) this.wake();
    };
    const onError = (error: Error) => {
      this.logger.warn({ err: error }, 'outbox relay lost its lease connection; another process takes over');
      void this.release(false);
    };
    client.on('notification', onNotice);
    client.on('error', onError);
    // The session goes back to the pool with the lock: it must stop listening and calling us.
    this.forget = () => {
      client.off('notification', onNotice);
      client.off('error', onError);
    };
    try {
      await lock.runner.query(`LISTEN ${OUTBOX_CHANNEL}`);
    } catch (error) {
      this.forget();
      await lock.release(false);
      throw error;
    }
    this.lock = lock;
    this.logger.info({ schema: this.schema }, 'publishing the outbox (lease taken)');
  }

  private async release(unlock: boolean): Promise<void> {
    const lock = this.lock;
    this.lock = undefined;
    if (lock && unlock) await lock.runner.query(`UNLISTEN ${OUTBOX_CHANNEL}`).catch(() => undefined);
    this.forget?.();
    this.forget = undefined;
    backlog.reset();
    oldestAge.reset();
    await lock?.release(unlock);
  }

  /** Publishes and deletes batches until the table is empty (or the lease is gone). */
  private async drain(lock: AdvisoryLock): Promise<void> {
    for (;;) {
      const rows = (await lock.runner.query(`SELECT seq, id, msg_id, task_id, subject, payload, trace, core, created_at FROM outbox ORDER BY seq LIMIT $1`, [this.options.batchSize])) as Row[];
      if (rows.length > 0) await this.publish(lock, rows);
      // The gauges at most once per poll interval: a burst of commits wakes many rounds a second,
      // and a statement each for the gauges was a third of the relay's statements.
      if (Date.now() - this.statsAt >= this.options.pollMs) {
        this.statsAt = Date.now();
        const [stats] = (await lock.runner.query(
          `SELECT count(*)::int AS rows, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS age FROM outbox`,
        )) as Array<{ rows: number; age: number }>;
        backlog.set(stats!.rows);
        oldestAge.set(stats!.age);
      }
      if (rows.length < this.options.batchSize || this.stopped || this.lock !== lock) return;
    }
  }

  /**
   * Publishes one batch, then deletes what went out. Every row is handed to the one NATS connection
   * in seq order in one synchronous pass (nothing awaited in between), and all acks are awaited
   * together: the connection writes them in that order and the stream stores them in arrival order,
   * so a task's rows are stored in the order written without a round trip each. A transport failure
   * loses a suffix of what was written, never a row in the middle (docs/design.md, "The transactional
   * outbox"). A task's rows after its first unacknowledged one are kept, even those acknowledged: the
   * next round publishes from that row on, and the stream's duplicate window drops what it stored
   * already. A message the stream refuses for good (too large) is logged, counted and dropped rather
   * than blocking every row behind it.
   */
  private async publish(lock: AdvisoryLock, rows: readonly Row[]): Promise<void> {
    // Each publish continues the trace of the transaction that wrote its row.
    const sent = rows.map((row) => withCapturedTraceContext(row.trace, () => this.send(row)));
    const results = await Promise.allSettled(sent);
    const now = Date.now();
    const done: string[] = [];
    /** Tasks with a row not acknowledged in this batch: their later rows wait for the next round. */
    const held = new Map<string, Row>();
    /** Per task and subject, the stream sequence of its last acknowledged row. */
    const lastSeq = new Map<string, { seq: number; row: Row }>();
    let failure: unknown;
    for (const [index, result] of results.entries()) {
      const row = rows[index]!;
      const blocker = row.task_id === null ? undefined : held.get(row.task_id);
      if (result.status === 'fulfilled') {
        if (!row.core) this.checkOrder(lastSeq, row, result.value, blocker);
        if (blocker) continue;
        done.push(row.seq);
        delay.observe(Math.max(0, now - new Date(row.created_at).getTime()) / 1000);
        published.inc({ outcome: result.value.duplicate ? 'duplicate' : 'published' });
      } else if (!isRetryable(result.reason)) {
        if (blocker) continue;
        done.push(row.seq);
        published.inc({ outcome: 'refused' });
        this.logger.error({ err: result.reason, msgId: row.msg_id, subject: row.subject, taskId: row.task_id }, 'outbox message refused by the stream for good; dropped');
      } else {
        failure ??= result.reason;
        if (row.task_id !== null && !blocker) held.set(row.task_id, row);
      }
    }
    // What went out is pruned even when other rows failed: it is not published again.
    if (done.length) await lock.runner.query(`DELETE FROM outbox WHERE seq = ANY($1::bigint[])`, [done]);
    if (failure) throw failure;
  }

  /**
   * Makes a task's message stored before an earlier one of its task visible (nothing can undo a
   * stored message). It happens only when JetStream failed a row it had received (no stream leader,
   * a restart) yet stored a later row of the same connection, or when the publisher's own retry of a
   * row landed after a later row. Seen two ways: two rows stored in this batch whose stream
   * sequences run backwards, or a row acknowledged behind one that was not, when that one's
   * republish is then stored anew rather than found a duplicate (its ack alone had been lost).
   */
  private checkOrder(lastSeq: Map<string, { seq: number; row: Row }>, row: Row, ack: { seq: number; duplicate: boolean }, blocker: Row | undefined): void {
    const overtook = this.overtaken.get(row.msg_id);
    if (overtook !== undefined) {
      this.overtaken.delete(row.msg_id);
      if (!ack.duplicate) this.reordered(row, overtook);
    }
    if (row.task_id === null || ack.duplicate) return;
    if (blocker && !blocker.core) {
      if (this.overtaken.size >= MAX_OVERTAKEN) this.overtaken.clear();
      this.overtaken.set(blocker.msg_id, row.msg_id);
    }
    const key = `${row.task_id} ${row.subject}`;
    const last = lastSeq.get(key);
    if (last && ack.seq < last.seq) this.reordered(last.row, row.msg_id);
    else lastSeq.set(key, { seq: ack.seq, row });
  }

  private reordered(row: Row, laterMsgId: string): void {
    published.inc({ outcome: 'reordered' });
    this.logger.error(
      { taskId: row.task_id, subject: row.subject, msgId: row.msg_id, laterMsgId },
      "outbox: a task's message was stored after a later one of its task (JetStream failed its first publish and stored the later)",
    );
  }

  /**
   * A JetStream publish with the row's `Nats-Msg-Id`, or for a core notice a plain publish and a
   * flush: the server's PONG says the notice reached it (a notice buffered while NATS is away would
   * otherwise count as sent). A repeat (the flush timed out, the relay died before its delete) only
   * aborts work that is aborted already.
   */
  private async send(row: Row): Promise<{ seq: number; duplicate: boolean }> {
    if (!row.core) return this.publisher.publish(row.subject, row.payload, { msgId: row.msg_id });
    const nc = this.messaging.nc;
    let timer: NodeJS.Timeout | undefined;
    try {
      nc.publish(this.messaging.subject(row.subject), JSON.stringify(row.payload));
      await Promise.race([
        nc.flush(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new UnavailableError('NATS did not confirm the notice', 1_000)), this.options.timeoutMs))),
      ]);
    } catch (error) {
      throw error instanceof UnavailableError ? error : new UnavailableError('NATS is unavailable', 1_000, error);
    } finally {
      clearTimeout(timer);
    }
    // No stream, no sequence: a notice is not in the order checks.
    return { seq: 0, duplicate: false };
  }
}
