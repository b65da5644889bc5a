import type { LlmUsage } from '../provider.js';

/** USD per million tokens, in and out. */
export interface Price {
  readonly input: number;
  readonly output: number;
}

/** Prices by `model` or `provider:model` (the more specific wins). */
export type PriceTable = Readonly<Record<string, Price>>;

/**
 * Parses LLM_PRICES: a JSON object `{"gpt-4o-mini":{"input":0.15,"output":0.6}}` (USD per million
 * tokens). Throws an Error naming the entry at fault.
 */
export function parsePrices(text: string | undefined): PriceTable {
  if (!text) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('must be a JSON object such as {"gpt-4o-mini":{"input":0.15,"output":0.6}} (USD per million tokens)');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('must be a JSON object of model -> {input, output}');
  const table: Record<string, Price> = {};
  for (const [model, price] of Object.entries(raw)) {
    const { input, output } = (price ?? {}) as Partial<Price>;
    if (typeof input !== 'number' || typeof output !== 'number' || input < 0 || output < 0 || !Number.isFinite(input + output)) {
      throw new Error(`entry "${model}" must be {"input": <USD per 1M tokens>, "output": <USD per 1M tokens>}`);
    }
    table[model] = { input, output };
  }
  return table;
}

/** Estimated cost of `usage` in USD, or undefined when the model has no price. */
export function costOf(table: PriceTable, provider: string, model: string, usage: LlmUsage): number | undefined {
  const price = table[`${provider}:${model}`] ?? table[model];
  if (!price) return undefined;
  return (usage.inputTokens * price.input + usage.outputTokens * price.output) / 1_000_000;
}
