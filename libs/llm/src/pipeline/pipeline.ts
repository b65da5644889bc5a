import { AppError, PermanentError, RetryableError } from '@roadmap/contracts';
import type { Logger } from '@roadmap/observability';
import type { PromptDefinition } from '../prompts/registry.js';
import {
  cancelledError,
  estimateTokens,
  LlmOutputError,
  validateOutput,
  type GenerateOptions,
  type LlmCallContext,
  type LlmCallObserver,
  type LlmCallRecord,
  type LlmProvider,
  type LlmRepair,
  type LlmResult,
  type LlmUsage,
} from '../provider.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { attemptsTotal, cacheHits, cacheMisses, costUsd, failovers, repairs } from './metrics.js';
import type { OwnerSemaphore } from './owner-semaphore.js';
import { PartialThrottle } from './partial-throttle.js';
import { costOf, type PriceTable } from './prices.js';
import type { RateLimiter, Reservation } from './rate-limiter.js';
import { cacheKey, type ResponseCache } from './response-cache.js';
import { delay } from './wait.js';

/** One provider/model the pipeline may use, in order of preference. */
export interface PipelineEntry {
  /** The provider, already wrapped by withMetrics. */
  readonly provider: LlmProvider;
  readonly breaker: CircuitBreaker;
  /** Requests and tokens per rate window; 0 for unlimited. */
  readonly rpm: number;
  readonly tpm: number;
  /** Whether outputs are cached (not for the offline stand-in: it is free and deterministic). */
  readonly cacheable: boolean;
}

export interface LlmPipelineOptions {
  /** The configured provider first, then the fallbacks (LLM_FALLBACKS). */
  readonly entries: readonly PipelineEntry[];
  readonly rateLimiter: RateLimiter;
  readonly owners: OwnerSemaphore;
  /** Absent when the cache is off (LLM_CACHE_TTL_SECONDS=0). */
  readonly cache?: ResponseCache;
  /** Retries of retryable failures (429, 5xx, timeouts, unreachable) per call: LLM_MAX_RETRIES. */
  readonly maxRetries: number;
  /** Repair prompts per call after invalid or truncated output: LLM_REPAIR_ATTEMPTS. */
  readonly repairAttempts: number;
  readonly prices: PriceTable;
  /** Least time between two onPartial calls of a streamed call. */
  readonly streamThrottleMs: number;
  readonly observer?: LlmCallObserver;
  readonly logger?: Logger;
  /** Backoff of a retry without Retry-After: base × 2^n with full jitter, capped. */
  readonly retryBaseMs?: number;
  readonly retryCapMs?: number;
}

/** A server's Retry-After is honoured up to this long; longer ones fail the call (the job is retried later). */
const RETRY_AFTER_MAX_MS = 60_000;

/**
 * The LLM layer every service calls (it is what LLM_PROVIDER injects): an LlmProvider that wraps the
 * configured providers and, per generate() call,
 *
 * 1. answers from the shared response cache when it can (unless `context.fresh`);
 * 2. takes a slot of the owner's concurrency limit (shared by all replicas);
 * 3. per attempt: picks the first provider whose circuit is not open (failover), waits for the shared
 *    requests/tokens budget, asks the observer to admit the call (budgets), calls the provider
 *    (streamed when `onPartial` is given) and records the attempt with its cost;
 * 4. on invalid or truncated output sends a repair prompt showing the validation error (its own small
 *    budget, separate from transport retries), then fails with LLM_BAD_OUTPUT;
 * 5. retries retryable failures with backoff (a 429's Retry-After is shared with every replica);
 * 6. stores the validated output in the cache.
 */
export class LlmPipeline implements LlmProvider {
  private readonly retryBaseMs: number;
  private readonly retryCapMs: number;

  constructor(private readonly options: LlmPipelineOptions) {
    if (options.entries.length === 0) throw new Error('LlmPipeline needs at least one provider');
    this.retryBaseMs = options.retryBaseMs ?? 500;
    this.retryCapMs = options.retryCapMs ?? 10_000;
  }

  get name(): string {
    return this.primary.provider.name;
  }
  get model(): string {
    return this.primary.provider.model;
  }
  /** The providers in order of preference (each wrapped by withMetrics). */
  get providers(): readonly LlmProvider[] {
    return this.options.entries.map((e) => e.provider);
  }

  private get primary(): PipelineEntry {
    return this.options.entries[0] as PipelineEntry;
  }

