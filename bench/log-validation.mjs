// Micro-benchmark of the log sink's per-entry work before COPY: JSON.parse of LOGS messages, then
// validation, for the message shapes and entry schemas compared in bench/README.md (fifth/sixth pass).
// 800 messages of 250 entries (200,000 entries, as the `logs` scenario), 5 rounds, ms per round.
// Run: node_modules/.bin/node bench/log-validation.mjs
import { randomUUID } from 'node:crypto';
import { LogBatchSchema } from '@roadmap/contracts';
import { z } from 'zod';

const taskId = randomUUID();
const entry = (i) => ({ id: randomUUID(), ts: new Date().toISOString(), level: 'info', taskId, step: 'content_generation', message: `content item generated: tutorial for concept ${i % 50} (attempt 1)`, data: { i, kind: 'tutorial', attempt: 1 } });
const proc = { service: 'bench-producer', instance: 'host-abc:12345' };
const perEntry = [], perBatch = [];
for (let m = 0; m < 800; m++) {
  const entries = Array.from({ length: 250 }, (_, k) => entry(m * 250 + k));
  perEntry.push(JSON.stringify({ entries: entries.map((e) => ({ ...e, ...proc })) }));
  perBatch.push(JSON.stringify({ ...proc, entries }));
}
const bytes = (msgs) => (msgs.reduce((n, m) => n + Buffer.byteLength(m), 0) / 200_000).toFixed(0);
console.log(`bytes per entry: process fields on every entry ${bytes(perEntry)}, once per message ${bytes(perBatch)}`);

// The entry schema as it was (process fields on every entry, data a z.record).
const id = z.uuid();
const before = z.object({
  entries: z.array(z.object({ id, ts: z.iso.datetime({ offset: true }), service: z.string().min(1).max(64), instance: z.string().max(128).default(''), level: z.enum(['debug', 'info', 'warn', 'error']), taskId: id.nullable(), step: z.string().max(64).nullable(), message: z.string().max(4000), data: z.record(z.string(), z.unknown()).nullable() })).min(1).max(2000),
});
const time = (f) => { const t = performance.now(); f(); return performance.now() - t; };
for (let round = 1; round <= 5; round++) {
  let a, b;
  const parseOld = time(() => (a = perEntry.map((m) => JSON.parse(m))));
  const validateOld = time(() => a.forEach((p) => before.parse(p)));
  const parseNew = time(() => (b = perBatch.map((m) => JSON.parse(m))));
  const validateNew = time(() => b.forEach((p) => LogBatchSchema.parse(p)));
  const validateOldNow = time(() => a.forEach((p) => LogBatchSchema.parse(p)));
  console.log(`round ${round}: per-entry fields + z.record: parse ${parseOld.toFixed(0)}, validate ${validateOld.toFixed(0)} | per-message fields + looseObject (LogBatchSchema): parse ${parseNew.toFixed(0)}, validate ${validateNew.toFixed(0)} | earlier shape through LogBatchSchema: validate ${validateOldNow.toFixed(0)}`);
}
