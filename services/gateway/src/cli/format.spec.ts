import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ago, bytes, duration, fields, progressBar, table } from './format.js';
import { exitCodeOfStatus, ExitCode } from './exit-codes.js';

describe('cli format', () => {
  it('aligns table columns and prints missing cells as -', () => {
    assert.equal(table(['ID', 'STATUS'], [['a1', 'completed'], ['b', null]]), 'ID  STATUS\na1  completed\nb   -');
  });

  it('aligns key/value fields', () => {
    assert.equal(fields([['id', 'x'], ['status', undefined]]), 'id:     x\nstatus: -');
  });

  it('writes durations, ages and sizes short', () => {
    assert.equal(duration(850), '850 ms');
    assert.equal(duration(12_340), '12.3 s');
    assert.equal(duration(245_000), '4m05s');
    assert.equal(duration(7_800_000), '2h10m');
    assert.equal(ago('2026-01-01T00:00:00.000Z', Date.parse('2026-01-01T00:00:03.000Z')), '3.0 s ago');
    assert.equal(ago(null), '-');
    assert.equal(bytes(512), '512 B');
    assert.equal(bytes(1536), '1.5 KiB');
  });

  it('draws a progress bar counting failed items as finished', () => {
    assert.equal(progressBar(0, 0, 0, 10), '[----------] 0/0   0%');
    assert.equal(progressBar(3, 0, 6, 10), '[#####-----] 3/6  50%');
    assert.equal(progressBar(5, 1, 6, 10), '[##########] 6/6 100%, 1 failed');
  });

  it('maps HTTP statuses to the documented exit codes', () => {
    assert.equal(exitCodeOfStatus(400), ExitCode.usage);
    assert.equal(exitCodeOfStatus(401), ExitCode.auth);
    assert.equal(exitCodeOfStatus(403), ExitCode.auth);
    assert.equal(exitCodeOfStatus(404), ExitCode.notFound);
    assert.equal(exitCodeOfStatus(409), ExitCode.failed);
    assert.equal(exitCodeOfStatus(503), ExitCode.unavailable);
    assert.equal(exitCodeOfStatus(500), ExitCode.failed);
  });
});
