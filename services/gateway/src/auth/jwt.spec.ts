import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT } from 'jose';
import { JwtVerifier } from './jwt.js';

const SECRET = 'a-test-secret-of-enough-length-0123456789';
const sign = (claims: Record<string, unknown>, expSeconds: number, secret = SECRET) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(Math.floor(Date.now() / 1000) + expSeconds)
    .sign(new TextEncoder().encode(secret));

describe(JwtVerifier.name, () => {
  it('keeps accepting a verified token only until its exp', async () => {
    const sut = new JwtVerifier({ secret: SECRET });
    // exp is in whole seconds: 2 s from now is between 1 and 2 s away.
    const token = await sign({ sub: 'alice', role: 'admin' }, 2);
    assert.deepEqual(await sut.verify(token), { owner: 'alice', role: 'admin' });
    assert.deepEqual(await sut.verify(token), { owner: 'alice', role: 'admin' }, 'the same token again');
    await sleep(2_100);
    await assert.rejects(sut.verify(token), /expired/);
  });

  it('never takes a forged token for a verified one with the same claims', async () => {
    const sut = new JwtVerifier({ secret: SECRET });
    const good = await sign({ sub: 'bob' }, 600);
    assert.deepEqual(await sut.verify(good), { owner: 'bob', role: 'user' });
    const forged = await sign({ sub: 'bob' }, 600, 'another-secret-of-enough-length-987654321');
    await assert.rejects(sut.verify(forged), /not valid/);
    await assert.rejects(sut.verify(forged), /not valid/, 'a failure is not remembered as a success either');
  });
});
