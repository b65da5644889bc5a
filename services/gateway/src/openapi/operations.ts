import type { z } from 'zod';
import type { ZodOpenApiOperationObject, ZodOpenApiResponsesObject } from 'zod-openapi';
import { errorExamples } from './examples.js';
import { ErrorSchema } from './schemas.js';

/* Helpers that keep every operation of the document the same shape. */

const ERROR_DESCRIPTIONS: Record<string, string> = {
  '400': 'Invalid input: the field at fault is in details',
  '401': 'No valid credential (API key or JWT); see WWW-Authenticate',
  '403': 'The credential lacks the role this needs (admin)',
  '404': 'No such resource, or not the caller’s',
  '409': 'The resource is not in a state that allows this',
  '413': 'Body over the size limit',
  '415': 'The body is not application/json',
  '422': 'The Idempotency-Key was used with a different body',
  '429': 'Too many requests from this caller; retry after Retry-After',
  '503': 'A backing service (NATS, PostgreSQL) is unavailable; retry after Retry-After',
};

const retryAfter = { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' as const, minimum: 1 } } };

/** Error responses in the one error shape, with an example each. 401 is on every authenticated operation. */
export function errors(...statuses: Array<keyof typeof ERROR_DESCRIPTIONS>): ZodOpenApiResponsesObject {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: ERROR_DESCRIPTIONS[status]!,
        ...(status === '429' || status === '503' ? { headers: retryAfter } : {}),
        content: { 'application/json': { schema: ErrorSchema, example: errorExamples[status] } },
      },
    ]),
  );
}

/**
 * The 403 of a task-creating operation: `priority: "high"` from a caller the priority policy does
 * not grant it (admins, granted owners, granted API keys).
 */
export const priorityNotAllowed: ZodOpenApiResponsesObject = {
  '403': {
    description: 'PRIORITY_NOT_ALLOWED: priority high asked by a caller not granted it (details name priority); normal and low are open to everyone',
    content: { 'application/json': { schema: ErrorSchema, example: errorExamples.priorityNotAllowed } },
  },
};

/** A JSON success response, with an example where one is written. */
export function json(description: string, schema: z.ZodType, example?: unknown) {
  return { description, content: { 'application/json': { schema, ...(example !== undefined ? { example } : {}) } } };
}

/** A JSON request body, required, with its example. */
export function body(schema: z.ZodType, example?: unknown) {
  return { required: true, content: { 'application/json': { schema, ...(example !== undefined ? { example } : {}) } } };
}

/** An operation of an authenticated tag: a 401 (and a 503 when the database is down) on top of its own responses. */
export function op(
  tag: string,
  operationId: string,
  summary: string,
  spec: Omit<ZodOpenApiOperationObject, 'tags' | 'operationId' | 'summary' | 'responses'> & { responses: ZodOpenApiResponsesObject },
  options: { admin?: boolean } = {},
): ZodOpenApiOperationObject {
  const common = options.admin ? errors('401', '403', '503') : errors('401', '503');
  return { tags: [tag], operationId, summary, ...spec, responses: { ...spec.responses, ...common } };
}
