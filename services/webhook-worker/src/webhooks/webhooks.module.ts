import { Module, type DynamicModule } from '@nestjs/common';
import { WEBHOOK_WORKER_OPTIONS, WebhookHandlers, type WebhookWorkerOptions } from './webhook.handlers.js';
import { WebhookRepository } from './webhook.repository.js';

@Module({})
export class WebhooksModule {
  static forRoot(options: WebhookWorkerOptions): DynamicModule {
    return { module: WebhooksModule, providers: [WebhookRepository, WebhookHandlers, { provide: WEBHOOK_WORKER_OPTIONS, useValue: options }] };
  }
}
