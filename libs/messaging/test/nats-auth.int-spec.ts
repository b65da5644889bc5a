import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tcp, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { Messaging } from '../src/messaging.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startNats(args: string[]): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'nats-auth-'));
  const child: ChildProcess = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir, ...args], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = tcp({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      }).on('error', () => resolve(false));
    });
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    stop: () => {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('NATS credentials', () => {
  const stops: Array<() => void> = [];
  after(() => stops.forEach((stop) => stop()));

  it('connects with user and password, and is refused without them', async () => {
    const server = await startNats(['--user', 'roadmap', '--pass', 's3cret-pass']);
    stops.push(server.stop);
    await assert.rejects(Messaging.connect({ servers: server.url, namespace: '', name: 'no-creds' }));
    await assert.rejects(Messaging.connect({ servers: server.url, namespace: '', name: 'bad', auth: { user: 'roadmap', password: 'wrong' } }));
    const ok = await Messaging.connect({ servers: server.url, namespace: '', name: 'good', auth: { user: 'roadmap', password: 's3cret-pass' } });
    await ok.ping();
    await ok.close();
  });

  it('connects with a token, and `npm run provision` reads NATS_TOKEN', async () => {
    const server = await startNats(['--auth', 'tok-0123456789']);
    stops.push(server.stop);
    const ok = await Messaging.connect({ servers: server.url, namespace: '', name: 'token', auth: { token: 'tok-0123456789' } });
    await ok.ping();
    await ok.close();
    const provision = spawnSync(process.execPath, [join(root, 'libs/messaging/dist/src/cli/provision.js')], {
      env: { PATH: process.env.PATH ?? '', NATS_URL: server.url, NATS_TOKEN: 'tok-0123456789' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(provision.status, 0, provision.stderr);
    assert.match(provision.stdout, /created\s+stream\s+ROADMAP_WORKFLOW/);
    const refused = spawnSync(process.execPath, [join(root, 'libs/messaging/dist/src/cli/provision.js')], {
      env: { PATH: process.env.PATH ?? '', NATS_URL: server.url },
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(refused.status, 1);
    assert.doesNotMatch(refused.stderr + refused.stdout, /tok-0123456789/);
  });
});
