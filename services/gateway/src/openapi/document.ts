import { createDocument, type ZodOpenApiPathsObject } from 'zod-openapi';
import { adminControlPaths } from './admin-control-paths.js';
import { adminPaths } from './admin-paths.js';
import { ownerPolicyPaths } from './owner-policy-paths.js';
import { publicPaths } from './paths.js';
import { schedulesPaths } from './schedules-paths.js';
import { taskApiPaths } from './task-api-paths.js';
import { webhookPaths } from './webhook-paths.js';

/**
 * The committed document, services/gateway/src/openapi/openapi.json (this module runs from
 * dist/src/openapi/, where the build copies it beside the code: what the gateway serves).
 */
export const OPENAPI_FILE = new URL('../../../src/openapi/openapi.json', import.meta.url);
/** The copy in dist that the gateway serves. */
export const SERVED_OPENAPI_FILE = new URL('./openapi.json', import.meta.url);

/** The document as committed: two-space JSON with a final newline. */
export function renderOpenApiDocument(): string {
  return `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
}

/**
 * The gateway's OpenAPI 3.1 document, built from the zod schemas the controllers validate with and
 * the response schemas in schemas.ts, without any server: `npm run openapi` writes it to
 * services/gateway/src/openapi/openapi.json (committed), which the gateway serves at /docs/openapi.json and
 * libs/client is generated from. A test fails when the file and this function disagree.
 */
export function buildOpenApiDocument() {
  const document = createDocument(
    {
      openapi: '3.1.0',
      info: {
        title: 'Roadmap platform API',
        version: '1.0.0',
        summary: 'Turns a learning goal into a roadmap, generated as a durable background job.',
        description:
          'Create a roadmap (202 + a task), follow the task live (Server-Sent Events, or poll GET /api/v1/tasks/{id}), then read the roadmap. ' +
          'Every error is `{ code, message, details: [{ path, message }] }` with a stable code.',
        license: { name: 'UNLICENSED', identifier: 'LicenseRef-UNLICENSED' },
      },
      servers: [{ url: '/', description: 'The gateway that serves this document' }],
      tags: [
        { name: 'roadmaps', description: 'Create roadmaps, read them, review their framework, regenerate content' },
        { name: 'tasks', description: 'Follow, list, cancel and resume the background tasks' },
        { name: 'usage', description: 'LLM usage and its estimated cost' },
        { name: 'webhooks', description: 'Be told when tasks end: signed deliveries (Standard Webhooks) to the caller’s endpoints' },
        { name: 'console', description: 'Read models of the web console' },
        { name: 'admin', description: 'Operators: queues, workers, dead letters, maintenance, queue and worker control, bulk actions, search, live feed, audit, owner policies, schedules (admin role)' },
      ],
      security: [{ BearerApiKey: [] }, { ApiKey: [] }, { BearerJwt: [] }],
      components: {
        securitySchemes: {
          BearerApiKey: { type: 'http', scheme: 'bearer', bearerFormat: 'rk_…', description: 'An API key: `Authorization: Bearer rk_…`' },
          ApiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key', description: 'An API key in its own header' },
          BearerJwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A JWT (HS256 secret or JWKS); `sub` is the owner, `role: admin` the admin role' },
        },
      },
      paths: mergePaths(publicPaths, taskApiPaths, webhookPaths, adminPaths, adminControlPaths, ownerPolicyPaths, schedulesPaths),
    },
    {
      // zod writes its own regex beside `format` (date-time, date, uuid, email): the format says it,
      // and every validator and generator knows the format, so the regex is only noise.
      override: ({ jsonSchema }) => {
        if (typeof jsonSchema.format === 'string' && typeof jsonSchema.pattern === 'string') delete jsonSchema.pattern;
      },
    },
  );
  return stripSchemaDialect(document);
}

/** Path objects of several files; two files may hold methods of one path (GET and POST /api/v1/tasks). */
function mergePaths(...parts: ZodOpenApiPathsObject[]): ZodOpenApiPathsObject {
  const paths: ZodOpenApiPathsObject = {};
  for (const part of parts) for (const [path, item] of Object.entries(part)) paths[path] = { ...paths[path], ...item };
  return paths;
}

/** `$schema` on a nested schema is noise in OpenAPI (the document's dialect applies); zod adds it on some. */
function stripSchemaDialect<T>(value: T): T {
  if (Array.isArray(value)) return value.map(stripSchemaDialect) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([key]) => key !== '$schema').map(([key, v]) => [key, stripSchemaDialect(v)])) as T;
  }
  return value;
}
