import { sleep, type Platform } from './platform.js';

/** One roadmap of owner B, timed from its POST: its first content item claimed, and its completion. */
export interface RoadmapTiming {
  taskId: string;
  firstItemMs: number;
  completedMs: number;
}

/** What the fairness scenario measured (bench scenario `fairness` and test/e2e/fairness.e2e-spec.ts). */
export interface FairnessResult {
  idle: RoadmapTiming;
  behind: RoadmapTiming;
  flood: {
    roadmaps: number;
    /** A's roadmaps completed when B's completed, and A's content items completed then / fanned out by then. */
    completedAtB: number;
    itemsDoneAtB: number;
    itemsAtB: number;
    acceptMs: number;
  };
}

export const OWNER_A = 'fairness-owner-a';
export const OWNER_B = 'fairness-owner-b';
const PREFERENCES = { level: 'beginner', hoursPerWeek: 8 };

async function post(platform: Platform, owner: string, goal: string): Promise<string> {
  const res = await platform.request('POST', '/api/v1/roadmaps', { goal, preferences: PREFERENCES }, {}, { as: owner });
  if (res.status !== 202) throw new Error(`POST /api/v1/roadmaps as ${owner} answered ${res.status}: ${res.text}`);
  return res.body.taskId as string;
}

/**
 * Posts one roadmap as `owner` and follows it through PostgreSQL (polled every 25 ms): when its first
 * content item is claimed by a worker (an LLM slot granted), and when the task ends.
 */
export async function timeRoadmap(platform: Platform, owner: string, goal: string, timeoutMs: number): Promise<RoadmapTiming> {
  const started = performance.now();
  const taskId = await post(platform, owner, goal);
  let firstItemMs = Number.NaN;
  const deadline = started + timeoutMs;
  while (performance.now() < deadline) {
    const [row] = await platform.query<{ status: string; claimed: boolean }>(
      `SELECT t.status, EXISTS (SELECT 1 FROM content_items i WHERE i.roadmap_id = t.roadmap_id AND i.attempts > 0) AS claimed FROM tasks t WHERE t.id = $1`,
      [taskId],
    );
    const now = performance.now() - started;
    if (row?.claimed && Number.isNaN(firstItemMs)) firstItemMs = now;
    if (row && ['completed', 'failed', 'cancelled'].includes(row.status)) {
      if (row.status !== 'completed') throw new Error(`B's roadmap ${taskId} ended ${row.status}`);
      return { taskId, firstItemMs, completedMs: now };
    }
    await sleep(25);
  }
  return { taskId, firstItemMs, completedMs: Number.NaN };
}

/**
 * The scenario of issue 19: owner B's roadmap on an idle platform; then owner A queues `flood`
 * roadmaps (POST /api/v1/roadmaps, no review), and once A's content is being generated, B posts
 * one more. Both of B's are timed the same way; A's progress is read when B's second completes.
 */
export async function measureFairness(platform: Platform, options: { flood: number; timeoutMs: number }): Promise<FairnessResult> {
  const idle = await timeRoadmap(platform, OWNER_B, 'Become a backend engineer (idle)', options.timeoutMs);
  const accepting = performance.now();
  for (let i = 0; i < options.flood; i += 25) {
    const chunk = Array.from({ length: Math.min(25, options.flood - i) }, (_, j) => post(platform, OWNER_A, `Become a backend engineer, track ${i + j + 1}`));
    await Promise.all(chunk);
  }
  const acceptMs = performance.now() - accepting;
  // B arrives while A's flood holds both queues: A's designs running and A's content items flowing.
  const flowing = performance.now() + options.timeoutMs;
  for (;;) {
    const [row] = await platform.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM content_items i JOIN tasks t ON t.roadmap_id = i.roadmap_id WHERE t.owner = $1 AND i.attempts > 0`,
      [OWNER_A],
    );
    if (row!.n > 0) break;
    if (performance.now() > flowing) throw new Error("A's content never started");
    await sleep(50);
  }
  const behind = await timeRoadmap(platform, OWNER_B, 'Become a backend engineer (behind a flood)', options.timeoutMs);
  const [a] = await platform.query<{ completed: number; done: number; items: number }>(
    `SELECT count(*) FILTER (WHERE t.status = 'completed')::int AS completed,
            COALESCE(sum(r.items_done), 0)::int AS done, COALESCE(sum(r.items_total), 0)::int AS items
       FROM tasks t JOIN roadmaps r ON r.task_id = t.id WHERE t.owner = $1`,
    [OWNER_A],
  );
  return { idle, behind, flood: { roadmaps: options.flood, completedAtB: a!.completed, itemsDoneAtB: a!.done, itemsAtB: a!.items, acceptMs } };
}
