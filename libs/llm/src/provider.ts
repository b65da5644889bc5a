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
}

export interface GenerateOptions {
  /** Aborts the call; it then rejects with an AppError `CANCELLED`. */
  signal?: AbortSignal;
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

/** The error every provider throws when the caller's signal aborts a call. */
export function cancelledError(prompt: { version: string }, cause?: unknown): AppError {
  return new AppError('CANCELLED', `LLM call for ${prompt.version} was cancelled`, { cause });
}

/** Rough token count for providers that do not report usage: about four characters per token. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
