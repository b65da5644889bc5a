/*
 * `npm start`'s server checks (scripts/lib/infra.mjs) with a NATS_URL of several servers (a JetStream
 * cluster): one answering is enough, and none is started here. Against the NATS on 4222 and ports
 * nothing listens on.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../support/platform.js';
import { root } from './support.js';

interface Infra {
  infraTargets(env: Record<string, string>): Array<{ name: string; host: string; port: number; cluster?: Array<{ host: string; port: number }> }>;
  ensureInfra(log: (m: string) => void, env: Record<string, string>): Promise<void>;
}
const infra = async () => (await import(join(root, 'scripts', 'lib', 'infra.mjs'))) as Infra;
const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

describe('npm start with a NATS cluster URL', () => {
  it('lists every server of NATS_URL', async () => {
    const { infraTargets } = await infra();
    const [nats] = infraTargets({ NATS_URL: 'nats://10.0.0.1:4222, nats://10.0.0.2:4223,nats://10.0.0.3', DATABASE_URL });
    assert.deepEqual(nats?.cluster, [
      { host: '10.0.0.1', port: 4222 },
      { host: '10.0.0.2', port: 4223 },
      { host: '10.0.0.3', port: 4222 },
    ]);
    assert.equal(infraTargets({ NATS_URL: 'nats://127.0.0.1:4222', DATABASE_URL })[0]?.cluster, undefined);
  });

  it('is satisfied by one answering server and starts none for a cluster that does not answer', async () => {
    const { ensureInfra } = await infra();
    const [down1, down2] = [await freePort(), await freePort()];
    const lines: string[] = [];
    await ensureInfra((m) => lines.push(m), { NATS_URL: `nats://127.0.0.1:${down1},nats://127.0.0.1:4222`, DATABASE_URL });
    assert.ok(lines.some((l) => /NATS \(JetStream, 2 servers\): 1 of 2 answer \(127\.0\.0\.1:4222\)/.test(l)), lines.join('\n'));
    await assert.rejects(
      ensureInfra(() => undefined, { NATS_URL: `nats://127.0.0.1:${down1},nats://127.0.0.1:${down2}`, DATABASE_URL }),
      /none of .* answers \(a cluster is not started here\)/,
    );
  });
});
