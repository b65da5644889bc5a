import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { PermanentError } from '@roadmap/contracts';
import type { LlmCallContext, LlmCallObserver, LlmCallRecord } from '@roadmap/llm';
import { counter, type Logger } from '@roadmap/observability';
import { insertLlmCalls, ownerDaySpend, roadmapSpend, utcDay, type LlmCallRow, type LlmSpend } from '@roadmap/persistence';
import { DataSource } from 'typeorm';
import { timeOrderedId } from '../ids.js';
import { LOGGER } from '../task-events.js';
import type { LlmUsageOptions } from './llm-usage.config.js';

/** Injection token of the recorder's options. */
export const LLM_USAGE_OPTIONS = Symbol('LLM_USAGE_OPTIONS');

// Cost and tokens per provider/model (roadmap_llm_cost_usd_total, roadmap_llm_tokens_total) are counted by
// the LLM layer itself for every attempt; the recorder counts what becomes of the records. No owner
// label anywhere: one series per user would not scale (cardinality); per-owner spend is in PostgreSQL.
const recordsWritten = counter('roadmap_llm_call_records_written_total', 'LLM call records written to PostgreSQL', []);
const recordFailures = counter('roadmap_llm_call_record_failures_total', 'Failed writes of LLM call records, by what became of them (retried, dropped)', [
  'result',
]);
const budgetRefusals = counter('roadmap_llm_budget_exhausted_total', 'LLM calls refused because a budget was spent, by budget', ['budget']);

const DEFAULT_BATCH_SIZE = 50;
const DEFAULT_FLUSH_MS = 200;
const DEFAULT_MAX_BUFFERED = 10_000;
const MAX_RETRY_DELAY_MS = 5_000;

