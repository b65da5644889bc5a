import { WEBHOOK_EVENT_FILTERS } from '@roadmap/contracts';
import { z } from 'zod';

/** The events a webhook subscribes to: at least one, each once; `*` for all. */
const events = z
  .array(z.enum(WEBHOOK_EVENT_FILTERS))
  .min(1)
  .max(WEBHOOK_EVENT_FILTERS.length)
  .refine((list) => new Set(list).size === list.length, 'each event at most once');

/** Body of POST /api/v1/webhooks. */
export const CreateWebhookSchema = z.strictObject({
  url: z
    .url({ protocol: /^https?$/ })
    .max(2000)
    .meta({ description: 'Where deliveries are POSTed (http or https)', example: 'https://example.com/hooks/roadmap' }),
  events,
  description: z.string().trim().max(500).optional(),
});
export type CreateWebhook = z.infer<typeof CreateWebhookSchema>;

/** Body of PATCH /api/v1/webhooks/:id: enable or disable it, change its events or description. */
export const UpdateWebhookSchema = z
  .strictObject({ enabled: z.boolean().optional(), events: events.optional(), description: z.string().trim().max(500).nullable().optional() })
  .refine((body) => Object.keys(body).length > 0, 'change at least one of enabled, events, description');
export type UpdateWebhook = z.infer<typeof UpdateWebhookSchema>;

export const DeliveriesQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
});
export type DeliveriesQuery = z.infer<typeof DeliveriesQuerySchema>;
