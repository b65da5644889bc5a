import type OpenAI from 'openai';
import { AppError, PermanentError, RetryableError } from '@roadmap/contracts';
import type { Logger } from '@roadmap/observability';
import { strictJsonSchema } from './json-schema.js';
import type { PromptDefinition } from './prompts/registry.js';
import {
  cancelledError,
  estimateTokens,
  LlmOutputError,
  repairInstruction,
  validateOutput,
  type GenerateOptions,
  type LlmProvider,
  type LlmResult,
  type LlmUsage,
} from './provider.js';

/**
 * The SDK, loaded on the first call: it is about 240 modules and ~8 MB of heap that a process with
 * the offline provider (the default) never needs (bench/README.md, memory).
 */
type OpenAiSdk = typeof import('openai');
let sdk: OpenAiSdk | undefined;
let loadingSdk: Promise<OpenAiSdk> | undefined;
function loadSdk(): Promise<OpenAiSdk> {
  loadingSdk ??= import('openai').then((module) => (sdk = module));
  return loadingSdk;
}

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
  private client?: OpenAI;
  private readonly clientOptions: ConstructorParameters<typeof OpenAI>[0];
  private readonly endpoint: string;
  private readonly apiKey: string;

  constructor(options: OpenAiProviderOptions) {
    this.model = options.model;
    this.apiKey = options.apiKey;
    this.endpoint = safeOrigin(options.baseURL);
    const log = options.logger;
    this.clientOptions = {
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
    };
  }

  /** The SDK client, created on the first call (see {@link loadSdk}). */
  private async sdkClient(): Promise<OpenAI> {
    if (this.client === undefined) {
      const { default: OpenAIClient } = await loadSdk();
      this.client ??= new OpenAIClient(this.clientOptions);
    }
    return this.client;
  }

  async generate<I, O>(prompt: PromptDefinition<I, O>, input: I, options: GenerateOptions = {}): Promise<LlmResult<O>> {
    const started = performance.now();
    const { system, user } = prompt.render(input);
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
      { role: 'system', content: system },
      { role: 'user', content: user },
    ];
    if (options.repair) {
      // The repair prompt: the model sees its refused answer and the validator's error.
      if (options.repair.response !== undefined) messages.push({ role: 'assistant', content: options.repair.response });
      messages.push({ role: 'user', content: repairInstruction(options.repair.error) });
    }
    const body = {
      model: this.model,
      messages,
      response_format: {
        type: 'json_schema' as const,
        json_schema: { name: prompt.name, strict: true, schema: strictJsonSchema(prompt.schema) },
      },
    };
    let answer: Answer;
    try {
      answer = options.onPartial ? await this.streamed(body, options) : await this.whole(body, options);
    } catch (error) {
      throw this.classify(error, prompt, options.signal);
    }

    const where = `${this.endpoint} (${this.model}) for ${prompt.version}`;
    const { content } = answer;
    const usage = {
      inputTokens: answer.usage?.prompt_tokens ?? estimateTokens(messages.map((m) => String(m.content)).join('')),
      outputTokens: answer.usage?.completion_tokens ?? estimateTokens(content ?? ''),
    };
    if (answer.finishReason === 'length') {
      throw badOutput(`LLM output from ${where} was truncated (finish_reason "length")`, '(root)', 'output truncated at the token limit: answer more briefly', content, usage);
    }
    if (answer.finishReason === 'content_filter') {
      throw new PermanentError('LLM_REJECTED', `LLM output from ${where} was withheld by a content filter`, { status: 502 });
    }
    if (answer.refusal) {
      throw new PermanentError('LLM_REJECTED', `The model refused ${prompt.version}: ${truncate(answer.refusal, 300)}`, { status: 502 });
    }
    if (typeof content !== 'string' || content.trim() === '') throw badOutput(`LLM response from ${where} has no content`, '(root)', 'empty content', undefined, usage);

    let raw: unknown;
    try {
      raw = JSON.parse(content);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw badOutput(`LLM output from ${where} is not JSON (${content.length} chars, starting ${JSON.stringify(truncate(content, 80))})`, '(root)', `not valid JSON: ${reason}`, content, usage);
    }
    let output: O;
    try {
      output = validateOutput(prompt, raw, `LLM (${this.model})`);
    } catch (error) {
      if (error instanceof AppError) throw new LlmOutputError(error.message, error.details, content, usage, error);
      throw error;
    }
    return {
      output,
      usage,
      provider: this.name,
      model: this.model,
      promptVersion: prompt.version,
      latencyMs: Math.round(performance.now() - started),
      rawText: content,
    };
  }

  /** One non-streamed completion. Compatible servers vary: the shape is checked rather than trusted. */
  private async whole(body: CompletionBody, options: GenerateOptions): Promise<Answer> {
    const client = await this.sdkClient();
    const completion = await client.chat.completions.create(body, { signal: options.signal });
    const choice = Array.isArray(completion.choices) ? completion.choices[0] : undefined;
    if (typeof choice?.message !== 'object' || choice.message === null) {
      throw badOutput(`LLM response from ${this.endpoint} (${this.model}) has no choices[0].message`, 'choices', 'missing');
    }
    return {
      content: choice.message.content ?? undefined,
      finishReason: choice.finish_reason ?? undefined,
      refusal: choice.message.refusal ?? undefined,
      usage: completion.usage ?? undefined,
    };
  }

  /**
   * A streamed completion (server-sent events) with usage in the last chunk: `onPartial` gets the
   * text so far after every chunk (the pipeline throttles it), and the whole text is validated at the end.
   */
  private async streamed(body: CompletionBody, options: GenerateOptions): Promise<Answer> {
    const client = await this.sdkClient();
    const stream = await client.chat.completions.create(
      { ...body, stream: true, stream_options: { include_usage: true } },
      { signal: options.signal },
    );
    let content = '';
    let refusal = '';
    let finishReason: string | undefined;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
      const delta = choice?.delta;
      if (typeof delta?.content === 'string' && delta.content !== '') {
        content += delta.content;
        options.onPartial?.({ text: content, outputTokens: estimateTokens(content) });
      }
      if (typeof delta?.refusal === 'string') refusal += delta.refusal;
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    return { content, finishReason, refusal: refusal || undefined, usage };
  }

  /** Maps SDK and transport errors to the contracts' errors; the API key never reaches a message. */
  private classify(error: unknown, prompt: { version: string }, signal?: AbortSignal): AppError {
    if (error instanceof AppError) return error;
    // Loaded: the call that failed went through the SDK (or failed loading it: handled at the end).
    const { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } = sdk ?? {};
    if (signal?.aborted || (APIUserAbortError && error instanceof APIUserAbortError)) return cancelledError(prompt, error);
    const where = `${this.endpoint} (${this.model}) for ${prompt.version}`;
    const detail = error instanceof Error ? this.redact(error.message) : 'unknown error';
    if (APIConnectionTimeoutError && error instanceof APIConnectionTimeoutError) {
      return new RetryableError('LLM_TIMEOUT', `LLM request to ${where} timed out`, { status: 504, cause: error });
    }
    if (APIConnectionError && error instanceof APIConnectionError) {
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
    if (APIError && error instanceof APIError && typeof error.status === 'number') {
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

function badOutput(message: string, field: string, problem: string, response?: string, usage?: LlmUsage): LlmOutputError {
  return new LlmOutputError(message, [{ field, message: problem }], response, usage);
}

type CompletionBody = OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;

/** What a completion said, streamed or not. */
interface Answer {
  content: string | undefined;
  finishReason: string | undefined;
  refusal: string | undefined;
  usage: OpenAI.CompletionUsage | undefined;
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
