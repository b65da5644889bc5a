import { Module, type DynamicModule } from '@nestjs/common';
import { TaskCallbacks } from './task-callbacks.js';
import { WebhooksController } from './webhooks.controller.js';
import { WebhooksRepository } from './webhooks.repository.js';
import { WEBHOOKS_OPTIONS, WebhooksService, type WebhooksOptions } from './webhooks.service.js';

@Module({})
export class WebhooksModule {
  static forRoot(options: WebhooksOptions): DynamicModule {
    return {
      module: WebhooksModule,
      // Global: the tasks module's admissions check and write `callbackUrl` through TaskCallbacks.
      global: true,
      controllers: [WebhooksController],
      providers: [WebhooksRepository, WebhooksService, TaskCallbacks, { provide: WEBHOOKS_OPTIONS, useValue: options }],
      exports: [TaskCallbacks],
    };
  }
}
