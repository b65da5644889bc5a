import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PermanentError } from '@roadmap/contracts';
import { registry } from '@roadmap/observability';
import { PROMPTS } from './prompts/registry.js';
import { MeasuredLlmProvider, withMetrics } from './measured-provider.js';
import { OfflineProvider } from './offline/offline-provider.js';
import type { LlmProvider } from './provider.js';

/** Current value of a series; for a histogram, `series` picks e.g. its `_count`. */
async function value(metric: string, labels: Record<string, string>, series = metric): Promise<number> {
  const json = await registry.getSingleMetric(metric)?.get();
  const match = json?.values.find(
    (v) => ((v as { metricName?: string }).metricName ?? metric) === series && Object.entries(labels).every(([k, l]) => v.labels[k] === l),
  );
  return match?.value ?? 0;
}
const DURATION = 'roadmap_llm_request_duration_seconds';

const input = { goal: 'Become a backend engineer', preferences: { level: 'beginner' as const, hoursPerWeek: 8, language: 'en' } };

describe('MeasuredLlmProvider', () => {
  it('measures every call once: duration, tokens in and out', async () => {
    const provider = new MeasuredLlmProvider(new OfflineProvider());
    const labels = { provider: 'offline', model: 'offline-deterministic-1' };
    const before = {
      count: await value(DURATION, { ...labels, prompt: 'intent_analysis', outcome: 'ok' }, `${DURATION}_count`),
      in: await value('roadmap_llm_tokens_total', { ...labels, direction: 'in' }),
      out: await value('roadmap_llm_tokens_total', { ...labels, direction: 'out' }),
    };
    const result = await provider.generate(PROMPTS.intent_analysis, input);
    assert.equal(await value(DURATION, { ...labels, prompt: 'intent_analysis', outcome: 'ok' }, `${DURATION}_count`), before.count + 1);
    assert.equal(await value('roadmap_llm_tokens_total', { ...labels, direction: 'in' }), before.in + result.usage.inputTokens);
    assert.equal(await value('roadmap_llm_tokens_total', { ...labels, direction: 'out' }), before.out + result.usage.outputTokens);
  });

  it('counts errors by code and rethrows them unchanged', async () => {
    const failure = new PermanentError('LLM_BAD_OUTPUT', 'nope');
    const failing: LlmProvider = { name: 'stub', model: 'm', generate: async () => Promise.reject(failure) };
    const provider = withMetrics(failing);
    const before = await value('roadmap_llm_errors_total', { provider: 'stub', model: 'm', code: 'LLM_BAD_OUTPUT' });
    await assert.rejects(provider.generate(PROMPTS.intent_analysis, input), (e) => e === failure);
    assert.equal(await value('roadmap_llm_errors_total', { provider: 'stub', model: 'm', code: 'LLM_BAD_OUTPUT' }), before + 1);
    assert.equal(await value(DURATION, { provider: 'stub', prompt: 'intent_analysis', outcome: 'error' }, `${DURATION}_count`), 1);
  });

  it('does not wrap twice', () => {
    const once = withMetrics(new OfflineProvider());
    assert.equal(withMetrics(once), once);
  });
});
