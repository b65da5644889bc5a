import { z } from 'zod';

/** A JSON Schema as a plain object. */
export type JsonSchema = { [key: string]: unknown };

/**
 * Keywords OpenAI's strict structured outputs reject (or ignore inconsistently across models). The
 * zod schema still enforces them when the output is validated, so dropping them here loses nothing.
 */
const UNSUPPORTED = new Set([
  '$schema',
  'minLength',
  'maxLength',
  'default',
  'examples',
  'propertyNames',
  'patternProperties',
  'unevaluatedProperties',
  'minProperties',
  'maxProperties',
  'contentEncoding',
  'contentMediaType',
]);

const cache = new WeakMap<z.ZodType, JsonSchema>();

/**
 * The JSON schema sent as an OpenAI strict `response_format` for a zod schema: derived with
 * `z.toJSONSchema` (the input side, i.e. what the model must produce), then every object gets
 * `additionalProperties: false` with all its properties required, and unsupported keywords are
 * stripped. Open-ended maps (`z.record`) cannot be expressed in strict mode and throw.
 * Cached per schema.
 */
export function strictJsonSchema(schema: z.ZodType): JsonSchema {
  let result = cache.get(schema);
  if (!result) {
    result = strictify(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'throw' }) as JsonSchema, '#');
    cache.set(schema, result);
  }
  return result;
}

function strictify(node: unknown, path: string): JsonSchema {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) throw new Error(`strict JSON schema: ${path} is not a schema`);
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (UNSUPPORTED.has(key)) continue;
    if (key === 'properties' || key === '$defs' || key === 'definitions') {
      out[key] = Object.fromEntries(Object.entries(value as JsonSchema).map(([name, sub]) => [name, strictify(sub, `${path}/${key}/${name}`)]));
    } else if (key === 'items' && !Array.isArray(value)) {
      out[key] = strictify(value, `${path}/items`);
    } else if (key === 'anyOf' || key === 'allOf' || key === 'oneOf' || key === 'prefixItems') {
      out[key === 'oneOf' ? 'anyOf' : key] = (value as unknown[]).map((sub, i) => strictify(sub, `${path}/${key}/${i}`));
    } else if (key === 'additionalProperties' && value !== false) {
      throw new Error(`strict JSON schema: ${path} allows arbitrary keys, which OpenAI strict mode cannot express`);
    } else {
      out[key] = value;
    }
  }
  if (out.type === 'object' || out.properties !== undefined) {
    const properties = (out.properties ?? {}) as JsonSchema;
    out.properties = properties;
    out.required = Object.keys(properties);
    out.additionalProperties = false;
  }
  return out;
}
