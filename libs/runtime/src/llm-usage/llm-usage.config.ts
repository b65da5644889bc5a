import { z } from 'zod';
import { env } from '@roadmap/contracts';

/**
 * LLM usage settings, as environment variables (the workers merge this into their schema). A budget
 * of 0 is unlimited. Budgets are checked before every provider call against the spend recorded in
 * PostgreSQL (plus this process's records not yet written). Retention of the records
 * (LLM_CALLS_RETENTION_DAYS) is the workflow worker's scheduled maintenance, which calls pruneLlmCalls.
 */
export const LlmUsageEnvSchema = z.object({
  /** Tokens (in + out) one roadmap's calls may use in all. */
  LLM_BUDGET_TOKENS_PER_ROADMAP: env.int(0, 0),
  /** Estimated USD one roadmap's calls may cost in all (needs a price table: LLM_PRICES). */
  LLM_BUDGET_USD_PER_ROADMAP: env.number(0, 0),
  /** Estimated USD one owner's calls may cost per UTC day (needs LLM_PRICES). */
  LLM_BUDGET_USD_PER_OWNER_DAY: env.number(0, 0),
  /** Longest prompt or response text stored per call record; longer text is cut with a marker. */
  LLM_CALL_RECORD_MAX_CHARS: env.int(32_768, 256, 1_048_576),
});
export type LlmUsageConfig = z.infer<typeof LlmUsageEnvSchema>;

/** What the call recorder needs, taken from the configuration. */
export interface LlmUsageOptions {
  readonly tokensPerRoadmap: number;
  readonly usdPerRoadmap: number;
  readonly usdPerOwnerDay: number;
  readonly maxRecordChars: number;
  /** Records written per statement; a full batch is written at once. */
  readonly batchSize?: number;
  /** How long a record may wait for its batch. */
  readonly flushMs?: number;
  /** Records held while PostgreSQL is unreachable; beyond it the oldest are dropped, with an error log. */
  readonly maxBuffered?: number;
}

export function llmUsageOptions(config: LlmUsageConfig): LlmUsageOptions {
  return {
    tokensPerRoadmap: config.LLM_BUDGET_TOKENS_PER_ROADMAP,
    usdPerRoadmap: config.LLM_BUDGET_USD_PER_ROADMAP,
    usdPerOwnerDay: config.LLM_BUDGET_USD_PER_OWNER_DAY,
    maxRecordChars: config.LLM_CALL_RECORD_MAX_CHARS,
  };
}
