import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, forTask } from './logger.js';

function capture() {
  const lines: Array<Record<string, any>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream };
}

describe('createLogger', () => {
  it('redacts secrets wherever the known paths put them', () => {
    const { lines, stream } = capture();
    const sut = createLogger('test', 'info', stream);
    sut.info(
      {
        config: { LLM_API_KEY: 'sk-live-1', DATABASE_URL: 'postgres://u:pw@db/x', LOG_LEVEL: 'info' },
        req: { headers: { authorization: 'Bearer abc', cookie: 'sid=1', 'x-api-key': 'k1' }, url: '/api/v1/tasks' },
        user: { password: 'hunter2', apiKey: 'k2', token: 't', secret: 's', name: 'ada' },
        headers: { authorization: 'Basic x' },
      },
      'hello',
    );
    const text = JSON.stringify(lines);
    for (const secret of ['sk-live-1', 'u:pw', 'Bearer abc', 'sid=1', 'k1', 'hunter2', 'k2', '"t"', '"s"', 'Basic x']) {
      assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
    }
    const [line] = lines;
    assert.equal(line!.config.LLM_API_KEY, '[redacted]');
    assert.equal(line!.req.headers.authorization, '[redacted]');
    assert.equal(line!.user.name, 'ada');
    assert.equal(line!.config.LOG_LEVEL, 'info');
    assert.equal(line!.service, 'test');
    assert.equal(line!.level, 'info');
  });
});

describe(forTask.name, () => {
  it('puts the task and trace ids on every line, leaving out empty fields', () => {
    const { lines, stream } = capture();
    const sut = forTask(createLogger('test', 'info', stream), { taskId: 't-1', traceId: 'abc', step: null });
    sut.info('one');
    sut.warn({ extra: 1 }, 'two');
    assert.equal(lines.length, 2);
    for (const line of lines) {
      assert.equal(line.taskId, 't-1');
      assert.equal(line.traceId, 'abc');
      assert.equal('step' in line, false);
    }
  });
});
