import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '@roadmap/contracts';
import { assertTimezone, dueOccurrence, nextOccurrences, overlapDecision, parseCron } from './schedule-timing.js';

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());
const at = (text: string) => new Date(text);

function refusal(fn: () => unknown): { code: string; details: readonly { field: string }[]; status: number } {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof AppError);
    return { code: error.code, details: error.details, status: error.status };
  }
  assert.fail('expected a refusal');
}

describe('schedule timing', () => {
  it('refuses a malformed cron expression with INVALID_CRON naming the field', () => {
    for (const bad of ['not a cron', '61 * * * *', '* * * * * * * *', '0 0 31 2 *', '']) {
      const r = refusal(() => parseCron(bad, 'UTC'));
      assert.equal(r.code, 'INVALID_CRON', bad);
      assert.equal(r.status, 400);
      assert.deepEqual(r.details.map((d) => d.field), ['cron']);
    }
  });

  it('refuses an unknown time zone with INVALID_TIMEZONE naming the field', () => {
    const r = refusal(() => parseCron('0 * * * *', 'Mars/Olympus'));
    assert.equal(r.code, 'INVALID_TIMEZONE');
    assert.deepEqual(r.details.map((d) => d.field), ['timezone']);
    assert.doesNotThrow(() => assertTimezone('America/New_York'));
  });

  it('computes next runs in the schedule’s time zone, across a DST change', () => {
    // 02:30 every day in Berlin: on 29 March 2026 the clocks jump from 02:00 to 03:00, so that day
    // runs at the first valid time after the gap; before it 02:30 CET is 01:30 UTC, after it 00:30 UTC.
    const cron = parseCron('30 2 * * *', 'Europe/Berlin');
    assert.deepEqual(iso(nextOccurrences(cron, 3, at('2026-03-28T00:00:00Z'))), [
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
    // Every hour in New York on the autumn change: 01:00 happens twice, one hour apart in UTC.
    const hourly = parseCron('0 * * * *', 'America/New_York');
    assert.deepEqual(iso(nextOccurrences(hourly, 3, at('2026-11-01T04:30:00Z'))), [
      '2026-11-01T05:00:00.000Z',
      '2026-11-01T06:00:00.000Z',
      '2026-11-01T07:00:00.000Z',
    ]);
  });

  it('accepts six fields (seconds) for fast schedules', () => {
    const cron = parseCron('*/2 * * * * *', 'UTC');
    assert.deepEqual(iso(nextOccurrences(cron, 2, at('2026-01-01T00:00:00.500Z'))), ['2026-01-01T00:00:02.000Z', '2026-01-01T00:00:04.000Z']);
  });

  describe('due occurrence (fake clock: pure logic)', () => {
    const every5 = parseCron('*/5 * * * *', 'UTC');
    const graceMs = 60_000;

    it('fires the occurrence that just fell due, once', () => {
      const now = at('2026-01-01T10:05:03Z');
      assert.deepEqual(dueOccurrence({ cron: every5, after: at('2026-01-01T10:00:00Z'), now, catchup: 'none', graceMs }), { fire: at('2026-01-01T10:05:00Z') });
      // Once it is recorded (`after` moves to it), nothing more until the next one.
      assert.equal(dueOccurrence({ cron: every5, after: at('2026-01-01T10:05:00Z'), now, catchup: 'none', graceMs }), null);
    });

    it('catchup none: an occurrence missed during downtime is dropped, the next fires on time', () => {
      const after = at('2026-01-01T10:00:00Z');
      const back = at('2026-01-01T10:32:00Z'); // down from 10:01 to 10:32: six occurrences missed
      assert.deepEqual(dueOccurrence({ cron: every5, after, now: back, catchup: 'none', graceMs }), { missed: at('2026-01-01T10:30:00Z') });
      assert.deepEqual(dueOccurrence({ cron: every5, after, now: at('2026-01-01T10:35:01Z'), catchup: 'none', graceMs }), { fire: at('2026-01-01T10:35:00Z') });
    });

    it('catchup latest: only the latest missed occurrence runs, once', () => {
      const after = at('2026-01-01T10:00:00Z');
      const back = at('2026-01-01T10:32:00Z');
      assert.deepEqual(dueOccurrence({ cron: every5, after, now: back, catchup: 'latest', graceMs }), { fire: at('2026-01-01T10:30:00Z') });
      assert.equal(dueOccurrence({ cron: every5, after: at('2026-01-01T10:30:00Z'), now: back, catchup: 'latest', graceMs }), null);
    });

    it('nothing before the anchor: a new or resumed schedule does not fire what fell due before it', () => {
      assert.equal(dueOccurrence({ cron: every5, after: at('2026-01-01T10:06:00Z'), now: at('2026-01-01T10:09:00Z'), catchup: 'latest', graceMs }), null);
    });
  });

  it('overlap: skip, queue (at most one waiting) or allow while the previous task runs', () => {
    assert.equal(overlapDecision('skip', false, false), 'start');
    assert.equal(overlapDecision('skip', true, false), 'skip');
    assert.equal(overlapDecision('queue', true, false), 'queue');
    assert.equal(overlapDecision('queue', true, true), 'skip');
    assert.equal(overlapDecision('queue', false, false), 'start');
    assert.equal(overlapDecision('allow', true, true), 'start');
  });
});