/** Cuts text longer than `max` characters, saying how much was cut. */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}\n…[truncated: ${text.length - max} more characters]`;
}

/**
 * The workers' LlmCallObserver, backed by PostgreSQL.
 *
 * record() never slows or fails a call: it turns the record into a row (prompt and response bounded
 * to LLM_CALL_RECORD_MAX_CHARS) and queues it; rows are written in batches
 * (a full batch at once, otherwise after `flushMs`), each batch one statement that also maintains
 * the usage aggregates. A failed write is retried with backoff, the rows kept in order; only past
 * `maxBuffered` rows (PostgreSQL away for long) are the oldest dropped, each logged as an error.
 *
 * admit() enforces the budgets before a call reaches a provider: the spend recorded in PostgreSQL
 * (aggregates, read by key) plus this process's rows still queued, against the configured limits.
 * When a budget is spent it throws a permanent LLM_BUDGET_EXHAUSTED: the work fails with that code
 * and is not retried.
 */
@Injectable()
export class LlmCallRecorder implements LlmCallObserver, OnApplicationShutdown {
  private queue: LlmCallRow[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private failures = 0;
  /** After a failed write, no new write before this time (a full queue does not hammer PostgreSQL). */
  private backoffUntil = 0;
  private readonly batchSize: number;
  private readonly flushMs: number;
  private readonly maxBuffered: number;

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(LLM_USAGE_OPTIONS) private readonly options: LlmUsageOptions,
  ) {
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    this.flushMs = options.flushMs ?? DEFAULT_FLUSH_MS;
    this.maxBuffered = options.maxBuffered ?? DEFAULT_MAX_BUFFERED;
  }

  async admit(context: LlmCallContext, call: { provider: string; model: string; promptVersion: string; estimatedInputTokens: number }): Promise<void> {
    const { tokensPerRoadmap, usdPerRoadmap, usdPerOwnerDay } = this.options;
    const checkRoadmap = (tokensPerRoadmap > 0 || usdPerRoadmap > 0) && context.roadmapId;
    const checkOwner = usdPerOwnerDay > 0 && context.owner;
    if (!checkRoadmap && !checkOwner) return;
    const now = new Date();
    const [roadmap, owner] = await Promise.all([
      checkRoadmap ? roadmapSpend(this.dataSource, context.roadmapId!) : undefined,
      checkOwner ? ownerDaySpend(this.dataSource, context.owner!, now) : undefined,
    ]);
    if (roadmap) {
      const spent = add(roadmap, this.queued((r) => r.roadmapId === context.roadmapId));
      if (tokensPerRoadmap > 0 && spent.tokens + call.estimatedInputTokens > tokensPerRoadmap) {
        throw this.exhausted(
          'tokens_per_roadmap',
          `the roadmap's LLM token budget is spent: ${spent.tokens} of ${tokensPerRoadmap} tokens used, and the next call (${call.promptVersion}) needs about ${call.estimatedInputTokens} more (LLM_BUDGET_TOKENS_PER_ROADMAP)`,
        );
      }
      if (usdPerRoadmap > 0 && spent.costUsd >= usdPerRoadmap) {
        throw this.exhausted('usd_per_roadmap', `the roadmap's LLM cost budget is spent: $${round(spent.costUsd)} of $${usdPerRoadmap} (LLM_BUDGET_USD_PER_ROADMAP)`);
      }
    }
    if (owner) {
      const day = utcDay(now);
      const spent = add(owner, this.queued((r) => r.owner === context.owner && utcDay(r.startedAt) === day));
      if (spent.costUsd >= usdPerOwnerDay) {
        throw this.exhausted(
          'usd_per_owner_day',
          `the daily LLM cost budget of owner ${context.owner} is spent: $${round(spent.costUsd)} of $${usdPerOwnerDay} on ${day} UTC (LLM_BUDGET_USD_PER_OWNER_DAY)`,
        );
      }
    }
  }

  record(record: LlmCallRecord): void {
    try {
      const row = this.toRow(record);
      this.queue.push(row);
      this.trimQueue();
      if (this.queue.length >= this.batchSize && Date.now() >= this.backoffUntil) void this.flush();
      else this.schedule(this.flushMs);
    } catch (error) {
      // Never into the call: a record that cannot even be built is logged with what identifies it.
      this.logger.error({ err: error, taskId: record?.context?.taskId, subject: record?.context?.subject }, 'LLM call record could not be queued');
    }
  }

  /** Writes everything queued (waits for a write in progress first). Never throws. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.queue.length === 0) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = this.writeBatches().finally(() => {
      this.writing = undefined;
    });
    await this.writing;
  }

  /** Records queued and not yet written (metrics, tests). */
  get pending(): number {
    return this.queue.length;
  }

  async onApplicationShutdown(): Promise<void> {
    // Workers' in-flight calls have finished by now (the JetStream server closed before this hook).
    await this.flush();
    clearTimeout(this.timer);
    if (this.queue.length > 0) {
      recordFailures.inc({ result: 'dropped' }, this.queue.length);
      this.logger.error({ records: this.queue.map(describe) }, `${this.queue.length} LLM call record(s) not written at shutdown`);
      this.queue = [];
    }
  }

  private async writeBatches(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, this.batchSize);
      try {
        recordsWritten.inc(await insertLlmCalls(this.dataSource, batch));
        // Rows appended meanwhile stay behind the batch; the batch is still the queue's head.
        this.queue.splice(0, batch.length);
        this.failures = 0;
      } catch (error) {
        this.failures += 1;
        recordFailures.inc({ result: 'retried' }, batch.length);
        const delay = Math.min(this.flushMs * 2 ** this.failures, MAX_RETRY_DELAY_MS);
        this.backoffUntil = Date.now() + delay;
        this.logger.warn({ err: error, records: batch.length, queued: this.queue.length, retryInMs: delay }, 'LLM call records not written; retrying');
        this.schedule(delay);
        return;
      }
    }
  }

  private schedule(delayMs: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delayMs);
    this.timer.unref();
  }

  /** Past maxBuffered rows the oldest go, each one logged: bounded memory, never a silent loss. */
  private trimQueue(): void {
    const excess = this.queue.length - this.maxBuffered;
    if (excess <= 0) return;
    // Never the head while a write of it is in progress: it may be committing.
    const start = this.writing ? Math.min(this.batchSize, this.queue.length - excess) : 0;
    const dropped = this.queue.splice(start, excess);
    recordFailures.inc({ result: 'dropped' }, dropped.length);
    this.logger.error({ records: dropped.map(describe) }, `${dropped.length} LLM call record(s) dropped: ${this.maxBuffered} already wait for PostgreSQL`);
  }

  private queued(match: (row: LlmCallRow) => boolean): LlmSpend {
    const spend = { tokens: 0, costUsd: 0 };
    for (const row of this.queue) {
      if (!match(row)) continue;
      spend.tokens += row.inputTokens + row.outputTokens;
      spend.costUsd += row.costUsd ?? 0;
    }
    return spend;
  }

  private exhausted(budget: string, message: string): PermanentError {
    budgetRefusals.inc({ budget });
    return new PermanentError('LLM_BUDGET_EXHAUSTED', message, { status: 429 });
  }

  private toRow(record: LlmCallRecord): LlmCallRow {
    const max = this.options.maxRecordChars;
    const { context } = record;
    return {
      id: timeOrderedId(),
      taskId: context.taskId ?? null,
      roadmapId: context.roadmapId ?? null,
      owner: context.owner ?? null,
      subject: context.subject ?? null,
      provider: record.provider,
      model: record.model,
      promptVersion: record.promptVersion,
      promptSystem: truncateText(record.prompt.system, max),
      promptUser: truncateText(record.prompt.user, max),
      response: record.response === undefined ? null : truncateText(record.response, max),
      inputTokens: nonNegativeInt(record.usage.inputTokens),
      outputTokens: nonNegativeInt(record.usage.outputTokens),
      costUsd: record.costUsd === undefined || !Number.isFinite(record.costUsd) ? null : Math.max(0, record.costUsd),
      latencyMs: nonNegativeInt(record.latencyMs),
      outcome: record.outcome,
      errorCode: record.errorCode ?? null,
      errorMessage: record.errorMessage === undefined ? null : truncateText(record.errorMessage, 2_000),
      attempt: nonNegativeInt(record.attempt), // 0 for a cache hit
      startedAt: record.startedAt,
    };
  }
}

function add(a: LlmSpend, b: LlmSpend): LlmSpend {
  return { tokens: a.tokens + b.tokens, costUsd: a.costUsd + b.costUsd };
}

function round(usd: number): string {
  return usd.toFixed(4);
}

function nonNegativeInt(value: number): number {
  return Number.isFinite(value) ? Math.max(0, Math.round(value)) : 0;
}

/** What identifies a record in a log line (never its prompt or response). */
function describe(row: LlmCallRow) {
  return {
    taskId: row.taskId,
    subject: row.subject,
    provider: row.provider,
    model: row.model,
    promptVersion: row.promptVersion,
    outcome: row.outcome,
    inputTokens: row.inputTokens,
    outputTokens: row.outputTokens,
    costUsd: row.costUsd,
    startedAt: row.startedAt.toISOString(),
  };
}
