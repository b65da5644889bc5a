import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import type { TaskEventType } from './messaging.js';

/*
 * Webhooks (Standard Webhooks, standardwebhooks.com): what an owner subscribes to, what the gateway
 * queues and the webhook worker sends.
 */

/** The task events a webhook can subscribe to, and `*` for all of them. */
export const WEBHOOK_EVENTS = ['task.completed', 'task.failed', 'task.cancelled', 'task.awaiting_review'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];
export const WEBHOOK_EVENT_FILTERS = [...WEBHOOK_EVENTS, '*'] as const;

/** The webhook event a task progress event is, if any (a review wait is `task.awaiting_review`). */
export function webhookEventOf(type: TaskEventType): WebhookEventType | null {
  if (type === 'review.awaiting') return 'task.awaiting_review';
  return (WEBHOOK_EVENTS as readonly string[]).includes(type) ? (type as WebhookEventType) : null;
}

/**
 * `callbackUrl` of POST /roadmaps and POST /tasks: one task's events POSTed to this URL, signed with
 * the owner's default webhook secret (their oldest registered endpoint's), like a registered webhook.
 */
export const CallbackUrlSchema = z
  .url({ protocol: /^https?$/ })
  .max(2000)
  .meta({
    description:
      'Where this task’s events are POSTed, signed like a webhook delivery with your default webhook secret (the secret of your oldest registered webhook, ' +
      '`default: true` in GET /api/v1/webhooks): task.awaiting_review, then task.completed, task.failed or task.cancelled. ' +
      '422 WEBHOOK_SECRET_MISSING when you have registered no webhook; 400 WEBHOOK_URL_FORBIDDEN for loopback, private or metadata addresses.',
    example: 'https://lms.example.com/hooks/roadmap',
  });

/** The events a task's callback receives: its review wait and its end. */
export const CALLBACK_EVENTS: readonly WebhookEventType[] = WEBHOOK_EVENTS;

/** How long a failing delivery is retried before it is recorded as failed (and an endpoint failing as long, disabled). */
export const WEBHOOK_RETRY_WINDOW_MS = 24 * 60 * 60_000;
/** Longest wait for an endpoint's answer. */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** One delivery to send: the rest (payload, endpoint, secret) is read from PostgreSQL (claim check). */
export const WebhookDeliveryMessageSchema = z.object({ deliveryId: z.uuid() });
export type WebhookDeliveryMessage = z.infer<typeof WebhookDeliveryMessageSchema>;

/*
 * Where a webhook may not point (server-side request forgery): cloud metadata endpoints always;
 * loopback, private, link-local, shared (CGNAT), unspecified and multicast addresses unless
 * WEBHOOKS_ALLOW_PRIVATE=true (tests, npm start). Checked at registration on every address the host
 * resolves to, and again at delivery on the address actually connected to (DNS rebinding).
 */
const METADATA = new BlockList();
for (const ip of ['169.254.169.254', '169.254.170.2', '169.254.170.23', '100.100.100.200', '192.0.0.192']) METADATA.addAddress(ip, 'ipv4');
METADATA.addAddress('fd00:ec2::254', 'ipv6');

const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv6');
}

/** Why a webhook may not be sent to `address` (an IP), or null when it may. */
export function webhookAddressRefusal(address: string, allowPrivate: boolean): string | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const ip = mapped ?? address;
  const family = isIP(ip);
  if (family === 0) return `${address} is not an IP address`;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (METADATA.check(ip, type)) return `${address} is a cloud metadata address`;
  if (!allowPrivate && PRIVATE.check(ip, type)) return `${address} is a loopback, private, link-local or reserved address`;
  return null;
}
