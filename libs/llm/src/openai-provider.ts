import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { AppError, PermanentError, RetryableError } from '@roadmap/contracts';
import type { Logger } from '@roadmap/observability';
import { strictJsonSchema } from './json-schema.js';
import type { PromptDefinition } from './prompts/registry.js';
import { cancelledError, estimateTokens, validateOutput, type GenerateOptions, type LlmProvider, type LlmResult } from './provider.js';

export interface OpenAiProviderOptions {
  /** Base URL of an OpenAI-compatible API, ending in /v1. */
  baseURL: string;
  apiKey: string;
  model: string;
  /** Per attempt; the SDK retries a timed-out attempt while retries remain. Default 120 000. */
  timeoutMs?: number;
  /** Retries of 408/409/429/5xx and connection errors, honouring Retry-After. Default 2. */
  maxRetries?: number;
  /** Receives the SDK's own warnings (retries, deprecations); message text only. */
  logger?: Logger;
}

/**
 * An LLM behind any OpenAI-compatible chat-completions endpoint, through the official SDK. Asks for
 * strict JSON-schema structured output, validates it with the prompt's zod schema, and turns every
 * failure into one of the contracts' errors so callers can decide between retry and give-up.
 */
export class OpenAiProvider implements LlmProvider {
  readonly name = 'openai';
  readonly model: string;
  private readonly client: OpenAI;
  private readonly endpoint: string;
  private readonly apiKey: string;

  constructor(options: OpenAiProviderOptions) {
    this.model = options.model;
    this.apiKey = options.apiKey;
    this.endpoint = safeOrigin(options.baseURL);
    const log = options.logger;
    this.client = new OpenAI({
      baseURL: options.baseURL,
      apiKey: options.apiKey,
      timeout: options.timeoutMs ?? 120_000,
      maxRetries: options.maxRetries ?? 2,
      // The SDK logs to the console by default; route it to ours, or silence it.
      logLevel: log ? 'warn' : 'off',
      ...(log && {
        logger: {
          error: (message: string) => log.error({ provider: this.name }, this.redact(message)),
          warn: (message: string) => log.warn({ provider: this.name }, this.redact(message)),
          info: (message: string) => log.info({ provider: this.name }, this.redact(message)),
          debug: (message: string) => log.debug({ provider: this.name }, this.redact(message)),
        },
      }),
    });
  }

  async generate<I, O>(prompt: PromptDefinition<I, O>, input: I, options: GenerateOptions = {}): Promise<LlmResult<O>> {
    const started = performance.now();
    const { system, user } = prompt.render(input);
    let completion: OpenAI.Chat.Completions.ChatCompletion;
    try {
      completion = await this.client.chat.completions.create(
        {
          model: this.model,
          messages: [
            { role: 'system', content: system },
            { role: 'user', content: user },
          ],
          response_format: {
            type: 'json_schema',
            json_schema: { name: prompt.name, strict: true, schema: strictJsonSchema(prompt.schema) },
          },
        },
        { signal: options.signal },
      );
    } catch (error) {
      throw this.classify(error, prompt, options.signal);
    }

    // Compatible servers vary: check the shape rather than trust the SDK's types.
    const choice = Array.isArray(completion.choices) ? completion.choices[0] : undefined;
    const where = `${this.endpoint} (${this.model}) for ${prompt.version}`;
    if (typeof choice?.message !== 'object' || choice.message === null) {
      throw badOutput(`LLM response from ${where} has no choices[0].message`, 'choices', 'missing');
    }
    if (choice.finish_reason === 'length') {
      throw badOutput(`LLM output from ${where} was truncated (finish_reason "length")`, '(root)', 'output truncated at the token limit');
    }
    if (choice.finish_reason === 'content_filter') {
      throw new PermanentError('LLM_REJECTED', `LLM output from ${where} was withheld by a content filter`, { status: 502 });
    }
    if (choice.message.refusal) {
      throw new PermanentError('LLM_REJECTED', `The model refused ${prompt.version}: ${truncate(choice.message.refusal, 300)}`, { status: 502 });
    }
    const content = choice.message.content;
    if (typeof content !== 'string' || content.trim() === '') throw badOutput(`LLM response from ${where} has no content`, '(root)', 'empty content');

    let raw: unknown;
    try {
      raw = JSON.parse(content);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw badOutput(`LLM output from ${where} is not JSON (${content.length} chars, starting ${JSON.stringify(truncate(content, 80))})`, '(root)', `not valid JSON: ${reason}`);
    }
    const output = validateOutput(prompt, raw, `LLM (${this.model})`);
    return {
      output,
      usage: {
        inputTokens: completion.usage?.prompt_tokens ?? estimateTokens(system + user),
        outputTokens: completion.usage?.completion_tokens ?? estimateTokens(content),
      },
      provider: this.name,
      model: this.model,
      promptVersion: prompt.version,
      latencyMs: Math.round(performance.now() - started),
    };
  }

