import { AppError } from '@roadmap/contracts';
import { counter, failSpan, histogram, SpanKind, tracer, type Logger, type Span } from '@roadmap/observability';
import type { PromptDefinition } from './prompts/registry.js';
import type { GenerateOptions, LlmProvider, LlmResult } from './provider.js';

const duration = histogram('roadmap_llm_request_duration_seconds', 'Duration of LLM calls, including SDK retries', [
  'provider',
  'model',
  'prompt',
  'outcome',
]);
const tokens = counter('roadmap_llm_tokens_total', 'LLM tokens used, by direction (in: prompt, out: completion)', [
  'provider',
  'model',
  'direction',
]);
const errors = counter('roadmap_llm_errors_total', 'Failed LLM calls, by error code', ['provider', 'model', 'code']);

/**
 * Wraps a provider so every call is measured once — duration by outcome (`ok`, `error`, `cancelled`),
 * tokens in and out, errors by code — logged at debug (success) or warn (failure) level, and traced
 * as a CLIENT span with the OpenTelemetry `gen_ai.*` attributes. Providers themselves stay free of
 * metrics and tracing code.
 */
export class MeasuredLlmProvider implements LlmProvider {
  constructor(
    private readonly inner: LlmProvider,
    private readonly logger?: Logger,
  ) {}

  get name(): string {
    return this.inner.name;
  }
  get model(): string {
    return this.inner.model;
  }

  generate<I, O>(prompt: PromptDefinition<I, O>, input: I, options?: GenerateOptions): Promise<LlmResult<O>> {
    // Span name per the GenAI conventions: `{gen_ai.operation.name} {gen_ai.request.model}`.
    return tracer().startActiveSpan(
      `chat ${this.inner.model}`,
      { kind: SpanKind.CLIENT, attributes: requestAttributes(this.inner.name, this.inner.model, prompt.version) },
      (span) => this.measured(span, prompt, input, options),
    );
  }

  private async measured<I, O>(span: Span, prompt: PromptDefinition<I, O>, input: I, options?: GenerateOptions): Promise<LlmResult<O>> {
    const labels = { provider: this.inner.name, model: this.inner.model };
    const started = performance.now();
    try {
      const result = await this.inner.generate(prompt, input, options);
      duration.observe({ ...labels, prompt: prompt.name, outcome: 'ok' }, (performance.now() - started) / 1000);
      tokens.inc({ ...labels, direction: 'in' }, result.usage.inputTokens);
      tokens.inc({ ...labels, direction: 'out' }, result.usage.outputTokens);
      this.logger?.debug(
        { ...labels, prompt: result.promptVersion, latencyMs: result.latencyMs, usage: result.usage },
        'llm call completed',
      );
      span.setAttributes({
        'gen_ai.response.model': result.model,
        'gen_ai.usage.input_tokens': result.usage.inputTokens,
        'gen_ai.usage.output_tokens': result.usage.outputTokens,
        'roadmap.llm.cached': result.cached ?? false,
      });
      return result;
    } catch (error) {
      const code = error instanceof AppError ? error.code : 'UNKNOWN';
      const outcome = code === 'CANCELLED' ? 'cancelled' : 'error';
      duration.observe({ ...labels, prompt: prompt.name, outcome }, (performance.now() - started) / 1000);
      errors.inc({ ...labels, code });
      if (outcome === 'error') {
        this.logger?.warn({ ...labels, prompt: prompt.version, code, err: error }, 'llm call failed');
      }
      span.setAttribute('error.type', code);
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  }
}

/** `gen_ai.*` request attributes (both the current `provider.name` and the older `system` key). */
function requestAttributes(provider: string, model: string, promptVersion: string) {
  return {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': provider,
    'gen_ai.system': provider,
    'gen_ai.request.model': model,
    'roadmap.llm.prompt': promptVersion,
  };
}

/** Wraps `provider` in a MeasuredLlmProvider unless it already is one. */
export function withMetrics(provider: LlmProvider, logger?: Logger): LlmProvider {
  return provider instanceof MeasuredLlmProvider ? provider : new MeasuredLlmProvider(provider, logger);
}