  async generate<I, O>(prompt: PromptDefinition<I, O>, input: I, options: GenerateOptions = {}): Promise<LlmResult<O>> {
    const { signal } = options;
    const context: LlmCallContext = options.context ?? {};
    if (signal?.aborted) throw cancelledError(prompt, signal.reason);
    const started = performance.now();
    const rendered = prompt.render(input);
    const anyPrompt = prompt as PromptDefinition<unknown, unknown>;

    // 1. The cache, keyed by the provider that would serve now.
    const cacheEntry = this.options.cache ? this.options.entries.find((e) => e.breaker.state !== 'open') ?? this.primary : undefined;
    if (cacheEntry?.cacheable && !context.fresh) {
      const hit = await this.fromCache(anyPrompt, rendered, cacheEntry, context, started);
      if (hit) return hit as LlmResult<O>;
    }

    // 2. The owner's slot, held for the whole call (repairs and retries included).
    let release: (() => Promise<void>) | undefined;
    if (context.owner && this.options.owners.enabled) {
      try {
        release = await this.options.owners.acquire(context.owner, signal);
      } catch (error) {
        throw signal?.aborted ? cancelledError(prompt, error) : error;
      }
    }
    try {
      const result = await this.attempts(prompt, input, rendered, options, context);
      result.latencyMs = Math.round(performance.now() - started);
      const entry = this.options.entries.find((e) => e.provider.name === result.provider && e.provider.model === result.model);
      if (entry?.cacheable && this.options.cache) {
        await this.options.cache.set(cacheKeyOf(entry, anyPrompt, rendered, context), {
          output: result.output,
          provider: result.provider,
          model: result.model,
          promptVersion: result.promptVersion,
          usage: result.usage,
          storedAt: new Date().toISOString(),
        });
      }
      return result;
    } finally {
      await release?.();
    }
  }

  private async fromCache(
    prompt: PromptDefinition<unknown, unknown>,
    rendered: { system: string; user: string },
    entry: PipelineEntry,
    context: LlmCallContext,
    started: number,
  ): Promise<LlmResult<unknown> | undefined> {
    const cached = await this.options.cache?.get(cacheKeyOf(entry, prompt, rendered, context));
    let output: unknown;
    try {
      output = cached && validateOutput(prompt, cached.output, 'cache');
    } catch {
      output = undefined; // an entry from an older schema that slipped through: treat as a miss
    }
    if (!cached || output === undefined) {
      cacheMisses.inc({ prompt: prompt.name });
      return undefined;
    }
    cacheHits.inc({ prompt: prompt.name });
    const latencyMs = Math.round(performance.now() - started);
    await this.record({
      context,
      provider: cached.provider,
      model: cached.model,
      promptVersion: prompt.version,
      prompt: rendered,
      response: JSON.stringify(cached.output),
      usage: { inputTokens: 0, outputTokens: 0 },
      costUsd: 0,
      latencyMs,
      outcome: 'cached',
      attempt: 0,
      startedAt: new Date(Date.now() - latencyMs),
    });
    return {
      output,
      usage: { inputTokens: 0, outputTokens: 0 },
      provider: cached.provider,
      model: cached.model,
      promptVersion: prompt.version,
      latencyMs,
      cached: true,
      attempts: 0,
      costUsd: 0,
    };
  }