  /** Maps SDK and transport errors to the contracts' errors; the API key never reaches a message. */
  private classify(error: unknown, prompt: { version: string }, signal?: AbortSignal): AppError {
    if (error instanceof AppError) return error;
    if (signal?.aborted || error instanceof APIUserAbortError) return cancelledError(prompt, error);
    const where = `${this.endpoint} (${this.model}) for ${prompt.version}`;
    const detail = error instanceof Error ? this.redact(error.message) : 'unknown error';
    if (error instanceof APIConnectionTimeoutError) {
      return new RetryableError('LLM_TIMEOUT', `LLM request to ${where} timed out`, { status: 504, cause: error });
    }
    if (error instanceof APIConnectionError) {
      return new RetryableError('LLM_UNAVAILABLE', `Cannot reach LLM endpoint ${where}: ${detail}`, { status: 502, cause: error });
    }
    if (error instanceof SyntaxError) {
      // A 200 whose body is not JSON (a proxy's HTML page, a broken server): the response is unusable.
      return new PermanentError('LLM_BAD_OUTPUT', `LLM endpoint ${where} answered with a body that is not JSON: ${detail}`, {
        status: 502,
        details: [{ field: '(response)', message: 'not valid JSON' }],
        cause: error,
      });
    }
    if (error instanceof APIError && typeof error.status === 'number') {
      const status = error.status;
      if (status === 429) {
        return new RetryableError('LLM_RATE_LIMITED', `LLM endpoint ${where} is rate limiting requests: ${detail}`, {
          status: 429,
          retryAfterMs: retryAfterMs(error.headers),
          cause: error,
        });
      }
      if (status === 408) return new RetryableError('LLM_TIMEOUT', `LLM endpoint ${where} timed out the request (HTTP 408)`, { status: 504, cause: error });
      if (status >= 500) {
        return new RetryableError('LLM_UNAVAILABLE', `LLM endpoint ${where} failed with HTTP ${status}: ${detail}`, { status: 502, cause: error });
      }
      return new PermanentError('LLM_REJECTED', `LLM endpoint ${where} rejected the request with HTTP ${status}: ${detail}`, { status: 502, cause: error });
    }
    // Not from the SDK's HTTP layer (a fetch or runtime failure): treat as a transient outage.
    return new RetryableError('LLM_UNAVAILABLE', `LLM request to ${where} failed: ${detail}`, { status: 502, cause: error });
  }

  /**
   * Removes the key from text a server echoed back (messages we build never contain it). Strings
   * shorter than 8 characters cannot be told from ordinary words, so they are left alone.
   */
  private redact(text: string): string {
    return this.apiKey.length >= 8 ? text.split(this.apiKey).join('[redacted]') : text;
  }
}

function badOutput(message: string, field: string, problem: string): PermanentError {
  return new PermanentError('LLM_BAD_OUTPUT', message, { status: 502, details: [{ field, message: problem }] });
}

/** Server-advised wait: `retry-after-ms`, else `retry-after` in seconds or as an HTTP date. */
export function retryAfterMs(headers: Headers | undefined): number | undefined {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number.parseFloat(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

/** Scheme, host and path of the endpoint, without any credentials a URL might carry. */
function safeOrigin(baseURL: string): string {
  try {
    const url = new URL(baseURL);
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/$/, '')}`;
  } catch {
    return 'the configured LLM endpoint';
  }
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
