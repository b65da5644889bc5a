import { Inject, Injectable } from '@nestjs/common';
import { LlmCallEntity, sql } from '@roadmap/persistence';
import { DataSource } from 'typeorm';

/** The gateway's reads of LLM usage: per task and subject, per owner and day, and the call records. */
@Injectable()
export class UsageRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * What a task's LLM calls used, per subject (a workflow step or `<conceptId>:<kind>`): the
   * aggregate rows maintained with every batch of call records (a primary-key range, ~100 rows).
   */
  async usageBySubject(taskId: string): Promise<Array<{ subject: string } & LlmUsageTotals>> {
    const { rows } = await sql<{ subject: string; input_tokens: string; output_tokens: string; cost_usd: string; calls: number }>(
      this.dataSource,
      `SELECT subject, input_tokens, output_tokens, cost_usd, calls FROM llm_usage_items WHERE task_id = $1`,
      [taskId],
    );
    return rows.map((r) => ({ subject: r.subject, ...totals(r) }));
  }

  /** A page of a task's LLM call records in time order, after a (started_at, id) cursor. */
  async findLlmCalls(
    taskId: string,
    filters: { subject?: string },
    after: { at: Date; id: string } | null,
    limit: number,
    includeContent: boolean,
  ): Promise<LlmCallEntity[]> {
    const query = this.dataSource
      .getRepository(LlmCallEntity)
      .createQueryBuilder('c')
      .where('c.task_id = :taskId', { taskId })
      .orderBy('c.started_at', 'ASC')
      .addOrderBy('c.id', 'ASC')
      .limit(limit);
    // Prompts and responses are large: read only when asked for.
    if (!includeContent) query.select(LLM_CALL_SUMMARY_COLUMNS.map((column) => `c.${column}`));
    if (filters.subject !== undefined) query.andWhere('c.subject = :subject', { subject: filters.subject });
    if (after) query.andWhere('(c.started_at, c.id) > (:at, :id)', { at: after.at, id: after.id });
    return query.getMany();
  }

  findLlmCall(taskId: string, callId: string): Promise<LlmCallEntity | null> {
    return this.dataSource.getRepository(LlmCallEntity).findOneBy({ id: callId, taskId });
  }

  /** An owner's usage per UTC day and model between two days (inclusive), from the daily aggregate. */
  async usagePerDay(
    owner: string,
    from: string,
    to: string,
  ): Promise<Array<{ day: string; provider: string; model: string } & LlmUsageTotals>> {
    const { rows } = await sql<{ day: string; provider: string; model: string; input_tokens: string; output_tokens: string; cost_usd: string; calls: number }>(
      this.dataSource,
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, provider, model, input_tokens, output_tokens, cost_usd, calls
         FROM llm_usage_daily WHERE owner = $1 AND day BETWEEN $2::date AND $3::date ORDER BY day, provider, model`,
      [owner, from, to],
    );
    return rows.map((r) => ({ day: r.day, provider: r.provider, model: r.model, ...totals(r) }));
  }
}

/** Tokens, estimated cost and calls: a task's, an item's or an owner's day. */
export interface LlmUsageTotals {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  calls: number;
}

/** The columns of a call record without its prompt and response (entity property names). */
const LLM_CALL_SUMMARY_COLUMNS = [
  'id',
  'taskId',
  'roadmapId',
  'subject',
  'provider',
  'model',
  'promptVersion',
  'inputTokens',
  'outputTokens',
  'costUsd',
  'latencyMs',
  'outcome',
  'errorCode',
  'errorMessage',
  'attempt',
  'startedAt',
  'createdAt',
] as const satisfies ReadonlyArray<keyof LlmCallEntity>;

/** Aggregate columns (bigint and numeric arrive as strings) as numbers. */
function totals(row: { input_tokens: string | number; output_tokens: string | number; cost_usd: string | number; calls: number }): LlmUsageTotals {
  return { inputTokens: Number(row.input_tokens), outputTokens: Number(row.output_tokens), costUsd: Number(row.cost_usd), calls: Number(row.calls) };
}
