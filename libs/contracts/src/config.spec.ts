import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommonEnvSchema, ConfigError, env, loadConfig } from './config.js';

describe(loadConfig.name, () => {
  const schema = CommonEnvSchema.extend({ PORT: env.int(3000, 0, 65535), FEATURE: env.bool(false), API_TOKEN: env.optionalString() });

  it('fills defaults, reads typed values and freezes the result', () => {
    const sut = loadConfig(schema, { PORT: '8080', FEATURE: 'yes' });
    assert.equal(sut.PORT, 8080);
    assert.equal(sut.FEATURE, true);
    assert.equal(sut.NATS_URL, 'nats://127.0.0.1:4222');
    assert.equal(sut.DATABASE_SCHEMA, 'public');
    assert.ok(Object.isFrozen(sut));
  });

  it('treats an empty variable as unset', () => {
    assert.equal(loadConfig(schema, { PORT: '' }).PORT, 3000);
  });

  it('names every bad variable with its value, and hides secrets', () => {
    assert.throws(
      () => loadConfig(schema.extend({ API_TOKEN: env.int(1) }), { PORT: '99999', NATS_NAMESPACE: 'Bad Name', API_TOKEN: 'sekrit' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.code, 'CONFIG_INVALID');
        assert.match(error.message, /PORT \("99999"\)/);
        assert.match(error.message, /NATS_NAMESPACE \("Bad Name"\)/);
        assert.match(error.message, /API_TOKEN \("<redacted>"\)/);
        assert.doesNotMatch(error.message, /sekrit/);
        return true;
      },
    );
  });

  it('accepts several NATS URLs and refuses other schemes', () => {
    assert.equal(loadConfig(schema, { NATS_URL: 'nats://a:4222, tls://b:4222' }).NATS_URL, 'nats://a:4222, tls://b:4222');
    assert.throws(() => loadConfig(schema, { NATS_URL: 'http://a:4222' }), /NATS_URL/);
    assert.throws(() => loadConfig(schema, { DATABASE_URL: 'mysql://x/y' }), /DATABASE_URL/);
  });
});
