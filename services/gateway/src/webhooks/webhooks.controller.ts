import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query } from '@nestjs/common';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { UuidPipe, ZodPipe } from '../common/zod.pipe.js';
import { CreateWebhookSchema, DeliveriesQuerySchema, UpdateWebhookSchema, type CreateWebhook, type DeliveriesQuery, type UpdateWebhook } from './webhooks.dto.js';
import { WebhooksService } from './webhooks.service.js';

/** /api/v1/webhooks: the caller's webhook endpoints (documented in openapi/webhook-paths.ts). */
@Controller('api/v1/webhooks')
export class WebhooksController {
  constructor(@Inject(WebhooksService) private readonly webhooks: WebhooksService) {}

  @Post()
  @HttpCode(201)
  create(@Body(new ZodPipe(CreateWebhookSchema)) body: CreateWebhook, @CurrentPrincipal() principal: Principal) {
    return this.webhooks.create(principal.owner, body);
  }

  @Get()
  list(@CurrentPrincipal() principal: Principal) {
    return this.webhooks.list(principal.owner);
  }

  @Get(':id')
  get(@Param('id', new UuidPipe()) id: string, @CurrentPrincipal() principal: Principal) {
    return this.webhooks.get(id, principal.owner);
  }

  @Patch(':id')
  update(@Param('id', new UuidPipe()) id: string, @Body(new ZodPipe(UpdateWebhookSchema)) body: UpdateWebhook, @CurrentPrincipal() principal: Principal) {
    return this.webhooks.update(id, principal.owner, body);
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(@Param('id', new UuidPipe()) id: string, @CurrentPrincipal() principal: Principal): Promise<void> {
    await this.webhooks.delete(id, principal.owner);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  rotateSecret(@Param('id', new UuidPipe()) id: string, @CurrentPrincipal() principal: Principal) {
    return this.webhooks.rotateSecret(id, principal.owner);
  }

  @Get(':id/deliveries')
  deliveries(
    @Param('id', new UuidPipe()) id: string,
    @Query(new ZodPipe(DeliveriesQuerySchema, 'query')) query: DeliveriesQuery,
    @CurrentPrincipal() principal: Principal,
  ) {
    return this.webhooks.deliveries(id, principal.owner, query);
  }

  @Post(':id/deliveries/:deliveryId/redeliver')
  @HttpCode(202)
  redeliver(@Param('id', new UuidPipe()) id: string, @Param('deliveryId', new UuidPipe('deliveryId')) deliveryId: string, @CurrentPrincipal() principal: Principal) {
    return this.webhooks.redeliver(id, deliveryId, principal.owner);
  }
}
