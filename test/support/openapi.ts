import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/*
 * Holds every response the end-to-end tests receive from the gateway to the committed OpenAPI
 * document (services/gateway/src/openapi/openapi.json): the path and method must be documented, the
 * status documented for that operation, the content type one it lists, and the body valid against
 * its schema (Ajv, JSON Schema 2020-12, the dialect of OpenAPI 3.1). `Platform.request` calls it on
 * every answer, so a mismatch fails the test that caused it.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const DOC_ID = 'openapi.json';

interface MediaType {
  schema?: unknown;
}
interface Operation {
  operationId: string;
  responses: Record<string, { content?: Record<string, MediaType> }>;
}
type PathItem = Record<string, Operation>;

let compiled: { ajv: Ajv2020; routes: Array<{ template: string; pattern: RegExp; item: PathItem }> } | undefined;

function load() {
  if (compiled) return compiled;
  const doc = JSON.parse(readFileSync(join(root, 'services/gateway/src/openapi/openapi.json'), 'utf8')) as { paths: Record<string, PathItem> };
  // strict: false lets Ajv skip what OpenAPI adds to JSON Schema (example, discriminator).
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema({ ...doc, $id: DOC_ID });
  const routes = Object.entries(doc.paths).map(([template, item]) => ({
    template,
    // A parameter matches any segment, an empty one too (the router takes `//replay` as id ''; the pipe refuses it).
    pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]*')}$`),
    item,
  }));
  compiled = { ajv, routes };
  return compiled;
}

/** How many of a path's segments are templates ({id}). */
const templated = (template: string) => (template.match(/\{[^}]+\}/g) ?? []).length;

const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
const validators = new Map<string, ValidateFunction>();

function validator(ajv: Ajv2020, ref: string): ValidateFunction {
  let validate = validators.get(ref);
  if (!validate) {
    validate = ajv.getSchema(ref);
    if (!validate) throw new Error(`no schema at ${ref}`);
    validators.set(ref, validate);
  }
  return validate;
}

export interface ObservedResponse {
  method: string;
  /** The request path, with its query string. */
  url: string;
  status: number;
  contentType: string | null;
  /** The body as received. */
  text: string;
}

/** Why a response does not conform to the document, or null when it does. Paths outside /api/ are not part of it. */
export function responseMismatch(res: ObservedResponse): string | null {
  const path = res.url.split('?')[0]!;
  if (!path.startsWith('/api/')) return null;
  const { ajv, routes } = load();
  const where = `${res.method} ${res.url} -> ${res.status}`;
  // As OpenAPI says, a concrete path wins over a templated one (dead-letters/bulk over dead-letters/{id}).
  const route = routes.filter((r) => r.pattern.test(path)).sort((x, y) => templated(x.template) - templated(y.template))[0];
  const method = res.method.toLowerCase();
  const operation = route?.item[method];
  let schemaRef: string;
  let media: string;
  if (!route || !operation) {
    // An undocumented route or method is the gateway's 404 in the error shape, or, as Fastify reads
    // the body before it finds no route, the 400/413/415 of a body it cannot read.
    if (![400, 404, 413, 415].includes(res.status)) return `${where}: not in the OpenAPI document`;
    media = 'application/json';
    schemaRef = `${DOC_ID}#/components/schemas/Error`;
  } else {
    const response = operation.responses[String(res.status)];
    if (!response) return `${where}: status ${res.status} is not documented for ${operation.operationId} (documented: ${Object.keys(operation.responses).join(', ')})`;
    if (!response.content) return res.text === '' ? null : `${where}: ${operation.operationId} documents no body for ${res.status}, got ${res.text.slice(0, 200)}`;
    const listed = Object.keys(response.content);
    const found = listed.find((m) => res.contentType?.split(';')[0]!.trim() === m);
    if (!found) return `${where}: content type ${res.contentType} is not one of ${listed.join(', ')}`;
    media = found;
    schemaRef = `${DOC_ID}#${pointer('', 'paths', route.template, method, 'responses', String(res.status), 'content', media, 'schema')}`;
  }
  if (media !== 'application/json') return null; // the event stream is checked event by event (sseMismatch)
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    return `${where}: the body is not JSON: ${res.text.slice(0, 200)}`;
  }
  const validate = validator(ajv, schemaRef);
  if (validate(body)) return null;
  return `${where}: the body does not match ${schemaRef.split('#')[1]}: ${ajv.errorsText(validate.errors, { separator: '; ' })}\n${res.text.slice(0, 500)}`;
}

/** Why an event of GET /tasks/{id}/events does not conform (its `event:` name must be its payload's `type`), or null. */
export function sseEventMismatch(event: string, data: string): string | null {
  const { ajv } = load();
  const validate = validator(ajv, `${DOC_ID}#/components/schemas/TaskEvent`);
  let payload: unknown;
  try {
    payload = JSON.parse(data);
  } catch {
    return `event ${event}: data is not JSON: ${data.slice(0, 200)}`;
  }
  if (!validate(payload)) return `event ${event}: ${ajv.errorsText(validate.errors, { separator: '; ' })}: ${data.slice(0, 300)}`;
  if ((payload as { type: string }).type !== event) return `event ${event}: its payload's type is ${(payload as { type: string }).type}`;
  return null;
}

/** Throws, naming the mismatch, when a response does not conform to the document. */
export function assertResponseConforms(res: ObservedResponse): void {
  const mismatch = responseMismatch(res);
  if (mismatch) throw new Error(`Response does not conform to the OpenAPI document: ${mismatch}`);
}
