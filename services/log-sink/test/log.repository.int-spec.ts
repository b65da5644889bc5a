import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LogEntry } from '@roadmap/contracts';
import { createTestDatabase, type TestDatabase } from '@roadmap/testing';
import { LogRepository } from '../src/sink/log.repository.js';

/** One LOGS message in the earlier shape: entries that carry their own `service` and `instance`. */
class Repository extends LogRepository {
  insertBatch(entries: readonly LogEntry[]): Promise<number> {
    return this.insertBatches([{ entries: [...entries] }]);
  }
}

function entry(overrides: Partial<LogEntry> = {}): LogEntry {
  return {
    id: randomUUID(),
    ts: new Date().toISOString(),
    service: 'content-worker',
    instance: 'pod-1:42',
    level: 'info',
    taskId: randomUUID(),
    step: 'tutorial',
    message: 'tutorial generated',
    data: { tokens: 12 },
    ...overrides,
  };
}

describe(LogRepository.name, () => {
  let db: TestDatabase;
  let sut: Repository;

  before(async () => {
    db = await createTestDatabase('logs');
    sut = new Repository(db.dataSource);
  });
  after(async () => {
    await db?.drop();
  });

  it('writes a batch with every field and adds no duplicate when the batch is redelivered', async () => {
    const batch = Array.from({ length: 500 }, (_, i) => entry({ message: `entry ${i}` }));
    assert.equal(await sut.insertBatch(batch), 500);
    assert.equal(await sut.insertBatch(batch), 0, 'a redelivered batch inserts nothing');
    const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM execution_logs`);
    assert.equal(n, 500);
    const [row] = await db.dataSource.query(`SELECT * FROM execution_logs WHERE id = $1`, [batch[7]!.id]);
    assert.equal(row.message, 'entry 7');
    assert.equal(row.instance, 'pod-1:42');
    assert.equal(row.step, 'tutorial');
    assert.deepEqual(row.data, { tokens: 12 });
    assert.equal(new Date(row.created_at).toISOString(), batch[7]!.ts);
  });

  it('stores entries PostgreSQL would otherwise reject (NUL characters) and null fields', async () => {
    const odd = entry({ message: 'a\u0000b', data: { s: 'x\u0000y' }, taskId: null, step: null });
    assert.equal(await sut.insertBatch([odd, entry({ data: null })]), 2);
    const [row] = await db.dataSource.query(`SELECT message, data, task_id FROM execution_logs WHERE id = $1`, [odd.id]);
    assert.equal(row.message, 'ab');
    assert.deepEqual(row.data, { s: 'xy' });
    assert.equal(row.task_id, null);
  });

  it('keeps text that merely looks like a NUL escape, and strips NUL from data keys', async () => {
    const literal = entry({ message: 'path C:\\u0000\\x', data: { 'k\u0000ey': 'v', nested: { list: ['a\u0000', '\\u0000'] } } });
    assert.equal(await sut.insertBatch([literal]), 1);
    const [row] = await db.dataSource.query(`SELECT message, data FROM execution_logs WHERE id = $1`, [literal.id]);
    assert.equal(row.message, 'path C:\\u0000\\x');
    assert.deepEqual(row.data, { key: 'v', nested: { list: ['a', '\\u0000'] } });
  });

  it('stores text with tabs, newlines and backslashes as written', async () => {
    const odd = entry({ message: 'line 1\n\tline 2\r\nC:\\dir\\n', data: { 'a\tb': 'x\\y\nz', q: '"quoted"' }, instance: 'pod\\1' });
    assert.equal(await sut.insertBatch([odd]), 1);
    const [row] = await db.dataSource.query(`SELECT message, data, instance FROM execution_logs WHERE id = $1`, [odd.id]);
    assert.equal(row.message, odd.message);
    assert.deepEqual(row.data, odd.data);
    assert.equal(row.instance, odd.instance);
  });

  it('writes only the new entries of a batch that partly overlaps stored ones, and each once', async () => {
    const stored = Array.from({ length: 3 }, () => entry());
    assert.equal(await sut.insertBatch(stored), 3);
    const fresh = Array.from({ length: 4 }, () => entry());
    // A known entry, new ones, and the same new entry twice (a keyed event logged again).
    assert.equal(await sut.insertBatch([stored[1]!, ...fresh, fresh[0]!]), 4);
    const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM execution_logs WHERE id = ANY($1::uuid[])`, [[...stored, ...fresh].map((e) => e.id)]);
    assert.equal(n, 7);
  });

  it('stores the service and instance of the batch on entries that carry none, those of an entry winning', async () => {
    const { service: _s, instance: _i, ...bare } = entry({ message: 'bare' });
    const own = entry({ message: 'own', service: 'gateway', instance: 'pod\t2:7' });
    const inserted = await sut.insertBatches([
      { service: 'content-worker', instance: 'pod-9:1', entries: [bare, own] },
      { service: 'workflow-worker', entries: [{ ...bare, id: randomUUID(), message: 'second batch' }] },
    ]);
    assert.equal(inserted, 3);
    const rows = await db.dataSource.query(`SELECT message, service, instance FROM execution_logs WHERE message IN ('bare', 'own', 'second batch') ORDER BY message`);
    assert.deepEqual(rows, [
      { message: 'bare', service: 'content-worker', instance: 'pod-9:1' },
      { message: 'own', service: 'gateway', instance: 'pod\t2:7' },
      { message: 'second batch', service: 'workflow-worker', instance: '' },
    ]);
    // Redelivered: the fallback path (INSERT … ON CONFLICT) resolves the fields the same way.
    const again = { ...bare, id: randomUUID(), message: 'after a redelivery' };
    assert.equal(await sut.insertBatches([{ service: 'content-worker', instance: 'pod-9:1', entries: [bare, again] }]), 1);
    const [row] = await db.dataSource.query(`SELECT service, instance FROM execution_logs WHERE id = $1`, [again.id]);
    assert.deepEqual(row, { service: 'content-worker', instance: 'pod-9:1' });
  });
});
