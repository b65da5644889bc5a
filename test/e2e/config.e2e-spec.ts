import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { serviceEntry, type ServiceName } from '../support/platform.js';

/** Starts a service with an environment and returns how it ended (it must end by itself). */
function start(service: ServiceName, env: Record<string, string>) {
  const result = spawnSync(process.execPath, [serviceEntry(service)], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: result.status, stderr: result.stderr };
}

describe('configuration is validated at start-up', () => {
  it('stops a service with a message naming every bad variable', () => {
    const { code, stderr } = start('content-worker', { WORKER_CONCURRENCY: 'lots', NATS_URL: 'http://wrong', LOG_LEVEL: 'chatty' });
    assert.equal(code, 2);
    assert.match(stderr, /WORKER_CONCURRENCY \("lots"\)/);
    assert.match(stderr, /NATS_URL \("http:\/\/wrong"\)/);
    assert.match(stderr, /LOG_LEVEL \("chatty"\)/);
  });

  it('refuses the openai provider without an API key, and never prints a secret', () => {
    const missing = start('workflow-worker', { LLM_PROVIDER: 'openai' });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /LLM_API_KEY \(unset\): required when LLM_PROVIDER is openai/);

    const secret = 'sk-test-very-secret-value';
    const shown = start('workflow-worker', { LLM_PROVIDER: 'openai', LLM_API_KEY: secret, PORT: 'eighty' });
    assert.equal(shown.code, 2);
    assert.match(shown.stderr, /PORT \("eighty"\)/);
    assert.doesNotMatch(shown.stderr, new RegExp(secret));
  });

  it('rejects a database URL that is not PostgreSQL', () => {
    const { code, stderr } = start('gateway', { DATABASE_URL: 'mysql://root@localhost/db' });
    assert.equal(code, 2);
    assert.match(stderr, /DATABASE_URL/);
  });
});
