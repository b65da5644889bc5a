import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { jwtVerify, SignJWT } from 'jose';
import { JwtVerifier } from './jwt.js';

const SECRET = 'a-test-secret-of-enough-length-0123456789';
const sign = (claims: Record<string, unknown>, expSeconds: number, secret = SECRET) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(Math.floor(Date.now() / 1000) + expSeconds)
    .sign(new TextEncoder().encode(secret));

/** A verifier whose signature checks are counted (jose's own jwtVerify does each one). */
function counted(): { sut: JwtVerifier; checks: () => number } {
  let checks = 0;
  const verifySignature = ((...args: Parameters<typeof jwtVerify>) => {
    checks += 1;
    return jwtVerify(...args);
  }) as typeof jwtVerify;
  return { sut: new JwtVerifier({ secret: SECRET }, verifySignature), checks: () => checks };
}

describe(JwtVerifier.name, () => {
  // Only Date is mocked: jose reads the time through it for exp; WebCrypto and timers are real.
  beforeEach(() => mock.timers.enable({ apis: ['Date'], now: Date.now() }));
  afterEach(() => mock.timers.reset());

  it('checks a token once, then again after a minute', async () => {
    const { sut, checks } = counted();
    const token = await sign({ sub: 'alice', role: 'admin' }, 3_600);
    for (let i = 0; i < 3; i++) assert.deepEqual(await sut.verify(token), { owner: 'alice', role: 'admin' });
    assert.equal(checks(), 1, 'the same token three times: one signature check');
    mock.timers.tick(59_000);
    await sut.verify(token);
    assert.equal(checks(), 1, 'still remembered within the minute');
    mock.timers.tick(2_000);
    assert.deepEqual(await sut.verify(token), { owner: 'alice', role: 'admin' });
    assert.equal(checks(), 2, 'checked again after a minute');
  });

  it('stops accepting a remembered token at its exp', async () => {
    const { sut, checks } = counted();
    const token = await sign({ sub: 'alice' }, 30);
    await sut.verify(token);
    mock.timers.tick(29_000);
    await sut.verify(token);
    assert.equal(checks(), 1);
    mock.timers.tick(2_000);
    await assert.rejects(sut.verify(token), /expired/);
    assert.equal(checks(), 2, 'past exp the token is checked (and refused), not taken from memory');
  });

  it('never takes a forged token for a verified one with the same claims, and never remembers a failure', async () => {
    const { sut, checks } = counted();
    const good = await sign({ sub: 'bob' }, 600);
    assert.deepEqual(await sut.verify(good), { owner: 'bob', role: 'user' });
    const forged = await sign({ sub: 'bob' }, 600, 'another-secret-of-enough-length-987654321');
    await assert.rejects(sut.verify(forged), /not valid/);
    await assert.rejects(sut.verify(forged), /not valid/);
    assert.equal(checks(), 3, 'each presentation of the forged token is checked');
  });
});
