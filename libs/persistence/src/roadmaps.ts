import type { EntityManager } from 'typeorm';
import { onlyIn, sql, SqlParams } from './sql.js';

/** A roadmap row to create with its task. */
export interface NewRoadmap {
  id: string;
  taskId: string;
  owner: string;
  goal: string;
  preferences: unknown;
}

/**
 * Inserts new roadmaps (status `designing`) in one statement: the API's admissions and a batch's
 * children both create their roadmap rows here, in their task's transaction.
 */
export async function insertRoadmaps(em: EntityManager, roadmaps: readonly NewRoadmap[], createdAt = new Date()): Promise<void> {
  if (roadmaps.length === 0) return;
  const params = new SqlParams();
  await sql(em, insertRoadmapsSql(params, roadmaps, createdAt), params.values);
}

/**
 * The INSERT of {@link insertRoadmaps} as a part of a larger statement: with `onlyTasks` (a sibling
 * `WITH` sub-statement returning task ids), only the roadmaps of the tasks it inserted.
 */
export function insertRoadmapsSql(p: SqlParams, roadmaps: readonly NewRoadmap[], createdAt: Date, onlyTasks?: string): string {
  return `INSERT INTO roadmaps (id, task_id, owner, goal, preferences, status, created_at, updated_at)
     SELECT id, task_id, owner, goal, preferences::jsonb, 'designing', ${p.add(createdAt)}::timestamptz, ${p.add(createdAt)}::timestamptz
       FROM unnest(${p.add(roadmaps.map((r) => r.id), 'uuid[]')}, ${p.add(roadmaps.map((r) => r.taskId), 'uuid[]')}, ${p.add(roadmaps.map((r) => r.owner), 'text[]')},
                   ${p.add(roadmaps.map((r) => r.goal), 'text[]')}, ${p.add(roadmaps.map((r) => JSON.stringify(r.preferences)), 'text[]')})
            AS x(id, task_id, owner, goal, preferences)${onlyIn('x.task_id', onlyTasks)}`;
}

/**
 * A completed roadmap task's result, `{ roadmapId, concepts, items, usage }`, as a SQL expression
 * over the task's id (`taskIdSql`): what the content worker's completing statement and a resume
 * that finds nothing left to do both write. Usage is what was recorded by then (GET .../result
 * reads it live).
 */
export function roadmapResultSql(taskIdSql: string): string {
  return `(SELECT jsonb_build_object(
             'roadmapId', r.id,
             'concepts', (SELECT count(*) FROM concepts c WHERE c.roadmap_id = r.id),
             'items', r.items_total,
             'usage', (SELECT jsonb_build_object('inputTokens', coalesce(sum(u.input_tokens), 0), 'outputTokens', coalesce(sum(u.output_tokens), 0),
                                                 'costUsd', coalesce(sum(u.cost_usd), 0), 'calls', coalesce(sum(u.calls), 0))
                         FROM llm_usage_items u WHERE u.task_id = r.task_id))
           FROM roadmaps r WHERE r.task_id = ${taskIdSql})`;
}
