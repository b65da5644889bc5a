import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '@roadmap/observability';
import Fastify, { type FastifyInstance } from 'fastify';
import { installConsole } from './console-static.js';

const INDEX = '<!doctype html><script type="module" src="/console/assets/index-abc123.js"></script>';

describe(installConsole.name, () => {
  let dir: string;
  let sut: FastifyInstance;
  const warnings: unknown[] = [];
  const logger = { warn: (...args: unknown[]) => warnings.push(args) } as unknown as Logger;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'console-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), INDEX);
    await writeFile(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    sut = Fastify();
    // What the API answers for everything else (Nest's handler in the gateway).
    sut.setNotFoundHandler((_request, reply) => reply.code(404).send({ code: 'ROUTE_NOT_FOUND' }));
    installConsole(sut, logger, dir);
    await sut.ready();
  });
  after(async () => {
    await sut.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves index.html, never cached, at /console, /console/ and every client route below it', async () => {
    for (const url of ['/console', '/console/', '/console/tasks', '/console/tasks/0198f0c2-0000-7000-8000-000000000000?x=1', '/console/dead-letters/abc']) {
      const res = await sut.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.body, INDEX, url);
      assert.match(String(res.headers['content-type']), /^text\/html/, url);
      assert.equal(res.headers['cache-control'], 'no-cache', url);
    }
  });

  it('serves hashed assets with a long, immutable cache, and a missing one as a 404 (not the app)', async () => {
    const asset = await sut.inject({ method: 'GET', url: '/console/assets/index-abc123.js' });
    assert.equal(asset.statusCode, 200);
    assert.equal(asset.body, 'console.log(1)');
    assert.match(String(asset.headers['content-type']), /javascript/);
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    const missing = await sut.inject({ method: 'GET', url: '/console/assets/index-old999.js' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'ROUTE_NOT_FOUND');
  });

  it('leaves other paths to the API, refuses writes, and does not escape its folder', async () => {
    assert.equal((await sut.inject({ method: 'GET', url: '/api/v1/tasks' })).statusCode, 404);
    assert.equal((await sut.inject({ method: 'GET', url: '/consoles' })).statusCode, 404);
    assert.equal((await sut.inject({ method: 'POST', url: '/console/tasks' })).statusCode, 404);
    const traversal = await sut.inject({ method: 'GET', url: '/console/assets/..%2F..%2Fetc%2Fpasswd' });
    assert.ok(!traversal.body.includes('root:'), 'no file outside the console');
  });

  it('serves nothing, with a warning, when the console is not built', async () => {
    const bare = Fastify();
    installConsole(bare, logger, join(dir, 'nowhere'));
    await bare.ready();
    assert.equal((await bare.inject({ method: 'GET', url: '/console/' })).statusCode, 404);
    assert.equal(warnings.length, 1);
    await bare.close();
  });
});