  /** Steps 3–5: attempts until one gives valid output, the budgets run out, or a permanent failure. */
  private async attempts<I, O>(
    prompt: PromptDefinition<I, O>,
    input: I,
    rendered: { system: string; user: string },
    options: GenerateOptions,
    context: LlmCallContext,
  ): Promise<LlmResult<O>> {
    const { signal } = options;
    const throttle = options.onPartial ? new PartialThrottle(options.onPartial, this.options.streamThrottleMs) : undefined;
    let attempt = 0;
    let retries = 0;
    let repairsLeft = this.options.repairAttempts;
    let repair: LlmRepair | undefined;
    let totalCost: number | undefined;
    let lastEntry: PipelineEntry | undefined;

    for (;;) {
      attempt += 1;
      const estimatedInputTokens = estimateTokens(rendered.system + rendered.user + (repair ? repair.error + (repair.response ?? '') : ''));
      const { entry, reservation } = await this.admit(prompt, context, estimatedInputTokens, signal);
      if (entry !== this.primary && entry !== lastEntry) {
        // Served by a fallback: counted once per call; logged when it happens within a call (breaker transitions are logged too).
        failovers.inc({ from: label(lastEntry ?? this.primary), to: label(entry) });
        if (lastEntry) this.options.logger?.warn({ from: label(lastEntry), to: label(entry), prompt: prompt.version }, 'LLM call failing over to the next provider');
      }
      lastEntry = entry;
      const { provider } = entry;
      const scope = { provider: provider.name, model: provider.model, rpm: entry.rpm, tpm: entry.tpm };

      const attemptStarted = new Date();
      const began = performance.now();
      try {
        const result = await provider.generate(prompt, input, {
          signal,
          context,
          repair,
          ...(throttle && { onPartial: throttle.push }),
        });
        entry.breaker.success();
        throttle?.flush();
        const cost = costOf(this.options.prices, provider.name, provider.model, result.usage);
        if (cost !== undefined) totalCost = (totalCost ?? 0) + cost;
        this.settle(reservation, result.usage);
        if (repair) repairs.inc({ prompt: prompt.name, outcome: 'repaired' });
        attemptsTotal.inc({ provider: provider.name, model: provider.model, outcome: repair ? 'repaired' : 'ok' });
        await this.record({
          context,
          provider: provider.name,
          model: provider.model,
          promptVersion: prompt.version,
          prompt: rendered,
          response: result.rawText ?? JSON.stringify(result.output),
          usage: result.usage,
          costUsd: cost,
          latencyMs: Math.round(performance.now() - began),
          outcome: repair ? 'repaired' : 'ok',
          attempt,
          startedAt: attemptStarted,
        });
        const { rawText: _raw, ...rest } = result;
        return { ...rest, attempts: attempt, ...(totalCost !== undefined && { costUsd: totalCost }) };
      } catch (caught) {
        const error = signal?.aborted ? cancelledError(prompt, caught) : caught;
        const usage = error instanceof LlmOutputError && error.usage ? error.usage : { inputTokens: 0, outputTokens: 0 };
        const cost = error instanceof LlmOutputError && error.usage ? costOf(this.options.prices, provider.name, provider.model, error.usage) : undefined;
        if (cost !== undefined) totalCost = (totalCost ?? 0) + cost;
        this.settle(reservation, usage);
        const code = error instanceof AppError ? error.code : 'UNKNOWN';
        const cancelled = code === 'CANCELLED';
        attemptsTotal.inc({ provider: provider.name, model: provider.model, outcome: cancelled ? 'cancelled' : 'error' });
        await this.record({
          context,
          provider: provider.name,
          model: provider.model,
          promptVersion: prompt.version,
          prompt: rendered,
          response: error instanceof LlmOutputError ? error.response : undefined,
          usage,
          costUsd: cost,
          latencyMs: Math.round(performance.now() - began),
          outcome: cancelled ? 'cancelled' : 'error',
          errorCode: code,
          errorMessage: error instanceof Error ? error.message : String(error),
          attempt,
          startedAt: attemptStarted,
        });
        if (cancelled) {
          entry.breaker.release();
          throw error;
        }

        if (code === 'LLM_BAD_OUTPUT') {
          entry.breaker.success(); // the endpoint answered: not an outage
          if (repair) repairs.inc({ prompt: prompt.name, outcome: 'failed' });
          if (repairsLeft > 0) {
            repairsLeft -= 1;
            repair = { response: error instanceof LlmOutputError ? error.response : undefined, error: describe(error as AppError) };
            this.options.logger?.info({ prompt: prompt.version, provider: label(entry), attempt, error: (error as AppError).message }, 'LLM output invalid; sending a repair prompt');
            continue;
          }
          const appError = error as AppError;
          throw new PermanentError(
            'LLM_BAD_OUTPUT',
            `${appError.message} (after ${this.options.repairAttempts} repair attempt${this.options.repairAttempts === 1 ? '' : 's'})`,
            { status: 502, details: appError.details, cause: error },
          );
        }

        if (error instanceof AppError && error.retryable) {
          entry.breaker.failure();
          if (repair) repairs.inc({ prompt: prompt.name, outcome: 'error' });
          if (error.code === 'LLM_RATE_LIMITED' && error.retryAfterMs) {
            // Every replica backs off, not just this call.
            await this.options.rateLimiter.hold(scope, Date.now() + Math.min(error.retryAfterMs, RETRY_AFTER_MAX_MS)).catch(() => undefined);
          }
          if (retries < this.options.maxRetries) {
            retries += 1;
            const waitMs = this.backoff(error, retries);
            if (waitMs > 0) {
              try {
                await delay(waitMs, signal);
              } catch (abort) {
                throw cancelledError(prompt, abort);
              }
            }
            continue;
          }
          throw error;
        }
        // Permanent (a 4xx, a refusal): the endpoint is up and the request will not get better.
        entry.breaker.success();
        throw error;
      }
    }
  }

