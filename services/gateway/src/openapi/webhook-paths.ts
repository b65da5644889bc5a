import { WEBHOOK_EVENTS } from '@roadmap/contracts';
import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { CreateWebhookSchema, DeliveriesQuerySchema, UpdateWebhookSchema } from '../webhooks/webhooks.dto.js';
import { body, errors, json, op } from './operations.js';

/* /api/v1/webhooks: an owner's endpoints, told when its tasks end (Standard Webhooks). */

const uuid = z.uuid();
const instant = z.iso.datetime({ offset: true });
const webhookId = '01938d2e-9a00-7c00-8000-00000000aa01';
const at = '2026-12-07T10:00:00.000Z';

const WebhookSchema = z
  .object({
    id: uuid,
    url: z.string(),
    description: z.string().nullable(),
    events: z.array(z.enum([...WEBHOOK_EVENTS, '*'])),
    enabled: z.boolean(),
    default: z.boolean().meta({
      description: 'Your default webhook: the oldest you registered. Its secret signs the deliveries of every `callbackUrl` you give a task (deleting it makes the next oldest the default)',
    }),
    taskId: uuid.nullable().meta({ description: 'For a task’s `callbackUrl` (read with GET /webhooks/{taskId}): that task; null for a registered webhook' }),
    disabledReason: z.string().nullable().meta({ description: 'Why it was disabled: by its owner, or after failing for 24 h' }),
    failingSince: instant.nullable(),
    createdAt: instant,
    updatedAt: instant,
  })
  .meta({ id: 'Webhook' });
const WebhookWithSecretSchema = WebhookSchema.extend({
  secret: z.string().meta({ description: 'The signing secret (Standard Webhooks, `whsec_<base64>`): shown only in this answer' }),
}).meta({ id: 'WebhookWithSecret' });
const DeliverySchema = z
  .object({
    id: uuid.meta({ description: 'The `webhook-id` header of every attempt: deduplicate on it' }),
    eventType: z.string(),
    taskId: uuid.nullable(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.array(z.object({ at: instant, statusCode: z.number().int().nullable(), error: z.string().nullable(), latencyMs: z.number().int().min(0) })),
    createdAt: instant,
    lastAttemptAt: instant.nullable(),
    deliveredAt: instant.nullable(),
  })
  .meta({ id: 'WebhookDelivery' });

const webhook = {
  id: webhookId,
  url: 'https://example.com/hooks/roadmap',
  description: 'Tell the LMS when a roadmap is ready',
  events: ['task.completed', 'task.failed'],
  enabled: true,
  default: true,
  taskId: null,
  disabledReason: null,
  failingSince: null,
  createdAt: at,
  updatedAt: at,
};
const withSecret = { ...webhook, secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' };
const delivery = {
  id: '01938d2e-9b00-7c00-8000-00000000bb01',
  eventType: 'task.completed',
  taskId: '01938d2e-7c4a-7b3e-9f10-2d5a8c0e4b11',
  status: 'delivered',
  attempts: [
    { at, statusCode: 500, error: null, latencyMs: 48 },
    { at, statusCode: 200, error: null, latencyMs: 31 },
  ],
  createdAt: at,
  lastAttemptAt: at,
  deliveredAt: at,
};
const path = z.object({ id: uuid.meta({ example: webhookId }) });

export const webhookPaths: ZodOpenApiPathsObject = {
  '/api/v1/webhooks': {
    post: op('webhooks', 'createWebhook', 'Register an endpoint for the caller’s task events; the signing secret is returned once', {
      description:
        'Deliveries are POSTed as JSON `{ type, timestamp, data: { taskId, type, status, at, event } }`, signed with the Standard Webhooks headers ' +
        '`webhook-id`, `webhook-timestamp` and `webhook-signature`; a failed one is retried with exponential backoff for up to 24 h. ' +
        'URLs resolving to loopback, private or link-local addresses are refused (400 WEBHOOK_URL_FORBIDDEN) unless the platform allows them; cloud metadata addresses always.',
      requestBody: body(CreateWebhookSchema, { url: webhook.url, events: webhook.events, description: webhook.description }),
      responses: { '201': json('Registered: keep the secret, it is not shown again', WebhookWithSecretSchema, withSecret), ...errors('400', '413', '415') },
    }),
    get: op('webhooks', 'listWebhooks', 'The caller’s registered webhooks (not tasks’ callbackUrls); `default: true` marks the one whose secret signs callbacks', {
      responses: { '200': json('The webhooks, oldest first', z.object({ items: z.array(WebhookSchema) }).meta({ id: 'WebhookList' }), { items: [webhook] }) },
    }),
  },
  '/api/v1/webhooks/{id}': {
    get: op('webhooks', 'getWebhook', 'One of the caller’s webhooks, or a task’s callbackUrl (its id is the task’s)', {
      requestParams: { path },
      responses: { '200': json('The webhook', WebhookSchema, webhook), ...errors('400', '404') },
    }),
    patch: op('webhooks', 'updateWebhook', 'Enable or disable a webhook, or change its events or description', {
      requestParams: { path },
      requestBody: body(UpdateWebhookSchema, { enabled: false }),
      responses: { '200': json('The webhook as changed', WebhookSchema, { ...webhook, enabled: false, disabledReason: 'disabled by its owner' }), ...errors('400', '404', '413', '415') },
    }),
    delete: op('webhooks', 'deleteWebhook', 'Delete a webhook and its delivery records', {
      requestParams: { path },
      responses: { '204': { description: 'Deleted' }, ...errors('400', '404') },
    }),
  },
  '/api/v1/webhooks/{id}/rotate-secret': {
    post: op('webhooks', 'rotateWebhookSecret', 'Replace a webhook’s signing secret; the new one is returned once', {
      requestParams: { path },
      responses: { '200': json('The webhook with its new secret', WebhookWithSecretSchema, withSecret), ...errors('400', '404', '413', '415') },
    }),
  },
  '/api/v1/webhooks/{id}/deliveries': {
    get: op('webhooks', 'listWebhookDeliveries', 'A webhook’s deliveries (a task’s callbackUrl: /webhooks/{taskId}/deliveries), newest first, each with its attempts', {
      requestParams: { path, query: DeliveriesQuerySchema },
      responses: { '200': json('The deliveries', z.object({ items: z.array(DeliverySchema) }).meta({ id: 'WebhookDeliveryList' }), { items: [delivery] }), ...errors('400', '404') },
    }),
  },
  '/api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver': {
    post: op('webhooks', 'redeliverWebhookDelivery', 'Send a delivery again (same webhook-id), with a new 24 h of retries', {
      requestParams: { path: z.object({ id: uuid, deliveryId: uuid }) },
      responses: { '202': json('Queued again', DeliverySchema, { ...delivery, status: 'pending' }), ...errors('400', '404', '413', '415') },
    }),
  },
};
