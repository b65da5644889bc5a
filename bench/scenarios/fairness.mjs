// Scenario `fairness` (issue 19): owner B's time to its first content item and to completion, on an
// idle platform and behind owner A's flood of BENCH_FAIRNESS_FLOOD (200) roadmaps, with the offline
// provider's BENCH_LLM_LATENCY_MS (300 ms) calls and the default slots (workflow worker x 4, two content
// workers x 16 + standby, LLM_OWNER_CONCURRENCY 16). Two platforms, one after the other in the same run:
// `fair` with the default dispatch windows, `fifo` with DISPATCH_WORKFLOW_WINDOW=0 and
// DISPATCH_CONTENT_WINDOW=0 (every message released at once: the streams' FIFO order, as before the
// change). The measurement is test/support/fairness.ts, the same as test/e2e/fairness.e2e-spec.ts.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, nodeOptions } from '../lib.mjs';

const { Platform } = await import(pathToFileURL(join(ROOT, 'dist', 'test', 'support', 'platform.js')).href);
const { measureFairness } = await import(pathToFileURL(join(ROOT, 'dist', 'test', 'support', 'fairness.js')).href);
const LATENCY = Number(process.env.BENCH_LLM_LATENCY_MS ?? 300);
const FLOOD = Number(process.env.BENCH_FAIRNESS_FLOOD ?? 200);
/** How long B's roadmap behind the flood is followed before it counts as not done (FIFO takes minutes). */
const TIMEOUT_MS = Number(process.env.BENCH_FAIRNESS_TIMEOUT_MS ?? 180_000);

async function once(windows) {
  const platform = await Platform.start({
    env: { LOG_LEVEL: 'warn', OFFLINE_LLM_LATENCY_MS: String(LATENCY), LLM_CACHE_TTL_SECONDS: '0', ...windows },
    serviceEnv: {
      'workflow-worker': { NODE_OPTIONS: nodeOptions('workflow-worker') },
      'content-worker': { NODE_OPTIONS: nodeOptions('content-worker') },
    },
  });
  try {
    return await measureFairness(platform, { flood: FLOOD, timeoutMs: TIMEOUT_MS });
  } finally {
    await platform.stop();
  }
}

export async function fairness() {
  const fair = await once({});
  const fifo = await once({ DISPATCH_WORKFLOW_WINDOW: '0', DISPATCH_CONTENT_WINDOW: '0' });
  const met = (r) => r.behind.firstItemMs <= 2 * r.idle.firstItemMs + LATENCY && r.flood.completedAtB < FLOOD / 2;
  return { latencyMs: LATENCY, flood: FLOOD, timeoutMs: TIMEOUT_MS, fair, fifo, goal: { met: met(fair) } };
}
