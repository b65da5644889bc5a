import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Namespace } from './namespace.js';

describe('Namespace', () => {
  it('prefixes streams upper-case and subjects lower-case', () => {
    const ns = new Namespace('t1abc');
    assert.equal(ns.streamName('CONTENT_GENERATION'), 'T1ABC_CONTENT_GENERATION');
    assert.equal(ns.subject('content.generate.normal.quiz'), 't1abc.content.generate.normal.quiz');
    assert.equal(ns.subject('dlq.LOGS'), 't1abc.dlq.LOGS');
  });

  it('strips the namespace again', () => {
    const ns = new Namespace('t1abc');
    assert.equal(ns.logicalStream('T1ABC_CONTENT_GENERATION'), 'CONTENT_GENERATION');
    assert.equal(ns.logicalSubject('t1abc.content.generate.normal.quiz'), 'content.generate.normal.quiz');
    // Names from outside the namespace are returned as they are.
    assert.equal(ns.logicalSubject('other.content.generate'), 'other.content.generate');
    assert.equal(ns.logicalStream('LOGS'), 'LOGS');
  });

  it('leaves names unchanged with an empty namespace', () => {
    const ns = new Namespace('');
    assert.equal(ns.streamName('CONTENT_GENERATION'), 'CONTENT_GENERATION');
    assert.equal(ns.subject('content.generate.normal.quiz'), 'content.generate.normal.quiz');
    assert.equal(ns.logicalStream('CONTENT_GENERATION'), 'CONTENT_GENERATION');
    assert.equal(ns.logicalSubject('content.generate.normal.quiz'), 'content.generate.normal.quiz');
  });

  it('rejects namespaces that would make invalid stream names or subjects', () => {
    for (const bad of ['T1', '1abc', 'a.b', 'a b', 'a*', 'x'.repeat(33)]) {
      assert.throws(() => new Namespace(bad), RangeError, bad);
    }
  });
});
