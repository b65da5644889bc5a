import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validate, version } from 'uuid';
import { timeOrderedId } from './ids.js';

/** The 48-bit millisecond timestamp a UUIDv7 starts with. */
const msOf = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('timeOrderedId', () => {
  it('makes valid, unique UUIDv7s that sort in the order they were made, across pool refills', () => {
    const ids = Array.from({ length: 5_000 }, () => timeOrderedId());
    assert.ok(ids.every((id) => validate(id) && version(id) === 7));
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(), ids);
  });

  it('carries the current millisecond, and keeps growing within one millisecond and when the clock steps back', (t) => {
    // Ahead of the ids already made in this process (which keep the largest millisecond seen).
    const start = Date.now() + 3_600_000;
    t.mock.timers.enable({ apis: ['Date'], now: start });
    const first = timeOrderedId();
    assert.equal(msOf(first), start);
    const sameMs = Array.from({ length: 1_000 }, () => timeOrderedId());
    t.mock.timers.setTime(start - 3_600_000); // the clock steps back an hour
    const afterStepBack = timeOrderedId();
    const all = [first, ...sameMs, afterStepBack];
    assert.deepEqual([...all].sort(), all);
    assert.equal(new Set(all).size, all.length);
    assert.equal(msOf(afterStepBack), start);
    t.mock.timers.setTime(start + 1_000);
    assert.equal(msOf(timeOrderedId()), start + 1_000);
  });
});
