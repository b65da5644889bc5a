import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fallbackApiKey, parseFallbacks } from './fallbacks.js';
import { kvToken } from '@roadmap/messaging';
import { PartialThrottle } from './partial-throttle.js';
import { costOf, parsePrices } from './prices.js';

describe('LLM_PRICES', () => {
  it('prices usage per million tokens, by provider:model before model; unknown models cost nothing known', () => {
    const table = parsePrices('{"gpt-4o-mini":{"input":0.15,"output":0.6},"azure:gpt-4o-mini":{"input":1,"output":2}}');
    assert.equal(costOf(table, 'openai', 'gpt-4o-mini', { inputTokens: 1_000_000, outputTokens: 500_000 }), 0.45);
    assert.equal(costOf(table, 'azure', 'gpt-4o-mini', { inputTokens: 1_000_000, outputTokens: 0 }), 1);
    assert.equal(costOf(table, 'openai', 'other', { inputTokens: 1, outputTokens: 1 }), undefined);
    assert.deepEqual(parsePrices(undefined), {});
    assert.throws(() => parsePrices('[1]'), /JSON object/);
    assert.throws(() => parsePrices('{"m":{"input":-1,"output":1}}'), /entry "m"/);
  });
});

describe('LLM_FALLBACKS', () => {
  it('reads the short form and the JSON form', () => {
    assert.deepEqual(parseFallbacks('openai:gpt-4o@https://eu.example.com/v1, offline:offline-deterministic-1'), [
      { provider: 'openai', model: 'gpt-4o', baseUrl: 'https://eu.example.com/v1' },
      { provider: 'offline', model: 'offline-deterministic-1' },
    ]);
    assert.deepEqual(parseFallbacks('[{"provider":"openai","model":"llama3:8b","baseUrl":"http://ollama:11434/v1","apiKeyEnv":"OLLAMA_KEY","rpm":30}]'), [
      { provider: 'openai', model: 'llama3:8b', baseUrl: 'http://ollama:11434/v1', apiKeyEnv: 'OLLAMA_KEY', rpm: 30 },
    ]);
    assert.deepEqual(parseFallbacks(undefined), []);
    assert.throws(() => parseFallbacks('openai'), /provider:model/);
    assert.throws(() => parseFallbacks('[{"provider":"openai"}]'), /entry 1: model is required/);
    assert.throws(() => parseFallbacks('[{"provider":"openai","model":"m","rpm":-1}]'), /rpm/);
  });

  it('takes each entry’s key from its own variable, then LLM_FALLBACK_<n>_API_KEY, then the primary key', () => {
    const [a, b] = parseFallbacks('[{"provider":"openai","model":"a","apiKeyEnv":"A_KEY"},{"provider":"openai","model":"b"}]');
    assert.equal(fallbackApiKey(a!, 1, { A_KEY: 'ka' }, 'primary'), 'ka');
    assert.equal(fallbackApiKey(b!, 2, { LLM_FALLBACK_2_API_KEY: 'kb' }, 'primary'), 'kb');
    assert.equal(fallbackApiKey(b!, 2, {}, 'primary'), 'primary');
  });
});

describe('kvToken', () => {
  it('keeps safe names and makes others valid KV key tokens, distinct per name', () => {
    assert.equal(kvToken('gpt-4o-mini'), 'gpt-4o-mini');
    const a = kvToken('llama3:8b');
    const b = kvToken('llama3/8b');
    assert.match(a, /^[A-Za-z0-9_-]+$/);
    assert.notEqual(a, b);
    assert.match(kvToken('user@example.com'), /^[A-Za-z0-9_-]+$/);
  });
});

describe(PartialThrottle.name, () => {
  it('passes the first chunk at once, then at most one per interval, and the rest on flush', () => {
    let now = 1_000;
    const seen: string[] = [];
    const sut = new PartialThrottle((p) => seen.push(p.text), 250, () => now);
    sut.push({ text: 'a', outputTokens: 1 });
    now += 100;
    sut.push({ text: 'ab', outputTokens: 1 });
    now += 100;
    sut.push({ text: 'abc', outputTokens: 1 });
    now += 100;
    sut.push({ text: 'abcd', outputTokens: 1 });
    sut.push({ text: 'abcde', outputTokens: 2 });
    sut.flush();
    sut.flush();
    assert.deepEqual(seen, ['a', 'abcd', 'abcde']);
  });
});
