import type { DataSource, EntityManager } from 'typeorm';
import type { LlmCallOutcome } from './entities/llm-call.entity.js';
import { sql } from './sql.js';

/** One llm_calls row as the recorder writes it (already bounded in size). */
export interface LlmCallRow {
  id: string;
  taskId: string | null;
  roadmapId: string | null;
  owner: string | null;
  subject: string | null;
  provider: string;
  model: string;
  promptVersion: string;
  promptSystem: string;
  promptUser: string;
  response: string | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number | null;
  latencyMs: number;
  outcome: LlmCallOutcome;
  errorCode: string | null;
  errorMessage: string | null;
  attempt: number;
  startedAt: Date;
}

/**
 * Writes a batch of call records and adds them to the usage aggregates, in one statement (so one
 * round trip and atomic): the calls are inserted, and only the rows actually inserted are summed into
 * llm_usage_items (per task and subject) and llm_usage_daily (per owner, UTC day, provider, model).
 * Writing the same batch again (a retry after a commit whose answer was lost) inserts nothing and
 * counts nothing twice. Aggregate rows are upserted in key order, so concurrent batches from several
 * workers never deadlock. Returns the number of calls inserted.
 */
export async function insertLlmCalls(on: DataSource | EntityManager, rows: readonly LlmCallRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const payload = rows.map((r) => ({
    id: r.id,
    task_id: r.taskId,
    roadmap_id: r.roadmapId,
    owner: r.owner,
    subject: r.subject,
    provider: r.provider,
    model: r.model,
    prompt_version: r.promptVersion,
    prompt_system: r.promptSystem,
    prompt_user: r.promptUser,
    response: r.response,
    input_tokens: r.inputTokens,
    output_tokens: r.outputTokens,
    cost_usd: r.costUsd,
    latency_ms: Math.max(0, Math.round(r.latencyMs)),
    outcome: r.outcome,
    error_code: r.errorCode,
    error_message: r.errorMessage,
    attempt: r.attempt,
    started_at: r.startedAt.toISOString(),
  }));
  const { rows: result } = await sql<{ inserted: number }>(
    on,
    `WITH input AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
         id uuid, task_id uuid, roadmap_id uuid, owner text, subject text, provider text, model text, prompt_version text,
         prompt_system text, prompt_user text, response text, input_tokens int, output_tokens int, cost_usd numeric,
         latency_ms int, outcome text, error_code text, error_message text, attempt int, started_at timestamptz)
     ), ins AS (
       INSERT INTO llm_calls (id, task_id, roadmap_id, owner, subject, provider, model, prompt_version, prompt_system, prompt_user,
                              response, input_tokens, output_tokens, cost_usd, latency_ms, outcome, error_code, error_message, attempt, started_at)
       SELECT id, task_id, roadmap_id, owner, subject, provider, model, prompt_version, prompt_system, prompt_user,
              response, input_tokens, output_tokens, cost_usd, latency_ms, outcome, error_code, error_message, attempt, started_at
         FROM input
       ON CONFLICT (id) DO NOTHING
       RETURNING task_id, roadmap_id, owner, subject, provider, model, input_tokens, output_tokens, cost_usd, started_at
     ), items AS (
       INSERT INTO llm_usage_items AS u (task_id, subject, roadmap_id, input_tokens, output_tokens, cost_usd, calls, updated_at)
       SELECT task_id, coalesce(subject, ''), max(roadmap_id::text)::uuid, sum(input_tokens), sum(output_tokens), coalesce(sum(cost_usd), 0), count(*), now()
         FROM ins WHERE task_id IS NOT NULL
        GROUP BY task_id, coalesce(subject, '')
        ORDER BY task_id, coalesce(subject, '')
       ON CONFLICT (task_id, subject) DO UPDATE SET
         input_tokens = u.input_tokens + EXCLUDED.input_tokens,
         output_tokens = u.output_tokens + EXCLUDED.output_tokens,
         cost_usd = u.cost_usd + EXCLUDED.cost_usd,
         calls = u.calls + EXCLUDED.calls,
         roadmap_id = coalesce(u.roadmap_id, EXCLUDED.roadmap_id),
         updated_at = now()
       RETURNING 1
     ), daily AS (
       INSERT INTO llm_usage_daily AS d (owner, day, provider, model, input_tokens, output_tokens, cost_usd, calls, updated_at)
       SELECT coalesce(owner, ''), (started_at AT TIME ZONE 'UTC')::date, provider, model,
              sum(input_tokens), sum(output_tokens), coalesce(sum(cost_usd), 0), count(*), now()
         FROM ins
        GROUP BY 1, 2, 3, 4
        ORDER BY 1, 2, 3, 4
       ON CONFLICT (owner, day, provider, model) DO UPDATE SET
         input_tokens = d.input_tokens + EXCLUDED.input_tokens,
         output_tokens = d.output_tokens + EXCLUDED.output_tokens,
         cost_usd = d.cost_usd + EXCLUDED.cost_usd,
         calls = d.calls + EXCLUDED.calls,
         updated_at = now()
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM ins)::int AS inserted, (SELECT count(*) FROM items)::int AS items, (SELECT count(*) FROM daily)::int AS daily`,
    [JSON.stringify(payload)],
    { prepare: true },
  );
  return result[0]?.inserted ?? 0;
}

