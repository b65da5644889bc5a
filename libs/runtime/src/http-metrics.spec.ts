import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { httpRequestsTotal, installHttpMetrics, UNMATCHED_ROUTE } from './http-metrics.js';

async function count(labels: Record<string, string>): Promise<number> {
  const { values } = await httpRequestsTotal.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

describe(installHttpMetrics.name, () => {
  it('labels requests by route template and status, and buckets unknown routes', async () => {
    const sut = Fastify();
    installHttpMetrics(sut);
    sut.get('/api/v1/tasks/:id', async (req, reply) => reply.code((req.params as { id: string }).id === 'missing' ? 404 : 200).send({}));
    await sut.ready();
    const before = {
      ok: await count({ route: '/api/v1/tasks/:id', status: '200', method: 'GET' }),
      missing: await count({ route: '/api/v1/tasks/:id', status: '404' }),
      unmatched: await count({ route: UNMATCHED_ROUTE, status: '404' }),
    };
    await sut.inject({ method: 'GET', url: '/api/v1/tasks/0190-a' });
    await sut.inject({ method: 'GET', url: '/api/v1/tasks/0190-b' });
    await sut.inject({ method: 'GET', url: '/api/v1/tasks/missing' });
    await sut.inject({ method: 'GET', url: '/wp-login.php?x=1' });
    assert.equal((await count({ route: '/api/v1/tasks/:id', status: '200', method: 'GET' })) - before.ok, 2);
    assert.equal((await count({ route: '/api/v1/tasks/:id', status: '404' })) - before.missing, 1);
    assert.equal((await count({ route: UNMATCHED_ROUTE, status: '404' })) - before.unmatched, 1);
    const routes = new Set((await httpRequestsTotal.get()).values.map((v) => v.labels.route));
    assert.ok(![...routes].some((r) => String(r).includes('0190') || String(r).includes('wp-login')), [...routes].join(', '));
    await sut.close();
  });
});
