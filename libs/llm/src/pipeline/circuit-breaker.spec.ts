import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker } from './circuit-breaker.js';

describe(CircuitBreaker.name, () => {
  it('opens after N failures in the window, lets one probe through after the cooldown, and closes on its success', () => {
    let now = 0;
    const sut = new CircuitBreaker('openai', 'm', { failures: 3, windowMs: 1_000, cooldownMs: 500, now: () => now });
    sut.failure();
    now = 2_000; // the first failure is out of the window
    sut.failure();
    sut.failure();
    assert.equal(sut.state, 'closed');
    sut.failure();
    assert.equal(sut.state, 'open');
    assert.equal(sut.tryPass(), false);
    assert.equal(sut.retryInMs(), 500);
    now += 500;
    assert.equal(sut.state, 'half_open');
    assert.equal(sut.tryPass(), true, 'one probe');
    assert.equal(sut.tryPass(), false, 'only one probe at a time');
    sut.success();
    assert.equal(sut.state, 'closed');
    assert.equal(sut.tryPass(), true);
  });

  it('re-opens when the probe fails; a cancelled probe frees the slot', () => {
    let now = 0;
    const sut = new CircuitBreaker('openai', 'm2', { failures: 1, windowMs: 1_000, cooldownMs: 100, now: () => now });
    sut.failure();
    now = 100;
    assert.equal(sut.tryPass(), true);
    sut.release();
    assert.equal(sut.tryPass(), true, 'the probe slot is free again');
    sut.failure();
    assert.equal(sut.state, 'open');
    assert.equal(sut.retryInMs(), 100);
  });

  it('never opens with failures = 0', () => {
    const sut = new CircuitBreaker('openai', 'm3', { failures: 0, windowMs: 1_000, cooldownMs: 100 });
    for (let i = 0; i < 10; i++) sut.failure();
    assert.equal(sut.tryPass(), true);
  });
});