/** Spend recorded so far: tokens (in + out) and estimated USD. */
export interface LlmSpend {
  tokens: number;
  costUsd: number;
}

/** What a roadmap's calls have spent (the per-roadmap budget): a few aggregate rows by index. */
export async function roadmapSpend(on: DataSource | EntityManager, roadmapId: string): Promise<LlmSpend> {
  const { rows } = await sql<{ tokens: string; cost_usd: string }>(
    on,
    `SELECT coalesce(sum(input_tokens + output_tokens), 0) AS tokens, coalesce(sum(cost_usd), 0) AS cost_usd
       FROM llm_usage_items WHERE roadmap_id = $1`,
    [roadmapId],
  );
  return { tokens: Number(rows[0]?.tokens ?? 0), costUsd: Number(rows[0]?.cost_usd ?? 0) };
}

/** What an owner's calls have spent on a UTC day (the per-owner daily budget): a few rows by primary key. */
export async function ownerDaySpend(on: DataSource | EntityManager, owner: string, day: Date): Promise<LlmSpend> {
  const { rows } = await sql<{ tokens: string; cost_usd: string }>(
    on,
    `SELECT coalesce(sum(input_tokens + output_tokens), 0) AS tokens, coalesce(sum(cost_usd), 0) AS cost_usd
       FROM llm_usage_daily WHERE owner = $1 AND day = $2::date`,
    [owner, utcDay(day)],
  );
  return { tokens: Number(rows[0]?.tokens ?? 0), costUsd: Number(rows[0]?.cost_usd ?? 0) };
}

/** `YYYY-MM-DD` of a time in UTC: the day an owner's daily budget and usage are counted in. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/**
 * Deletes call records created before `olderThan` (retention: LLM_CALLS_RETENTION_DAYS), in batches
 * of `batchSize` so no statement holds locks or bloats WAL for long. The usage aggregates are kept:
 * a task's and an owner's totals stay right after its calls' prompts and responses are gone.
 * Returns how many records were deleted. Safe to run from several processes at once.
 */
export async function pruneLlmCalls(dataSource: DataSource, olderThan: Date, batchSize = 5_000): Promise<number> {
  let total = 0;
  for (;;) {
    const { count } = await sql(
      dataSource,
      `DELETE FROM llm_calls WHERE id IN (
         SELECT id FROM llm_calls WHERE created_at < $1 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [olderThan, batchSize],
    );
    total += count;
    if (count < batchSize) return total;
  }
}
