import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * LLM usage: every provider attempt (`llm_calls`, pruned after a retention period) and two small
 * aggregates maintained in the same statement as each batch of calls (`llm_usage_items` per task and
 * subject, `llm_usage_daily` per owner, UTC day, provider and model). Budgets and the task's API read
 * the aggregates (a handful of rows, by primary key), and accounting survives the pruning of the
 * calls' prompts and responses. See docs/design.md, "LLM usage".
 */
export class LlmCalls1764650000000 implements MigrationInterface {
  name = 'LlmCalls1764650000000';

  async up(q: QueryRunner): Promise<void> {
    // No foreign keys: like execution_logs, a record must never be rejected, whatever it refers to.
    await q.query(`
      CREATE TABLE llm_calls (
        id uuid PRIMARY KEY,
        task_id uuid,
        roadmap_id uuid,
        owner text,
        subject text,
        provider text NOT NULL,
        model text NOT NULL,
        prompt_version text NOT NULL,
        prompt_system text NOT NULL,
        prompt_user text NOT NULL,
        response text,
        input_tokens int NOT NULL DEFAULT 0,
        output_tokens int NOT NULL DEFAULT 0,
        cost_usd numeric(18, 8),
        latency_ms int NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('ok', 'cached', 'repaired', 'error', 'cancelled')),
        error_code text,
        error_message text,
        attempt int NOT NULL,
        started_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    // A task's calls in time order (GET /tasks/:id/llm-calls, cursor on (started_at, id)).
    await q.query(`CREATE INDEX llm_calls_task_idx ON llm_calls (task_id, started_at, id)`);
    // Retention: pruning deletes the oldest rows by this index.
    await q.query(`CREATE INDEX llm_calls_created_idx ON llm_calls (created_at)`);

    await q.query(`
      CREATE TABLE llm_usage_items (
        task_id uuid NOT NULL,
        subject text NOT NULL,
        roadmap_id uuid,
        input_tokens bigint NOT NULL DEFAULT 0,
        output_tokens bigint NOT NULL DEFAULT 0,
        cost_usd numeric(18, 8) NOT NULL DEFAULT 0,
        calls int NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (task_id, subject)
      )`);
    // A roadmap's spend (the per-roadmap budget, read before every call).
    await q.query(`CREATE INDEX llm_usage_items_roadmap_idx ON llm_usage_items (roadmap_id)`);

    await q.query(`
      CREATE TABLE llm_usage_daily (
        owner text NOT NULL,
        day date NOT NULL,
        provider text NOT NULL,
        model text NOT NULL,
        input_tokens bigint NOT NULL DEFAULT 0,
        output_tokens bigint NOT NULL DEFAULT 0,
        cost_usd numeric(18, 8) NOT NULL DEFAULT 0,
        calls int NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (owner, day, provider, model)
      )`);
    // The primary key is the per-owner-per-day index: an owner's spend today (the daily budget) and
    // GET /usage?from=&to= read a few rows by its prefix (owner, day).
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['llm_usage_daily', 'llm_usage_items', 'llm_calls']) await q.query(`DROP TABLE IF EXISTS ${table}`);
  }
}
