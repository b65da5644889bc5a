import { Module, type DynamicModule } from '@nestjs/common';
import { WebhooksController } from './webhooks.controller.js';
import { WebhooksRepository } from './webhooks.repository.js';
import { WEBHOOKS_OPTIONS, WebhooksService, type WebhooksOptions } from './webhooks.service.js';

@Module({})
export class WebhooksModule {
  static forRoot(options: WebhooksOptions): DynamicModule {
    return {
      module: WebhooksModule,
      controllers: [WebhooksController],
      providers: [WebhooksRepository, WebhooksService, { provide: WEBHOOKS_OPTIONS, useValue: options }],
    };
  }
}
