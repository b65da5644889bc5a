import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Platform } from '../support/platform.js';

const GOAL = { goal: 'Become a backend engineer', preferences: { level: 'beginner', hoursPerWeek: 8 } };
const RATE_LIMIT = 3;

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('authentication and authorization at the gateway', () => {
  let platform: Platform;

  before(async () => {
    // No workers: tasks stay queued, which is all these checks need.
    platform = await Platform.start({
      replicas: { 'workflow-worker': 0, 'content-worker': 0, 'log-sink': 0 },
      serviceEnv: { gateway: { AUTH_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT), CORS_ORIGINS: 'https://app.example.com' } },
    });
  });
  after(async () => {
    await platform?.stop();
  });

  function assert401(res: { status: number; headers: Headers; body: any; text: string }, what: string) {
    assert.equal(res.status, 401, `${what}: ${res.status} ${res.text}`);
    assert.equal(res.body.code, 'UNAUTHENTICATED', what);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/, what);
  }

  it('keeps health, readiness, metrics and the API docs open', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/docs/openapi.json']) {
      const res = await platform.request('GET', path, undefined, {}, { as: null });
      assert.equal(res.status, 200, path);
    }
  });

  it('answers 401 with WWW-Authenticate to a missing, malformed, expired, forged or unknown credential', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await platform.token('alice', 'user', { expiresIn: now - 60 });
    const wrongSecret = await platform.token('alice', 'admin', { secret: randomBytes(32).toString('base64url') });
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', role: 'admin', exp: now + 600 })}.`;
    const valid = await platform.token('alice');
    const tampered = `${valid.split('.')[0]}.${b64({ sub: 'mallory', role: 'admin', exp: now + 600 })}.${valid.split('.')[2]}`;
    const cases: Array<[string, Record<string, string>]> = [
      ['no credential', {}],
      ['not bearer', { authorization: 'Basic YWxpY2U6cHc=' }],
      ['garbage token', { authorization: 'Bearer not-a-token' }],
      ['expired JWT', { authorization: `Bearer ${expired}` }],
      ['JWT signed with another secret', { authorization: `Bearer ${wrongSecret}` }],
      ['alg none JWT', { authorization: `Bearer ${unsigned}` }],
      ['JWT with a tampered payload', { authorization: `Bearer ${tampered}` }],
      ['unknown API key (bearer)', { authorization: `Bearer rk_${randomBytes(32).toString('base64url')}` }],
      ['unknown API key (X-Api-Key)', { 'x-api-key': `rk_${randomBytes(32).toString('base64url')}` }],
    ];
    for (const [what, headers] of cases) {
      assert401(await platform.request('GET', '/api/v1/tasks', undefined, headers, { as: null }), what);
    }
    assert401(await platform.request('POST', '/api/v1/roadmaps', GOAL, {}, { as: null }), 'POST without a credential');
    assert401(await platform.request('GET', `/api/v1/tasks/${randomUUID()}/events`, undefined, {}, { as: null }), 'SSE without a credential');
    assert.equal((await platform.request('GET', '/api/v1/tasks', undefined, { authorization: `Bearer ${valid}` }, { as: null })).status, 200);
  });

  it('accepts API keys made with the CLI (bearer and X-Api-Key), lists them without the secret, and rejects a revoked one', async () => {
    const created = platform.cli(['apikey', 'create', '--owner', 'erin', '--role', 'user', '--label', 'e2e']);
    assert.equal(created.status, 0, created.stderr);
    const key = created.stdout.trim().split('\n').at(-1)!;
    assert.match(key, /^rk_[A-Za-z0-9_-]{40,}$/);

    const viaBearer = await platform.request('POST', '/api/v1/roadmaps', GOAL, { authorization: `Bearer ${key}` });
    assert.equal(viaBearer.status, 202, viaBearer.text);
    const [row] = await platform.query<{ owner: string }>('SELECT owner FROM tasks WHERE id = $1', [viaBearer.body.taskId]);
    assert.equal(row?.owner, 'erin');
    // --json: one object with the key, for scripts; the key works like the other.
    const scripted = platform.cli(['apikey', 'create', '--owner', 'erin-script', '--role', 'user', '--json']);
    assert.equal(scripted.status, 0, scripted.stderr);
    const made = JSON.parse(scripted.stdout) as { key: string; owner: string; role: string; prefix: string };
    assert.deepEqual([made.owner, made.role, made.key.startsWith(made.prefix)], ['erin-script', 'user', true]);
    assert.equal((await platform.request('GET', '/api/v1/tasks', undefined, { authorization: `Bearer ${made.key}` }, { as: null })).status, 200);
    const viaHeader = await platform.request('GET', `/api/v1/tasks/${viaBearer.body.taskId}`, undefined, { 'x-api-key': key });
    assert.equal(viaHeader.status, 200, viaHeader.text);
    // The same owner by JWT sees the same task.
    assert.equal((await platform.request('GET', `/api/v1/tasks/${viaBearer.body.taskId}`, undefined, {}, { as: 'erin' })).status, 200);

    const listed = platform.cli(['apikey', 'ls', '--json']);
    assert.equal(listed.status, 0, listed.stderr);
    const keys = JSON.parse(listed.stdout) as Array<{ id: string; prefix: string; owner: string; role: string; lastUsedAt: string | null }>;
    const mine = keys.find((k) => k.owner === 'erin');
    assert.ok(mine && key.startsWith(mine.prefix) && mine.prefix.length < 20, JSON.stringify(keys));
    assert.ok(!listed.stdout.includes(key), 'the key is never listed');
    const [stored] = await platform.query<{ hash: string }>('SELECT hash FROM api_keys WHERE id = $1', [mine.id]);
    assert.ok(stored && stored.hash !== key && !stored.hash.includes(key.slice(3)), 'only a hash is stored');
    const table = platform.cli(['apikey', 'ls']);
    assert.match(table.stdout, /PREFIX\s+ID\s+OWNER/);
    assert.ok(table.stdout.includes(mine.prefix));

    const revoked = platform.cli(['apikey', 'revoke', mine.prefix]);
    assert.equal(revoked.status, 0, revoked.stderr);
    assert401(await platform.request('GET', '/api/v1/tasks', undefined, { authorization: `Bearer ${key}` }), 'revoked key (bearer)');
    assert401(await platform.request('GET', '/api/v1/tasks', undefined, { 'x-api-key': key }), 'revoked key (X-Api-Key)');
    assert.notEqual(platform.cli(['apikey', 'revoke', mine.prefix]).status, 0, 'revoking twice fails');
    const all = JSON.parse(platform.cli(['apikey', 'ls', '--json', '--all']).stdout) as Array<{ id: string; revokedAt: string | null }>;
    assert.ok(all.find((k) => k.id === mine.id)?.revokedAt);
    assert.equal(platform.cli(['apikey', 'create', '--owner', 'x', '--role', 'root']).status, 2, 'a bad role is a usage error');
    const gatewayLogs = platform.processes.filter((p) => p.service === 'gateway').flatMap((p) => p.output).join('\n');
    assert.ok(!gatewayLogs.includes(key) && !gatewayLogs.includes(key.slice(12)), 'the key never appears in the logs');
  });

  it("isolates owners: another owner's task and roadmap are 404 everywhere, an admin sees every owner's", async () => {
    const accepted = await platform.request('POST', '/api/v1/roadmaps', GOAL, {}, { as: 'alice' });
    assert.equal(accepted.status, 202, accepted.text);
    const { taskId, roadmapId } = accepted.body;
    const asBob = { as: 'bob' };

    const reads = [
      `/api/v1/tasks/${taskId}`,
      `/api/v1/tasks/${taskId}/logs`,
      `/api/v1/tasks/${taskId}/events`,
      `/api/v1/roadmaps/${roadmapId}`,
      `/api/v1/roadmaps/${roadmapId}/revisions`,
    ];
    for (const path of reads) {
      const res = await platform.request('GET', path, undefined, {}, asBob);
      assert.equal(res.status, 404, `bob GET ${path}: ${res.status} ${res.text}`);
      assert.equal(res.body.code, 'NOT_FOUND');
    }
    const actions: Array<[string, unknown]> = [
      [`/api/v1/tasks/${taskId}/cancel`, undefined],
      [`/api/v1/tasks/${taskId}/resume`, undefined],
      [`/api/v1/roadmaps/${roadmapId}/review`, { decision: 'approve' }],
      [`/api/v1/roadmaps/${roadmapId}/concepts/${randomUUID()}/retry`, { kinds: ['quiz'] }],
    ];
    for (const [path, body] of actions) {
      const res = await platform.request('POST', path, body, {}, asBob);
      assert.equal(res.status, 404, `bob POST ${path}: ${res.status} ${res.text}`);
    }
    const bobs = await platform.request('GET', '/api/v1/tasks', undefined, {}, asBob);
    assert.equal(bobs.status, 200);
    assert.ok(!bobs.body.items.some((t: any) => t.id === taskId), "bob's list does not show alice's task");

    const alices = await platform.request('GET', '/api/v1/tasks', undefined, {}, { as: 'alice' });
    assert.ok(alices.body.items.some((t: any) => t.id === taskId));
    assert.equal((await platform.request('GET', `/api/v1/tasks/${taskId}`, undefined, {}, { as: 'alice' })).body.status, 'queued');

    // An admin sees (and acts on) every owner's tasks.
    const admin = { as: 'root', role: 'admin' as const };
    assert.equal((await platform.request('GET', `/api/v1/tasks/${taskId}`, undefined, {}, admin)).status, 200);
    assert.equal((await platform.request('GET', `/api/v1/roadmaps/${roadmapId}`, undefined, {}, admin)).status, 200);
    const adminList = await platform.request('GET', '/api/v1/tasks?limit=200', undefined, {}, admin);
    assert.ok(adminList.body.items.some((t: any) => t.id === taskId), "the admin's list shows alice's task");

    // Nothing bob did changed alice's task; alice can cancel it.
    const cancelled = await platform.request('POST', `/api/v1/tasks/${taskId}/cancel`, undefined, {}, { as: 'alice' });
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.equal(cancelled.body.status, 'cancelled');
  });

  it('keeps /api/v1/admin/* to admins (403 for a user)', async () => {
    const user = await platform.request('GET', '/api/v1/admin/whoami', undefined, {}, { as: 'bob' });
    assert.equal(user.status, 403, user.text);
    assert.equal(user.body.code, 'FORBIDDEN');
    const admin = await platform.request('GET', '/api/v1/admin/whoami', undefined, {}, { as: 'root', role: 'admin' });
    assert.equal(admin.status, 200, admin.text);
    assert.deepEqual(admin.body, { owner: 'root', role: 'admin' });
    const adminKey = platform.cli(['apikey', 'create', '--owner', 'ops', '--role', 'admin']).stdout.trim().split('\n').at(-1)!;
    assert.equal((await platform.request('GET', '/api/v1/admin/whoami', undefined, { 'x-api-key': adminKey })).status, 200);
    assert401(await platform.request('GET', '/api/v1/admin/whoami', undefined, {}, { as: null }), 'admin route without a credential');
  });

  it('limits task creation per caller: 429 with Retry-After past the limit, other callers unaffected', async () => {
    for (let i = 0; i < RATE_LIMIT; i++) {
      const res = await platform.request('POST', '/api/v1/roadmaps', GOAL, {}, { as: 'carol' });
      assert.equal(res.status, 202, `request ${i + 1}: ${res.text}`);
    }
    const limited = await platform.request('POST', '/api/v1/roadmaps', GOAL, {}, { as: 'carol' });
    assert.equal(limited.status, 429, limited.text);
    assert.equal(limited.body.code, 'RATE_LIMITED');
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${limited.headers.get('retry-after')}`);
    // Reads are not limited, and another caller still creates.
    assert.equal((await platform.request('GET', '/api/v1/tasks', undefined, {}, { as: 'carol' })).status, 200);
    assert.equal((await platform.request('POST', '/api/v1/roadmaps', GOAL, {}, { as: 'dave' })).status, 202);
  });

  it('sets security headers on every response (strict CSP for the API, relaxed for /docs) and CORS from configuration', async () => {
    const responses = {
      api: await platform.request('GET', '/api/v1/tasks'),
      unauthenticated: await platform.request('GET', '/api/v1/tasks', undefined, {}, { as: null }),
      notFound: await platform.request('GET', `/api/v1/tasks/${randomUUID()}`),
      healthz: await platform.request('GET', '/healthz', undefined, {}, { as: null }),
    };
    for (const [what, res] of Object.entries(responses)) {
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', what);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', what);
      assert.ok(res.headers.get('referrer-policy'), what);
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/, what);
    }
    const docs = await fetch(`${platform.url}/docs`);
    assert.equal(docs.status, 200);
    assert.match(docs.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.equal(docs.headers.get('x-frame-options'), 'DENY');

    const preflight = await fetch(`${platform.url}/api/v1/roadmaps`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    assert.ok(preflight.status === 204 || preflight.status === 200, `preflight ${preflight.status}`);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example.com');
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/i);
    const foreign = await platform.request('GET', '/api/v1/tasks', undefined, { origin: 'https://evil.example.com' });
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);
    const allowed = await platform.request('GET', '/api/v1/tasks', undefined, { origin: 'https://app.example.com' });
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example.com');
  });
});
