import { setTimeout as sleep } from 'node:timers/promises';
import { PermanentError } from '@roadmap/contracts';
import { checkFramework } from '../check-framework.js';
import type { PromptDefinition, PromptInputs, PromptName } from '../prompts/registry.js';
import { cancelledError, estimateTokens, validateOutput, type GenerateOptions, type LlmProvider, type LlmResult } from '../provider.js';
import { recommendResources, writeQuiz, writeTutorial } from './content.js';
import { designFramework, editFramework } from './framework.js';
import { analyseIntent } from './intent.js';

export interface OfflineProviderOptions {
  /** Simulated latency of every call in ms (abortable), so benchmarks can stand in for a real model. */
  latencyMs?: number;
}

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

  constructor(options: OfflineProviderOptions = {}) {
    this.latencyMs = Math.max(0, options.latencyMs ?? 0);
  }

  async generate<I, O>(prompt: PromptDefinition<I, O>, input: I, options: GenerateOptions = {}): Promise<LlmResult<O>> {
    const started = performance.now();
    const { signal } = options;
    if (signal?.aborted) throw cancelledError(prompt, signal.reason);
    // Rendered although nothing reads it, so a template that cannot render fails here as it would online.
    const { system, user } = prompt.render(input);
    if (this.latencyMs > 0) {
      try {
        await sleep(this.latencyMs, undefined, { signal });
      } catch (error) {
        if (signal?.aborted) throw cancelledError(prompt, signal.reason);
        throw error;
      }
    }
    const generator = GENERATORS[prompt.name] as ((input: unknown) => unknown) | undefined;
    if (!generator) throw new PermanentError('LLM_REJECTED', `The offline provider has no generator for prompt "${prompt.name}"`);
    const raw = generator(input);
    const output = validateOutput(prompt, raw, 'offline provider');
    return {
      output,
      usage: { inputTokens: estimateTokens(system + user), outputTokens: estimateTokens(JSON.stringify(output)) },
      provider: this.name,
      model: this.model,
      promptVersion: prompt.version,
      latencyMs: Math.round(performance.now() - started),
    };
  }
}