  /**
   * Picks the provider for an attempt, waits for its rate budget and asks the observer to admit it.
   * A budget refusal (LLM_BUDGET_EXHAUSTED) moves on to the next provider whose circuit allows a call —
   * configure a cheaper model as a fallback and the observer may admit it where the first was refused
   * (it sees the provider and model) — and is thrown when none is left.
   */
  private async admit(
    prompt: { version: string },
    context: LlmCallContext,
    estimatedInputTokens: number,
    signal: AbortSignal | undefined,
  ): Promise<{ entry: PipelineEntry; reservation: Reservation }> {
    let entry: PipelineEntry = this.choose(prompt);
    for (;;) {
      const { provider } = entry;
      const scope = { provider: provider.name, model: provider.model, rpm: entry.rpm, tpm: entry.tpm };
      let reservation: Reservation;
      try {
        reservation = await this.options.rateLimiter.acquire(scope, estimatedInputTokens, signal);
      } catch (error) {
        entry.breaker.release();
        throw signal?.aborted ? cancelledError(prompt, error) : error;
      }
      try {
        await this.options.observer?.admit?.(context, { provider: provider.name, model: provider.model, promptVersion: prompt.version, estimatedInputTokens });
        return { entry, reservation };
      } catch (error) {
        entry.breaker.release();
        await this.options.rateLimiter.reconcile(reservation, { requests: -1, tokens: -reservation.tokens }).catch(() => undefined);
        const next: PipelineEntry | undefined =
          error instanceof AppError && error.code === 'LLM_BUDGET_EXHAUSTED' ? this.options.entries.slice(this.options.entries.indexOf(entry) + 1).find((e) => e.breaker.tryPass()) : undefined;
        if (!next) throw error;
        this.options.logger?.info({ refused: label(entry), next: label(next), prompt: prompt.version }, 'LLM budget refused this model; trying the next configured one');
        entry = next;
      }
    }
  }

  /** The first provider whose circuit lets a call through; LLM_CIRCUIT_OPEN when none does. */
  private choose(prompt: { version: string }): PipelineEntry {
    for (const entry of this.options.entries) {
      if (entry.breaker.tryPass()) return entry;
    }
    const retryInMs = Math.max(1_000, Math.min(...this.options.entries.map((e) => e.breaker.retryInMs())));
    throw new RetryableError(
      'LLM_CIRCUIT_OPEN',
      `Every configured LLM provider's circuit is open (${this.options.entries.map(label).join(', ')}) for ${prompt.version}`,
      { status: 503, retryAfterMs: retryInMs },
    );
  }

  /** Delay before a retry: the server's Retry-After when it gave one (the hold already shares it), else exponential with full jitter. */
  private backoff(error: AppError, retry: number): number {
    if (error.retryAfterMs !== undefined) return Math.min(error.retryAfterMs, RETRY_AFTER_MAX_MS);
    // Failing over needs no wait: the next provider is healthy as far as we know.
    if (this.options.entries.some((e, i) => i > 0 && e.breaker.state === 'closed') && this.primary.breaker.state === 'open') return 0;
    return Math.random() * Math.min(this.retryCapMs, this.retryBaseMs * 2 ** (retry - 1));
  }

  /** Corrects the rate reservation with the tokens the attempt really used (in the background). */
  private settle(reservation: Reservation, usage: LlmUsage): void {
    const actual = usage.inputTokens + usage.outputTokens;
    if (actual !== reservation.tokens) {
      this.options.rateLimiter.reconcile(reservation, { tokens: actual - reservation.tokens }).catch((error: unknown) => {
        this.options.logger?.debug({ err: error }, 'could not reconcile LLM token usage with the rate window');
      });
    }
  }

  /** Passes a record to the observer and counts cost; an observer's failure never fails the call. */
  private async record(record: LlmCallRecord): Promise<void> {
    if (record.costUsd) costUsd.inc({ provider: record.provider, model: record.model }, record.costUsd);
    if (!this.options.observer) return;
    try {
      await this.options.observer.record(record);
    } catch (error) {
      this.options.logger?.warn({ err: error, provider: record.provider, prompt: record.promptVersion }, 'LLM call observer failed to record a call');
    }
  }
}

/** The validation error as the model should read it: message and the fields at fault. */
function describe(error: AppError): string {
  const fields = error.details.map((d) => `- ${d.field}: ${d.message}`).join('\n');
  return fields ? `${error.message}\n${fields}` : error.message;
}

function label(entry: PipelineEntry): string {
  return `${entry.provider.name}/${entry.provider.model}`;
}

/** The response-cache key of a call served by `entry`'s provider. */
function cacheKeyOf(entry: PipelineEntry, prompt: PromptDefinition<unknown, unknown>, rendered: { system: string; user: string }, context: LlmCallContext): string {
  return cacheKey({ provider: entry.provider.name, model: entry.provider.model, prompt, rendered, definitionVersion: context.definitionVersion });
}
