// Scenario: the admin task search at a million tasks (issue 20). A gateway alone; 1,000,000 tasks
// written straight into its schema (generate_series: goals from a vocabulary of 40 words, 5,000
// owners, every status), ANALYZE, then GET /api/v1/admin/tasks/search through the API, 20 times per
// query shape: a rare goal word, a common one, two words, an id prefix, owner + status, error code,
// and no filter at all. Goal: p95 under 100 ms for each.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { percentile, ROOT } from '../lib.mjs';

const { Platform } = await import(pathToFileURL(join(ROOT, 'dist', 'test', 'support', 'platform.js')).href);

const WORDS = ['backend', 'frontend', 'kubernetes', 'python', 'rust', 'golang', 'data', 'engineer', 'machine', 'learning', 'cloud', 'security', 'devops', 'mobile', 'android', 'swift', 'design', 'product', 'manager', 'sql', 'postgres', 'networking', 'linux', 'compilers', 'graphics', 'games', 'embedded', 'robotics', 'statistics', 'finance', 'spanish', 'piano', 'photography', 'writing', 'marketing', 'sales', 'biology', 'chemistry', 'physics', 'zymurgy'];

export async function search() {
  const n = Number(process.env.BENCH_SEARCH_TASKS ?? 1_000_000);
  const platform = await Platform.start({ replicas: { 'workflow-worker': 0, 'content-worker': 0, 'log-sink': 0 }, env: { LOG_LEVEL: 'warn' } });
  try {
    const started = performance.now();
    // 'zymurgy' (the last word) only in every 10,000th goal: the rare word.
    await platform.query(
      `INSERT INTO tasks (id, type, status, owner, priority, input, workflow_version, error, created_at, updated_at)
       SELECT gen_random_uuid(), 'roadmap.generate',
              (ARRAY['queued','running','awaiting_review','completed','failed','cancelled'])[1 + i % 6],
              'owner-' || (i % 5000), 'normal',
              jsonb_build_object('goal', 'Become a ' || w[1 + i % 39] || ' ' || w[1 + (i / 39) % 39] || ' ' || CASE WHEN i % 10000 = 0 THEN 'zymurgy' ELSE 'expert' END),
              'v1', CASE WHEN i % 6 = 4 THEN jsonb_build_object('code', CASE WHEN i % 12 = 4 THEN 'ITEMS_FAILED' ELSE 'DEAD_LETTERED' END, 'message', 'x') END,
              now() - make_interval(secs => i), now()
         FROM generate_series(1, $1) AS i, (SELECT $2::text[] AS w) AS v`,
      [n, WORDS],
    );
    await platform.query('ANALYZE tasks');
    const loadMs = performance.now() - started;
    const [{ id }] = await platform.query(`SELECT id::text FROM tasks ORDER BY random() LIMIT 1`);
    const shapes = {
      'rare word (zymurgy)': 'q=zymurgy',
      'common word (backend)': 'q=backend',
      'two words (kube rust)': 'q=kube%20rust',
      'id prefix (8 hex)': `q=${id.slice(0, 8)}`,
      'owner + status': 'owner=owner-42&status=failed',
      'error code': 'code=ITEMS_FAILED',
      'no filter': '',
    };
    const headers = await platform.authHeaders('bench-admin', 'admin');
    const out = {};
    for (const [name, qs] of Object.entries(shapes)) {
      const times = [];
      let items = 0;
      for (let i = 0; i < 21; i++) {
        const t = performance.now();
        const res = await fetch(`${platform.url}/api/v1/admin/tasks/search?${qs}&limit=50`, { headers });
        const body = await res.json();
        if (res.status !== 200) throw new Error(`${name}: ${res.status} ${JSON.stringify(body)}`);
        if (i > 0) times.push(performance.now() - t); // the first call warms the plan cache
        items = body.items.length;
      }
      times.sort((a, b) => a - b);
      out[name] = { p50: Math.round(percentile(times, 50) * 10) / 10, p95: Math.round(percentile(times, 95) * 10) / 10, items };
    }
    return { n, loadSeconds: Math.round(loadMs / 100) / 10, shapes: out, goal: { met: Object.values(out).every((s) => s.p95 < 100) } };
  } finally {
    await platform.stop();
  }
}
