import { AppError, PermanentError, fieldIssues } from '@roadmap/contracts';
import type { PromptDefinition } from './prompts/registry.js';

/** Tokens of one call: prompt in, completion out. */
export interface LlmUsage {
  inputTokens: number;
  outputTokens: number;
}

/** One validated LLM output and how it was made. */
export interface LlmResult<O> {
  output: O;
  usage: LlmUsage;
  provider: string;
  model: string;
  /** The prompt's version (`tutorial@1`), stored with the output. */
  promptVersion: string;
  latencyMs: number;
  /** Served from the shared response cache (no provider call, no tokens spent). */
  cached?: boolean;
  /** Provider calls made for this result (transport retries, repair, failover), 0 when cached. */
  attempts?: number;
  /** Estimated cost in USD from the configured price table, when one is configured. */
  costUsd?: number;
  /** The raw text the model returned (for call records), when the provider has it. */
  rawText?: string;
}

/** Who a call is for: accounting, budgets, per-owner limits and call records hang off this. */
export interface LlmCallContext {
  taskId?: string;
  roadmapId?: string;
  owner?: string;
  /** What the call serves: a workflow step (`curriculum_design`) or a content item (`<conceptId>:tutorial`). */
  subject?: string;
  /** Ask for something new: skip the response cache (per-item retry, regeneration with feedback). */
  fresh?: boolean;
  /**
   * Version of the workflow definition the call serves (the task's `workflow_version`, e.g.
   * `roadmap-workflow@1`): part of the response-cache key, so a new definition never reuses what an
   * older one was answered. Absent: the key has no definition version.
   */
  definitionVersion?: string;
}

/** Partial output of a streamed call, as it arrives. */
export interface LlmPartial {
  /** The raw text received so far. */
  text: string;
  /** Output tokens so far (reported or estimated). */
  outputTokens: number;
}

export interface GenerateOptions {
  /** Aborts the call; it then rejects with an AppError `CANCELLED`. */
  signal?: AbortSignal;
  context?: LlmCallContext;
  /** Asks for a streamed call; receives the text so far (callers throttle what they publish). */
  onPartial?: (partial: LlmPartial) => void;
  /** Set by the pipeline on a repair attempt: the refused answer and why, shown to the model. */
  repair?: LlmRepair;
}

/** A repair prompt's material: the previous answer (when there was one) and its validation error. */
export interface LlmRepair {
  response?: string;
  error: string;
}

/** One provider attempt (or cache hit), as recorded for accounting and debugging. */
export interface LlmCallRecord {
  context: LlmCallContext;
  provider: string;
  model: string;
  promptVersion: string;
  /** The rendered prompt sent. */
  prompt: { system: string; user: string };
  /** The raw response text, when one arrived. */
  response?: string;
  usage: LlmUsage;
  costUsd?: number;
  latencyMs: number;
  /** `ok`, `cached`, `repaired` (valid after a repair prompt), `error`, `cancelled`. */
  outcome: 'ok' | 'cached' | 'repaired' | 'error' | 'cancelled';
  errorCode?: string;
  errorMessage?: string;
  /** 1-based attempt number within this generate() call. */
  attempt: number;
  startedAt: Date;
}

/**
 * Hooks the LLM layer calls around every provider attempt: budgets (admit) and records/accounting
 * (record). Provided by the services (PostgreSQL-backed); optional.
 */
export interface LlmCallObserver {
  /** Before a call reaches a provider; throws AppError 'LLM_BUDGET_EXHAUSTED' to stop it. */
  admit?(context: LlmCallContext, call: { provider: string; model: string; promptVersion: string; estimatedInputTokens: number }): Promise<void>;
  /** After every attempt (cache hits, failures, repairs included). Must not throw into the call. */
  record(record: LlmCallRecord): void | Promise<void>;
}

/**
 * Something that turns a prompt and its input into a validated output. Implementations validate
 * every output with `prompt.schema` before returning it and throw the contracts' errors
 * (RetryableError / PermanentError / AppError 'CANCELLED') on failure.
 */
export interface LlmProvider {
  readonly name: string;
  readonly model: string;
  generate<I, O>(prompt: PromptDefinition<I, O>, input: I, options?: GenerateOptions): Promise<LlmResult<O>>;
}

/** At most this many zod issues are carried in an error's details. */
const MAX_ISSUES = 20;

/** Validates raw output with the prompt's schema, or throws LLM_BAD_OUTPUT naming the fields at fault. */
export function validateOutput<O>(prompt: PromptDefinition<unknown, O>, raw: unknown, source: string): O {
  const result = prompt.schema.safeParse(raw);
  if (result.success) return result.data;
  const details = fieldIssues(result.error.issues).slice(0, MAX_ISSUES);
  throw new PermanentError(
    'LLM_BAD_OUTPUT',
    `${source} output for ${prompt.version} does not match its schema (${result.error.issues.length} issue(s), first: ${details[0]?.field}: ${details[0]?.message})`,
    { status: 502, details },
  );
}

/**
 * LLM_BAD_OUTPUT with what the model actually said (so the pipeline can show it the error and ask
 * again) and the tokens the refused answer cost.
 */
export class LlmOutputError extends PermanentError {
  constructor(
    message: string,
    details: ReadonlyArray<{ field: string; message: string }>,
    readonly response?: string,
    readonly usage?: LlmUsage,
    cause?: unknown,
  ) {
    super('LLM_BAD_OUTPUT', message, { status: 502, details, cause });
  }
}

/** Text of a repair prompt: the validation error, and the demand for a corrected answer. */
export function repairInstruction(error: string): string {
  return [
    'Your previous answer was refused by the validator:',
    error,
    'Answer again with the complete JSON object only, matching the required schema exactly (no prose, no code fences).',
  ].join('\n\n');
}

/** The error every provider throws when the caller's signal aborts a call. */
export function cancelledError(prompt: { version: string }, cause?: unknown): AppError {
  return new AppError('CANCELLED', `LLM call for ${prompt.version} was cancelled`, { cause });
}

/** Rough token count for providers that do not report usage: about four characters per token. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
