import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { PROMPTS } from './prompts/registry.js';
import { strictJsonSchema, type JsonSchema } from './json-schema.js';

/** Every object schema in a JSON schema, with its path. */
function objects(node: unknown, path = '#'): Array<{ path: string; schema: JsonSchema }> {
  if (typeof node !== 'object' || node === null) return [];
  if (Array.isArray(node)) return node.flatMap((n, i) => objects(n, `${path}/${i}`));
  const schema = node as JsonSchema;
  const own = schema.type === 'object' || schema.properties ? [{ path, schema }] : [];
  return [...own, ...Object.entries(schema).flatMap(([k, v]) => objects(v, `${path}/${k}`))];
}

const keywords = (node: unknown): string[] =>
  typeof node !== 'object' || node === null
    ? []
    : Object.entries(node).flatMap(([k, v]) => [k, ...keywords(v)]);

describe('strictJsonSchema', () => {
  for (const prompt of Object.values(PROMPTS)) {
    it(`meets OpenAI strict-mode rules for ${prompt.name}`, () => {
      const schema = strictJsonSchema(prompt.schema);
      assert.equal(schema.type, 'object', 'the root is an object');
      const all = objects(schema);
      assert.ok(all.length >= 1);
      for (const { path, schema: object } of all) {
        assert.equal(object.additionalProperties, false, `${path}: additionalProperties false`);
        assert.deepEqual(
          [...((object.required as string[]) ?? [])].sort(),
          Object.keys(object.properties as JsonSchema).sort(),
          `${path}: every property is required`,
        );
      }
      const used = new Set(keywords(schema));
      for (const banned of ['$schema', 'minLength', 'maxLength', 'default', 'oneOf']) assert.ok(!used.has(banned), `no ${banned}`);
    });
  }

  it('keeps the constraints strict mode supports (enums, patterns, nullable via anyOf, array bounds)', () => {
    const schema = strictJsonSchema(PROMPTS.validation.schema) as any;
    const issues = schema.properties.issues;
    assert.equal(issues.maxItems, 50);
    assert.deepEqual(issues.items.properties.severity, { type: 'string', enum: ['error', 'warning'] });
    assert.deepEqual(issues.items.properties.conceptId, { anyOf: [{ type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$' }, { type: 'null' }] });
  });

  it('makes a lax zod object strict: optional properties become required, extra keys forbidden', () => {
    const schema = strictJsonSchema(z.object({ a: z.string(), b: z.number().optional(), c: z.object({ d: z.boolean() }) }));
    assert.deepEqual(schema.required, ['a', 'b', 'c']);
    assert.equal(schema.additionalProperties, false);
    const c = (schema.properties as Record<string, JsonSchema>).c!;
    assert.equal(c.additionalProperties, false);
    assert.deepEqual(c.required, ['d']);
  });

  it('refuses open-ended maps, which strict mode cannot express', () => {
    assert.throws(() => strictJsonSchema(z.object({ m: z.record(z.string(), z.number()) })), /arbitrary keys/);
  });
});
