import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AckRates, WINDOW_MS } from './ack-rate.js';

describe(AckRates.name, () => {
  it('gives the acks per second since the oldest sample of the window', () => {
    const sut = new AckRates();
    sut.record('c', 100, 0);
    sut.record('c', 150, 10_000);
    assert.deepEqual(sut.rate('c', 300, 20_000), { perSecond: 10, windowSeconds: 20 });
  });

  it('has no rate before a second has passed since the first sample', () => {
    const sut = new AckRates();
    assert.equal(sut.rate('c', 5, 0), null);
    sut.record('c', 5, 0);
    assert.equal(sut.rate('c', 9, 500), null);
  });

  it('forgets samples older than the window', () => {
    const sut = new AckRates();
    sut.record('c', 0, 0);
    sut.record('c', 1_000, WINDOW_MS / 2);
    sut.record('c', 1_000, WINDOW_MS + 10_000);
    // The sample at 0 is out of the window: the rate is over the last 40 s, in which nothing was acked.
    assert.deepEqual(sut.rate('c', 1_000, WINDOW_MS + 10_000), { perSecond: 0, windowSeconds: 40 });
  });

  it('starts again when the consumer was recreated (its floor went down)', () => {
    const sut = new AckRates();
    sut.record('c', 500, 0);
    sut.record('c', 3, 5_000);
    assert.equal(sut.rate('c', 2, 6_000), null);
    assert.deepEqual(sut.rate('c', 13, 10_000), { perSecond: 2, windowSeconds: 5 });
  });

  it('keeps consumers apart', () => {
    const sut = new AckRates();
    sut.record('a', 0, 0);
    assert.equal(sut.rate('b', 10, 5_000), null);
    assert.deepEqual(sut.rate('a', 10, 5_000), { perSecond: 2, windowSeconds: 5 });
  });
});
