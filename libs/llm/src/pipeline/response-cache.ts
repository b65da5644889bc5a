import { createHash } from 'node:crypto';
import type { Logger } from '@roadmap/observability';
import { z } from 'zod';
import type { PromptDefinition } from '../prompts/registry.js';
import type { LlmUsage } from '../provider.js';
import type { KvStore } from '@roadmap/messaging';
import { CACHE_MAX_VALUE_BYTES } from '@roadmap/messaging';

/** What the cache keeps of a result: the validated output and where it came from. */
export interface CachedResult {
  readonly output: unknown;
  readonly provider: string;
  readonly model: string;
  readonly promptVersion: string;
  /** What producing it cost, for the record of a hit. */
  readonly usage: LlmUsage;
  readonly storedAt: string;
}

/** The largest value stored; bigger outputs are not cached (the bucket refuses what exceeds its limit). */
export { CACHE_MAX_VALUE_BYTES };

const schemaHashes = new WeakMap<object, string>();

/**
 * A stable hash of the prompt's output schema as JSON Schema (zod 4's `z.toJSONSchema`, every keyword
 * kept: a tightened bound or a new field is a new schema, where the strict schema sent to the model
 * drops bounds). Its "schema version": a changed schema never reuses old outputs.
 */
function schemaHash(prompt: PromptDefinition<unknown, unknown>): string {
  let hash = schemaHashes.get(prompt.schema);
  if (!hash) {
    const jsonSchema = z.toJSONSchema(prompt.schema, { io: 'output', unrepresentable: 'any' });
    hash = createHash('sha256').update(JSON.stringify(jsonSchema)).digest('hex').slice(0, 16);
    schemaHashes.set(prompt.schema, hash);
  }
  return hash;
}

/** What a cache key is made of. */
export interface CacheKeyParts {
  readonly provider: string;
  readonly model: string;
  readonly prompt: PromptDefinition<unknown, unknown>;
  readonly rendered: { readonly system: string; readonly user: string };
  /** The workflow definition's version the call serves (LlmCallContext.definitionVersion); absent: none. */
  readonly definitionVersion?: string;
}

/**
 * The cache key: a hash of provider, model, the workflow definition's version, the prompt version
 * (template), the output schema's hash and the rendered prompt. Anything that changes what the model
 * is asked, or what its answer must be, changes the key.
 */
export function cacheKey({ provider, model, prompt, rendered, definitionVersion }: CacheKeyParts): string {
  const hash = createHash('sha256');
  for (const part of [provider, model, definitionVersion ?? '', prompt.version, schemaHash(prompt), rendered.system, rendered.user]) {
    hash.update(part).update('\u0000');
  }
  return `c.${hash.digest('hex')}`;
}

/**
 * Validated outputs shared by every replica (JetStream KV bucket whose max age is the TTL). Failures
 * of the store are logged and treated as a miss: the cache may only ever save calls, never fail one.
 */
export class ResponseCache {
  constructor(
    private readonly store: () => Promise<KvStore>,
    private readonly logger?: Logger,
  ) {}

  async get(key: string): Promise<CachedResult | undefined> {
    try {
      const entry = await (await this.store()).get(key);
      return entry ? (JSON.parse(entry.value) as CachedResult) : undefined;
    } catch (error) {
      this.logger?.warn({ err: error }, 'LLM response cache unavailable; calling the provider');
      return undefined;
    }
  }

  /** Stores a result unless it is larger than the bucket's value limit. */
  async set(key: string, value: CachedResult): Promise<void> {
    const text = JSON.stringify(value);
    if (Buffer.byteLength(text) > CACHE_MAX_VALUE_BYTES) return;
    try {
      await (await this.store()).put(key, text);
    } catch (error) {
      this.logger?.warn({ err: error }, 'could not store an LLM response in the cache');
    }
  }
}
