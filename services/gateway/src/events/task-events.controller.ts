import { Controller, Get, Headers, Inject, Param, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiParam, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, scopeOf, type Principal } from '../auth/principal.js';
import { UuidPipe } from '../common/zod.pipe.js';
import { parseLastEventId } from './sse.js';
import { TaskEventsService } from './task-events.service.js';

const errorSchema = {
  type: 'object',
  properties: { code: { type: 'string', example: 'NOT_FOUND' }, message: { type: 'string' }, requestId: { type: 'string' } },
};

@ApiTags('tasks')
@ApiBearerAuth()
@Controller('api/v1/tasks')
export class TaskEventsController {
  constructor(@Inject(TaskEventsService) private readonly events: TaskEventsService) {}

  /*
   * The response is written by the service (Server-Sent Events on the raw reply); @Res() keeps Nest
   * from sending one of its own. Errors thrown before the stream starts are JSON as everywhere else.
   */
  @Get(':id/events')
  @ApiOperation({
    summary: 'Live progress of a task as Server-Sent Events, replayed from its first event or after Last-Event-ID',
    description:
      'Each event: `id` (its sequence; send it back as Last-Event-ID to resume), `event` (its type) and `data` (the event JSON). ' +
      'Comments `: keep-alive` keep idle connections open. The stream ends after the task’s final event (task.completed, ' +
      'task.failed, task.cancelled); 204 when the task is over and nothing is left after Last-Event-ID.',
  })
  @ApiProduces('text/event-stream')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume after this event id (sent by EventSource on reconnect)' })
  @ApiQuery({ name: 'lastEventId', required: false, schema: { type: 'integer', minimum: 0 }, description: 'Same as Last-Event-ID, for clients that cannot set headers' })
  @ApiResponse({ status: 200, description: 'text/event-stream of the task’s progress events' })
  @ApiResponse({ status: 204, description: 'The task is over and nothing is left to send: do not reconnect' })
  @ApiResponse({ status: 400, description: 'The id is not a UUID, or Last-Event-ID is not an event id', schema: errorSchema })
  @ApiResponse({ status: 401, description: 'No valid credential (API key or JWT)', schema: errorSchema })
  @ApiResponse({ status: 404, description: 'No such task', schema: errorSchema })
  @ApiResponse({ status: 503, description: 'NATS is unavailable; retry after Retry-After', schema: errorSchema })
  async stream(
    @Param('id', new UuidPipe()) id: string,
    @Headers('last-event-id') lastEventIdHeader: string | undefined,
    @Query('lastEventId') lastEventIdQuery: string | string[] | undefined,
    @Res() reply: FastifyReply,
    @CurrentPrincipal() principal: Principal,
  ): Promise<void> {
    await this.events.stream(id, scopeOf(principal), parseLastEventId(lastEventIdHeader, lastEventIdQuery), reply);
  }
}
