import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PermanentError, RetryableError } from '@roadmap/contracts';
import { checkFramework } from '../check-framework.js';
import type { PromptDefinition, PromptInputs, PromptName } from '../prompts/registry.js';
import {
  cancelledError,
  estimateTokens,
  LlmOutputError,
  repairInstruction,
  validateOutput,
  type GenerateOptions,
  type LlmProvider,
  type LlmResult,
} from '../provider.js';
import { recommendResources, writeQuiz, writeTutorial } from './content.js';
import { designFramework, editFramework } from './framework.js';
import { analyseIntent } from './intent.js';

export interface OfflineProviderOptions {
  /** Simulated latency of every call in ms (abortable), so benchmarks can stand in for a real model. */
  latencyMs?: number;
  /**
   * Share of calls (0–1) that fail on purpose: half as a transient outage (LLM_UNAVAILABLE), half as
   * truncated JSON (LLM_BAD_OUTPUT, repairable), so tests and benchmarks exercise retries and repairs.
   */
  failureRate?: number;
  /** Seed of the simulated failures: the same seed and sequence of calls fail the same way. */
  failureSeed?: number;
}

/** Stream chunks a simulated answer is cut into (its latency is spread over them). */
const STREAM_CHUNKS = 8;

/** One deterministic generator per prompt. Output is validated by the provider, like a model's. */
const GENERATORS: { readonly [N in PromptName]: (input: PromptInputs[N]) => unknown } = {
  intent_analysis: analyseIntent,
  curriculum_design: ({ intent }) => designFramework(intent),
  validation: ({ intent, framework }) => {
    const issues = checkFramework(framework, intent).slice(0, 50);
    return { valid: !issues.some((i) => i.severity === 'error'), issues };
  },
  edit: editFramework,
  tutorial: writeTutorial,
  resources: recommendResources,
  quiz: writeQuiz,
};

/**
 * A deterministic offline stand-in for an LLM — not a model. It derives structured output from the
 * request with templates and a small built-in catalogue of domains, so the platform runs end to end
 * with no network and no API key, and the same input always gives the same output, byte for byte.
 */
export class OfflineProvider implements LlmProvider {
  readonly name = 'offline';
  readonly model = 'offline-deterministic-1';
  private readonly latencyMs: number;
  private readonly failureRate: number;
  private readonly failureSeed: number;
  /** Calls seen per request, so a retry of a request that failed can succeed (deterministically). */
  private readonly seen = new Map<string, number>();

  constructor(options: OfflineProviderOptions = {}) {
    this.latencyMs = Math.max(0, options.latencyMs ?? 0);
    this.failureRate = Math.min(1, Math.max(0, options.failureRate ?? 0));
    this.failureSeed = options.failureSeed ?? 1;
  }

  async generate<I, O>(prompt: PromptDefinition<I, O>, input: I, options: GenerateOptions = {}): Promise<LlmResult<O>> {
    const started = performance.now();
    const { signal } = options;
    if (signal?.aborted) throw cancelledError(prompt, signal.reason);
    // Rendered although nothing reads it, so a template that cannot render fails here as it would online.
    const { system, user } = prompt.render(input);
    const inputTokens = estimateTokens(system + user + (options.repair ? repairInstruction(options.repair.error) : ''));
    const failure = this.simulatedFailure(prompt.version, user, options.repair !== undefined);
    if (failure === 'unavailable') {
      await this.pause(this.latencyMs, prompt, signal);
      throw new RetryableError('LLM_UNAVAILABLE', `Simulated outage of the offline provider for ${prompt.version} (OFFLINE_LLM_FAILURE_RATE)`, { status: 502 });
    }
    const generator = GENERATORS[prompt.name] as ((input: unknown) => unknown) | undefined;
    if (!generator) throw new PermanentError('LLM_REJECTED', `The offline provider has no generator for prompt "${prompt.name}"`);
    const raw = generator(input);
    const output = validateOutput(prompt, raw, 'offline provider');
    const whole = JSON.stringify(output);
    // A simulated truncation sends (and streams) half the answer, as a model stopped at its token limit would.
    const text = failure === 'truncated' ? whole.slice(0, Math.floor(whole.length / 2)) : whole;
    if (options.onPartial) {
      const size = Math.max(1, Math.ceil(text.length / STREAM_CHUNKS));
      for (let end = size; end < text.length + size; end += size) {
        await this.pause(this.latencyMs / STREAM_CHUNKS, prompt, signal);
        const sent = text.slice(0, Math.min(end, text.length));
        options.onPartial({ text: sent, outputTokens: estimateTokens(sent) });
      }
    } else {
      await this.pause(this.latencyMs, prompt, signal);
    }
    const usage = { inputTokens, outputTokens: estimateTokens(text) };
    if (failure === 'truncated') {
      throw new LlmOutputError(
        `Simulated truncated output of the offline provider for ${prompt.version} (OFFLINE_LLM_FAILURE_RATE)`,
        [{ field: '(root)', message: 'output truncated at the token limit: answer more briefly' }],
        text,
        usage,
      );
    }
    return {
      output,
      usage,
      provider: this.name,
      model: this.model,
      promptVersion: prompt.version,
      rawText: whole,
      latencyMs: Math.round(performance.now() - started),
    };
  }

  /** Sleeps `ms` (abortable); a cancelled sleep is the contracts' CANCELLED. */
  private async pause(ms: number, prompt: { version: string }, signal?: AbortSignal): Promise<void> {
    if (ms <= 0) return;
    try {
      await sleep(ms, undefined, { signal });
    } catch (error) {
      if (signal?.aborted) throw cancelledError(prompt, signal.reason);
      throw error;
    }
  }

  /**
   * Whether this call fails on purpose, decided by a hash of the seed, the request and how many times
   * it was seen: deterministic for a seed and a sequence of calls, and a retry is a new draw.
   */
  private simulatedFailure(version: string, user: string, repair: boolean): 'unavailable' | 'truncated' | undefined {
    if (this.failureRate <= 0) return undefined;
    const request = `${version}\u0000${user}\u0000${repair ? 'repair' : ''}`;
    const seen = (this.seen.get(request) ?? 0) + 1;
    this.seen.set(request, seen);
    if (this.seen.size > 10_000) this.seen.clear();
    const digest = createHash('sha256').update(`${this.failureSeed}\u0000${seen}\u0000${request}`).digest();
    const draw = digest.readUInt32BE(0) / 0x1_0000_0000;
    if (draw >= this.failureRate) return undefined;
    return (digest[4] as number) % 2 === 0 ? 'unavailable' : 'truncated';
  }
}
