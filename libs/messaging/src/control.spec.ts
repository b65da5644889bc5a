import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectiveConcurrency, type ControlState } from './control.js';

const stamp = { by: 'ops', at: '2026-12-07T00:00:00.000Z' };

describe(effectiveConcurrency.name, () => {
  const sut = (state: Partial<ControlState>) =>
    effectiveConcurrency({ paused: new Map(), concurrency: new Map(), workerConcurrency: new Map(), drain: new Map(), ...state }, 'content-worker-normal', 'w1', 16);

  it('is the configured value without a control', () => {
    assert.equal(sut({}), 16);
  });

  it("prefers the worker's own setting to everyone's, and everyone's to the configured value", () => {
    const all = new Map([['content-worker-normal', { concurrency: 4, ...stamp }]]);
    assert.equal(sut({ concurrency: all }), 4);
    assert.equal(sut({ concurrency: all, workerConcurrency: new Map([['content-worker-normal.w1', { concurrency: 9, ...stamp }]]) }), 9);
    assert.equal(sut({ concurrency: all, workerConcurrency: new Map([['content-worker-normal.w2', { concurrency: 9, ...stamp }]]) }), 4, "another worker's setting");
  });
});
