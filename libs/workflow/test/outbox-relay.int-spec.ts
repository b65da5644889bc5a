/*
 * The outbox relay against the real PostgreSQL and nats-server: each test writes rows in a schema
 * of its own and counts what reached the EVENTS stream of a namespace of its own.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { STREAMS, Subjects, UnavailableError } from '@roadmap/contracts';
import { deprovision, JetStreamPublisher, Messaging, provision, type PublishResult } from '@roadmap/messaging';
import { createLogger, type Logger } from '@roadmap/observability';
import { createTestDatabase, type TestDatabase } from '@roadmap/testing';
import type { DataSource } from 'typeorm';
import { cancelMessages, Outbox, OutboxRelay, type OutboxMessage, type OutboxRelayOptions } from '../src/index.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const NAMESPACE = `ob${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const logger = createLogger('outbox-int-test', process.env.LOG_LEVEL ?? 'silent');

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe(OutboxRelay.name, () => {
  let messaging: Messaging;
  let db: TestDatabase;
  const relays: OutboxRelay[] = [];
  const stream = () => messaging.streamName(STREAMS.EVENTS.name);

  before(async () => {
    messaging = await Messaging.connect({ servers: NATS_URL, namespace: NAMESPACE, name: 'outbox-int-test' });
    await provision(messaging);
  });
  after(async () => {
    for (const relay of relays) await relay.onApplicationShutdown();
    await db?.drop();
    await deprovision(messaging);
    await messaging.close();
  });

  /** A fresh schema per test: the relays of earlier tests publish another schema's table. */
  async function freshSchema(): Promise<DataSource> {
    for (const relay of relays.splice(0)) await relay.onApplicationShutdown();
    await db?.drop();
    db = await createTestDatabase('obx');
    return db.dataSource;
  }

  function startRelay(dataSource: DataSource, options: Partial<OutboxRelayOptions>, publisher = new JetStreamPublisher(messaging), log: Logger = logger): OutboxRelay {
    const relay = new OutboxRelay(dataSource, publisher, messaging, log, options);
    relays.push(relay);
    relay.onApplicationBootstrap();
    return relay;
  }

  /** Messages stored on `subject` (logical), oldest first. */
  async function stored(subject: string): Promise<Array<{ n: number; msgId: string | undefined }>> {
    const info = await messaging.jsm.streams.info(stream());
    const out: Array<{ n: number; msgId: string | undefined }> = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const msg = await messaging.jsm.streams.getMessage(stream(), { seq }).catch(() => null);
      if (msg?.subject === messaging.subject(subject)) out.push({ n: (msg.json() as { n: number }).n, msgId: msg.header?.get('Nats-Msg-Id') });
    }
    return out;
  }

  const outboxRows = async (ds: DataSource) => ((await ds.query(`SELECT count(*)::int AS n FROM outbox`)) as Array<{ n: number }>)[0]!.n;

  function messages(subject: string, from: number, count: number, taskId: string | null = null): OutboxMessage[] {
    return Array.from({ length: count }, (_, i) => ({ subject, payload: { n: from + i }, taskId, key: `${subject}:${from + i}` }));
  }

  it('publishes what a transaction committed, once, woken by its commit, in order, and prunes it', async () => {
    const ds = await freshSchema();
    const subject = 'events.test.outbox.commit';
    // A poll far beyond the test: only the commit's notice can wake the relay in time.
    const relay = startRelay(ds, { pollMs: 60_000 });
    await waitFor('the lease', () => relay.isHolder);
    const taskId = randomUUID();
    await ds.transaction(async (em) => {
      await Outbox.add(em, messages(subject, 0, 3, taskId));
      await Outbox.add(em, messages(subject, 3, 2, taskId));
    });
    await ds
      .transaction(async (em) => {
        await Outbox.add(em, messages(subject, 100, 1, taskId));
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    await waitFor('five messages', async () => (await stored(subject)).length >= 5, 5_000);
    await waitFor('the table pruned', async () => (await outboxRows(ds)) === 0, 5_000);
    await sleep(300);
    const got = await stored(subject);
    assert.deepEqual(
      got.map((m) => m.n),
      [0, 1, 2, 3, 4],
      'each committed message once, in the order written; the rolled-back one never',
    );
    assert.equal(got[0]!.msgId, `${subject}:0`, "the Nats-Msg-Id is the message's logical key");
  });

  it('sends a cancel notice on core NATS and the task.cancelled event to the stream, in the order written', async () => {
    const ds = await freshSchema();
    const taskId = randomUUID();
    const notices: string[] = [];
    const sub = messaging.nc.subscribe(messaging.subject(Subjects.taskCancelled), { callback: (_e, msg) => void notices.push((msg.json() as { taskId: string }).taskId) });
    await messaging.nc.flush();
    const relay = startRelay(ds, { pollMs: 60_000 });
    await waitFor('the lease', () => relay.isHolder);
    await ds.transaction((em) => Outbox.add(em, cancelMessages([taskId], 'cancelled:1')));
    await waitFor('the event', async () => (await stored(Subjects.taskEvents(taskId))).length === 1, 5_000);
    await waitFor('the table pruned', async () => (await outboxRows(ds)) === 0, 5_000);
    sub.unsubscribe();
    assert.deepEqual(notices, [taskId], 'the notice reached a core subscriber once');
    assert.equal((await stored(Subjects.taskEvents(taskId)))[0]!.msgId, `${taskId}:task.cancelled:cancelled:1`);
  });

  it('writes a repeated logical message once, however often its transaction runs', async () => {
    const ds = await freshSchema();
    const subject = 'events.test.outbox.repeat';
    await ds.transaction((em) => Outbox.add(em, messages(subject, 0, 2)));
    await ds.transaction((em) => Outbox.add(em, messages(subject, 0, 2)));
    assert.equal(await outboxRows(ds), 2, 'a pending key is not written again');
    startRelay(ds, { pollMs: 100 });
    await waitFor('the table pruned', async () => (await outboxRows(ds)) === 0);
    // Written again after it was published: the stream's duplicate window drops it.
    await ds.transaction((em) => Outbox.add(em, messages(subject, 0, 2)));
    await waitFor('the table pruned again', async () => (await outboxRows(ds)) === 0);
    assert.deepEqual((await stored(subject)).map((m) => m.n).sort(), [0, 1]);
  });

  it('two relays racing over many commits publish each row once', async () => {
    const ds = await freshSchema();
    const other = await db.connect();
    const subject = 'events.test.outbox.race';
    const relayA = startRelay(ds, { pollMs: 50, batchSize: 40 });
    const relayB = startRelay(other, { pollMs: 50, batchSize: 40 });
    const writes = Array.from({ length: 20 }, (_, t) => (t % 2 ? ds : other).transaction((em) => Outbox.add(em, messages(subject, t * 25, 25, randomUUID()))));
    await Promise.all(writes);
    await waitFor('the table pruned', async () => (await outboxRows(ds)) === 0);
    assert.ok(relayA.isHolder !== relayB.isHolder, 'one relay holds the lease');
    const got = (await stored(subject)).map((m) => m.n).sort((a, b) => a - b);
    assert.deepEqual(got, Array.from({ length: 500 }, (_, i) => i));
  });

  for (const ofOneTask of [false, true]) {
    it(`a relay killed mid-batch: the next one publishes the rest, and the stream keeps each message once${ofOneTask ? ', in order (rows of one task)' : ''}`, async () => {
      const ds = await freshSchema();
      const other = await db.connect();
      const subject = `events.test.outbox.killed${ofOneTask ? '.task' : ''}`;
      await ds.transaction((em) => Outbox.add(em, messages(subject, 0, 120, ofOneTask ? randomUUID() : null)));
      // The first relay publishes its first batch, then never gets to delete it: it hangs until its
      // session is killed, as a process SIGKILLed between its publish and its delete.
      const real = new JetStreamPublisher(messaging);
      let publishedByFirst = 0;
      let unblock!: (error: Error) => void;
      const hung = new Promise<never>((_, reject) => (unblock = reject));
      const dying = Object.assign(Object.create(real) as JetStreamPublisher, {
        async publish(...args: Parameters<JetStreamPublisher['publish']>): Promise<PublishResult> {
          await real.publish(...args);
          publishedByFirst += 1;
          return hung;
        },
      });
      startRelay(ds, { pollMs: 50, batchSize: 50 }, dying);
      await waitFor('the first batch published', () => publishedByFirst === 50);
      assert.equal((await stored(subject)).length, 50);
      assert.equal(await outboxRows(ds), 120, 'nothing deleted yet');

      const second = startRelay(other, { pollMs: 50, batchSize: 50 });
      await sleep(200);
      assert.equal(second.isHolder, false, 'the lease is held while its session lives');
      const killed = (await ds.query(
        `SELECT pg_terminate_backend(pid) AS killed FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = (hashtext($1)::bigint & 4294967295)::oid`,
        [`roadmap-outbox:${db.schema}`],
      )) as Array<{ killed: boolean }>;
      assert.equal(killed.length, 1, 'one session held the lease');
      await waitFor('the table pruned by the second relay', async () => (await outboxRows(ds)) === 0);
      unblock(new Error('killed'));
      assert.equal(second.isHolder, true);
      const got = (await stored(subject)).map((m) => m.n);
      assert.deepEqual(got, Array.from({ length: 120 }, (_, i) => i), 'every row once, in order: the republished first batch was dropped as duplicates');
    });
  }

  it('drops a message the stream refuses for good, and publishes the rows behind it', async () => {
    const ds = await freshSchema();
    const subject = 'events.test.outbox.refused';
    const taskId = randomUUID();
    const tooLarge = { subject, payload: { n: -1, pad: 'x'.repeat(STREAMS.EVENTS.maxMsgSize) }, taskId };
    await ds.transaction((em) => Outbox.add(em, [...messages(subject, 0, 1, taskId), tooLarge, ...messages(subject, 1, 2, taskId)]));
    startRelay(ds, { pollMs: 50 });
    await waitFor('the table pruned', async () => (await outboxRows(ds)) === 0);
    assert.deepEqual((await stored(subject)).map((m) => m.n), [0, 1, 2]);
  });

  /**
   * A publisher whose publish of a message is replaced by `fault` while it returns something (the
   * real publish otherwise); counts the publishes awaiting their ack at once.
   */
  function faulty(fault: (msgId: string, real: () => Promise<PublishResult>) => Promise<PublishResult> | undefined) {
    const real = new JetStreamPublisher(messaging);
    const stats = { inFlight: 0, maxInFlight: 0 };
    const publisher = Object.assign(Object.create(real) as JetStreamPublisher, {
      async publish(subject: string, payload: unknown, opts: { msgId?: string } = {}): Promise<PublishResult> {
        stats.maxInFlight = Math.max(stats.maxInFlight, ++stats.inFlight);
        try {
          const send = () => real.publish(subject, payload, opts);
          return await (fault(opts.msgId!, send) ?? send());
        } finally {
          stats.inFlight -= 1;
        }
      },
    });
    return { publisher, stats };
  }

  /** A logger that keeps the messages of its error lines. */
  function errorLog(): { log: Logger; errors: Array<{ fields: Record<string, unknown>; message: string }> } {
    const errors: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const log = Object.assign(Object.create(logger) as Logger, {
      error: (fields: Record<string, unknown>, message: string) => void errors.push({ fields, message }),
    });
    return { log, errors };
  }

  it("pipelines a task's rows: hundreds of one task go out together, each once, in the order written", async () => {
    const ds = await freshSchema();
    const [a, b] = ['events.test.outbox.pipe.a', 'events.test.outbox.pipe.b'];
    const [taskA, taskB] = [randomUUID(), randomUUID()];
    // Two tasks' rows interleaved across 30 transactions, all in one batch.
    for (let t = 0; t < 15; t++) {
      await ds.transaction((em) => Outbox.add(em, [...messages(a, t * 20, 20, taskA), ...messages(b, t * 20, 20, taskB)]));
    }
    const { publisher, stats } = faulty(() => undefined);
    startRelay(ds, { pollMs: 50 }, publisher);
    await waitFor('the table pruned', async () => (await outboxRows(ds)) === 0);
    const all = Array.from({ length: 300 }, (_, i) => i);
    assert.deepEqual((await stored(a)).map((m) => m.n), all);
    assert.deepEqual((await stored(b)).map((m) => m.n), all);
    assert.ok(stats.maxInFlight > 100, `a task's rows were not awaited one by one (at most ${stats.maxInFlight} at once)`);
  });

  it("a task's publish failing mid-batch: its later rows wait, the retry leaves no gap, no repeat and no reorder", async () => {
    const ds = await freshSchema();
    const [a, b] = ['events.test.outbox.midfail.a', 'events.test.outbox.midfail.b'];
    const [taskA, taskB] = [randomUUID(), randomUUID()];
    await ds.transaction((em) => Outbox.add(em, [...messages(a, 0, 50, taskA), ...messages(b, 0, 50, taskB)]));
    // First round: a's message 20 is stored but its ack is lost, and everything of a after 30 never
    // reaches the server (the connection's suffix lost); b's rows all go out.
    let round = 0;
    const { publisher } = faulty((msgId, send) => {
      if (round > 0 || !msgId.startsWith(`${a}:`)) return undefined;
      const n = Number(msgId.slice(a.length + 1));
      if (n === 49) round += 1;
      if (n === 20) return send().then(() => Promise.reject(new UnavailableError('ack lost')));
      if (n > 30) return Promise.reject(new UnavailableError('connection lost'));
      return undefined;
    });
    const { log, errors } = errorLog();
    startRelay(ds, { pollMs: 50 }, publisher, log);
    await waitFor('the table pruned', async () => (await outboxRows(ds)) === 0);
    const all = Array.from({ length: 50 }, (_, i) => i);
    assert.deepEqual((await stored(a)).map((m) => m.n), all, "a's messages once each, in the order written");
    assert.deepEqual((await stored(b)).map((m) => m.n), all, "the other task's messages were not held back");
    assert.deepEqual(errors, [], 'nothing stored out of order');
  });

  it('says so when JetStream stored a later message of a task while failing an earlier one', async () => {
    const ds = await freshSchema();
    const subject = 'events.test.outbox.reordered';
    const taskId = randomUUID();
    await ds.transaction((em) => Outbox.add(em, messages(subject, 0, 10, taskId)));
    // Message 4 fails before it is stored (as a publish the stream failed: no leader) while 5..9 are
    // stored: only its republish stores it, after them.
    let failed = false;
    const { publisher } = faulty((msgId) => {
      if (failed || msgId !== `${subject}:4`) return undefined;
      failed = true;
      return Promise.reject(new UnavailableError('no stream leader'));
    });
    const { log, errors } = errorLog();
    startRelay(ds, { pollMs: 50 }, publisher, log);
    await waitFor('the table pruned', async () => (await outboxRows(ds)) === 0);
    assert.deepEqual((await stored(subject)).map((m) => m.n), [0, 1, 2, 3, 5, 6, 7, 8, 9, 4], 'each message once (the stream order is what it is)');
    assert.equal(errors.length, 1, 'one error line');
    assert.deepEqual([errors[0]!.fields.msgId, errors[0]!.fields.taskId], [`${subject}:4`, taskId], 'naming the message stored late and its task');
  });
});
