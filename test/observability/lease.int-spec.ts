import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Messaging } from '@roadmap/messaging';
import { createLogger } from '@roadmap/observability';
import { ClusterMetrics } from '@roadmap/runtime';
import { DataSource } from 'typeorm';
import { eventually, sleep, TEST_DATABASE_URL } from '../support/platform.js';

/** Consumer and stream info as JetStream would answer; the lease is what is under test. */
const messaging = {
  jsm: {
    consumers: { info: async () => ({ num_pending: 1, num_ack_pending: 2, num_redelivered: 0 }) },
    streams: { info: async () => ({ state: { messages: 3 } }) },
  },
  streamName: (name: string) => name,
} as unknown as Messaging;

describe('ClusterMetrics lease (PostgreSQL advisory lock)', () => {
  const schema = `lease${randomBytes(4).toString('hex')}`;
  const logger = createLogger('lease-test', 'silent');
  const sources: DataSource[] = [];
  const members: ClusterMetrics[] = [];

  before(async () => {
    for (const name of ['a', 'b', 'c']) {
      const ds = new DataSource({ type: 'postgres', url: TEST_DATABASE_URL, applicationName: `${schema}-${name}`, extra: { max: 3 } });
      await ds.initialize();
      sources.push(ds);
      members.push(new ClusterMetrics(ds, messaging, logger, { schema, leaseRetryMs: 200, timeoutMs: 5_000 }));
    }
  });

  after(async () => {
    for (const m of members) await m.onModuleDestroy();
    for (const ds of sources) await ds.destroy().catch(() => undefined);
  });

  const holders = () => members.filter((m) => m.isHolder);

  it('exactly one process holds it, and another takes over when the holder stops or loses its connection', async () => {
    for (const m of members) m.onApplicationBootstrap();
    await eventually(async () => holders().length === 1, 15_000, 'a holder');
    await sleep(1_000); // several more rounds: still one
    assert.equal(holders().length, 1);

    // Graceful stop: the lock is released and someone else takes it.
    const first = holders()[0]!;
    await first.onModuleDestroy();
    await eventually(async () => holders().length === 1 && holders()[0] !== first, 15_000, 'a second holder');

    // The holder's session dies (PostgreSQL restart, network): the lock goes with it, and a process
    // (possibly the same one, on a new connection) holds it again: one holder, one lock.
    const second = holders()[0]!;
    const other = sources[members.indexOf(second) === 0 ? 1 : 0]!;
    await other.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
      `${schema}-${'abc'[members.indexOf(second)]}`,
    ]);
    await eventually(
      async () => {
        if (holders().length !== 1) return false;
        const [row] = await other.query(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = (hashtext($1)::bigint & 4294967295)::oid`,
          [`roadmap-cluster-metrics:${schema}`],
        );
        return row.n === 1;
      },
      15_000,
      'a holder after the session died',
    );
  });
});
