import { counter, gauge, histogram } from '@roadmap/observability';

/** Wait buckets in seconds: from no wait to the longest a call may wait for its budget. */
const WAIT_BUCKETS = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export const rateLimitWait = histogram(
  'roadmap_llm_rate_limit_wait_seconds',
  'Time LLM calls waited for the shared requests/tokens-per-minute budget, by outcome (admitted, timeout, cancelled)',
  ['provider', 'model', 'outcome'],
  WAIT_BUCKETS,
);
export const ownerWait = histogram(
  'roadmap_llm_owner_wait_seconds',
  'Time LLM calls waited for a slot of their owner’s concurrency limit, by outcome (admitted, timeout, cancelled)',
  ['outcome'],
  WAIT_BUCKETS,
);
export const cacheHits = counter('roadmap_llm_cache_hits_total', 'LLM calls answered from the shared response cache', ['prompt']);
export const cacheMisses = counter('roadmap_llm_cache_misses_total', 'LLM calls not found in the shared response cache (fresh calls excluded)', ['prompt']);
export const repairs = counter(
  'roadmap_llm_repairs_total',
  'Repair prompts sent after invalid or truncated output, by outcome (repaired, failed: still invalid, error: the repair call itself failed)',
  ['prompt', 'outcome'],
);
export const failovers = counter('roadmap_llm_failovers_total', 'LLM calls (or attempts within one) sent to a fallback because an earlier provider’s circuit was open', [
  'from',
  'to',
]);
export const breakerState = gauge('roadmap_llm_circuit_breaker_state', 'Circuit breaker state per provider/model: 0 closed, 1 half-open, 2 open', [
  'provider',
  'model',
]);
export const costUsd = counter('roadmap_llm_cost_usd_total', 'Estimated LLM cost in USD from the configured price table', ['provider', 'model']);
export const attemptsTotal = counter('roadmap_llm_attempts_total', 'Provider attempts made by the LLM pipeline, by outcome', ['provider', 'model', 'outcome']);
