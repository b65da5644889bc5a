import { Module, type DynamicModule } from '@nestjs/common';
import { TasksRepository } from '../tasks/tasks.repository.js';
import { TaskEventsController } from './task-events.controller.js';
import { EVENTS_OPTIONS, TaskEventsService, type EventsOptions } from './task-events.service.js';

/** Defaults of {@link EventsModule.forRoot}; keep-alive is the gateway setting SSE_KEEPALIVE_MS. */
export const EVENTS_DEFAULTS: EventsOptions = { keepAliveMs: 15_000, retryMs: 3_000, finalGraceMs: 2_000 };

/** GET /api/v1/tasks/:id/events: live task progress over Server-Sent Events. */
@Module({})
export class EventsModule {
  static forRoot(options: Partial<EventsOptions> = {}): DynamicModule {
    const resolved: EventsOptions = {
      keepAliveMs: options.keepAliveMs ?? EVENTS_DEFAULTS.keepAliveMs,
      retryMs: options.retryMs ?? EVENTS_DEFAULTS.retryMs,
      finalGraceMs: options.finalGraceMs ?? EVENTS_DEFAULTS.finalGraceMs,
    };
    return {
      module: EventsModule,
      controllers: [TaskEventsController],
      // The gateway's task reads (a second instance of the stateless repository, TasksModule's own is not exported).
      providers: [{ provide: EVENTS_OPTIONS, useValue: resolved }, TasksRepository, TaskEventsService],
    };
  }
}
