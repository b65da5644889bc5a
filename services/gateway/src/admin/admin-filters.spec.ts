import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deadLetterSelection, taskSelection } from './bulk-filters.js';
import { levelOf, matchesType } from './live-feed.service.js';
import { subjectMatches } from './queue-control.service.js';
import { idRange, tsQuery } from './search.service.js';

describe('taskSelection', () => {
  it('narrows the statuses to those the action can act on, whatever the filter asks', () => {
    const sut = taskSelection('cancel', { status: ['queued', 'completed'], owner: 'alice' });
    assert.equal(sut.where, `t.status = ANY($1::text[]) AND t.owner = $2`);
    assert.deepEqual(sut.params, [['queued'], 'alice']);
    assert.deepEqual(taskSelection('resume', {}).params, [['failed', 'cancelled']]);
  });

  it('binds every value as a parameter, never into the SQL', () => {
    const sut = taskSelection('retry-failed-items', { type: "x'; DROP TABLE tasks; --", errorCode: 'ITEMS_FAILED', createdFrom: '2026-01-01T00:00:00Z', ids: ['0198f0c2-0000-7000-8000-000000000000'] });
    assert.ok(!sut.where.includes('DROP'));
    assert.equal(sut.params.length, 5);
    assert.match(sut.where, /EXISTS \(SELECT 1 FROM content_items/);
  });
});

describe('deadLetterSelection', () => {
  it('leaves discarded ones out, and replays only what has a subject to go back to', () => {
    assert.equal(deadLetterSelection('discard', {}).where, 'd.discarded_at IS NULL');
    const sut = deadLetterSelection('replay', { stream: 'CONTENT_GENERATION', reason: 'max_deliver' });
    assert.equal(sut.where, `d.discarded_at IS NULL AND d.subject NOT LIKE 'dlq.%' AND d.stream = $1 AND starts_with(d.reason, $2)`);
  });
});

describe('subjectMatches', () => {
  it('follows NATS wildcards', () => {
    assert.equal(subjectMatches('ns.content.generate.>', 'ns.content.generate.normal.quiz'), true);
    assert.equal(subjectMatches('ns.content.generate.normal.>', 'ns.content.generate.low.quiz'), false);
    assert.equal(subjectMatches('ns.content.generate.*.quiz', 'ns.content.generate.high.quiz'), true);
    assert.equal(subjectMatches('ns.content.generate.>', 'ns.content.generate'), false, '> needs at least one token');
    assert.equal(subjectMatches('a.b', 'a.b.c'), false);
  });
});

describe('search helpers', () => {
  it('turns words into a prefix tsquery and drops punctuation', () => {
    assert.equal(tsQuery('Kube & SRE!'), 'kube:* & sre:*');
    assert.equal(tsQuery("':*|!"), undefined);
    assert.equal(tsQuery('Ünïcode façade'), 'ünïcode:* & façade:*');
  });

  it('turns an id prefix into a key range, and refuses what is not one', () => {
    assert.deepEqual(idRange('0198F0C2-00'), ['0198f0c2-0000-0000-0000-000000000000', '0198f0c2-00ff-ffff-ffff-ffffffffffff']);
    assert.equal(idRange('abc'), undefined, 'under 4 hex digits');
    assert.equal(idRange('kubernetes'), undefined);
  });
});

describe('live feed filters', () => {
  it('gives each event type a level', () => {
    assert.deepEqual(['task.failed', 'item.failed', 'item.retrying', 'task.cancelled', 'item.partial', 'step.started'].map(levelOf), [
      'error',
      'error',
      'warn',
      'warn',
      'debug',
      'info',
    ]);
  });

  it('matches exact types and prefixes', () => {
    assert.equal(matchesType([], 'task.failed'), true);
    assert.equal(matchesType(['item.*'], 'item.completed'), true);
    assert.equal(matchesType(['item.*', 'task.failed'], 'task.completed'), false);
  });
});
