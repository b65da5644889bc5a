import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { measureFairness, OWNER_A, OWNER_B } from '../support/fairness.js';
import { Platform } from '../support/platform.js';

/** Offline calls slow enough that queueing shows, fast enough that the test takes about a minute. */
const LATENCY_MS = 300;
const FLOOD = 200;

describe('fair dispatch across owners (issue 19)', () => {
  let platform: Platform;

  before(async () => {
    platform = await Platform.start({
      // The default windows and slots (workflow worker x 4, two content workers x 16 + standby,
      // LLM_OWNER_CONCURRENCY 16); every call of its own (no cache), each taking LATENCY_MS.
      env: { OFFLINE_LLM_LATENCY_MS: String(LATENCY_MS), LLM_CACHE_TTL_SECONDS: '0', LOG_LEVEL: 'warn' },
    });
  });
  after(async () => {
    await platform?.stop();
  });

  it("gives B's roadmap its turn while A's 200 are queued: its first item within 2x its idle time plus one call, done before half of A's", async () => {
    const r = await measureFairness(platform, { flood: FLOOD, timeoutMs: 90_000 });
    console.log(`fairness: ${JSON.stringify(r)}`);
    assert.ok(Number.isFinite(r.idle.firstItemMs) && Number.isFinite(r.idle.completedMs), `B's idle roadmap completed: ${JSON.stringify(r.idle)}`);
    assert.ok(Number.isFinite(r.behind.completedMs), `B's roadmap behind the flood completed within 90 s: ${JSON.stringify(r.behind)}`);
    const bound = 2 * r.idle.firstItemMs + LATENCY_MS;
    assert.ok(r.behind.firstItemMs <= bound, `B's first item started after ${Math.round(r.behind.firstItemMs)} ms behind the flood, over 2 x ${Math.round(r.idle.firstItemMs)} ms idle + ${LATENCY_MS} ms`);
    assert.ok(r.flood.completedAtB < FLOOD / 2, `A had ${r.flood.completedAtB} of ${FLOOD} roadmaps completed when B's completed`);

    // The flood is still there, held in PostgreSQL rather than in the streams: A has at most its
    // windows released (2 starts, 16 items), the rest waits its turn.
    const released = await platform.query<{ lane: string; n: number }>(
      `SELECT lane, count(*)::int AS n FROM dispatch_queue WHERE owner = $1 AND released_at IS NOT NULL GROUP BY lane`,
      [OWNER_A],
    );
    const [held] = await platform.query<{ n: number }>(`SELECT count(*)::int AS n FROM dispatch_queue WHERE owner = $1 AND released_at IS NULL`, [OWNER_A]);
    assert.ok(held!.n > 0, "A's backlog is held");
    for (const { lane, n } of released) assert.ok(n <= (lane === 'workflow' ? 2 : 16) + 1, `A has ${n} ${lane} messages released`);
    const [b] = await platform.query<{ n: number }>(`SELECT count(*)::int AS n FROM dispatch_queue WHERE owner = $1 AND released_at IS NULL`, [OWNER_B]);
    assert.equal(b!.n, 0, "nothing of B's is left held");
  });
});
