import { Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { STREAMS } from '@roadmap/contracts';
import { z } from 'zod';
import { UuidPipe, ZodPipe } from '../common/zod.pipe.js';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { AuditService } from './audit.service.js';
import { DEAD_LETTER_STATES, DeadLettersService } from './dead-letters.service.js';

export const ListQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  stream: z.enum(Object.keys(STREAMS) as [string, ...string[]]).optional(),
  state: z.enum(DEAD_LETTER_STATES).default('open'),
});

/** /api/v1/admin/dead-letters: the admin role only (the guard answers 403 to others). */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('api/v1/admin/dead-letters')
export class DeadLettersController {
  constructor(
    @Inject(DeadLettersService) private readonly deadLetters: DeadLettersService,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Dead letters, newest first: stream, subject, reason, deliveries, task (discarded ones only with state=discarded|all)' })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } })
  @ApiQuery({ name: 'stream', required: false, enum: Object.keys(STREAMS) })
  @ApiQuery({ name: 'state', required: false, enum: DEAD_LETTER_STATES, description: 'open (default): not discarded' })
  list(@Query(new ZodPipe(ListQuerySchema, 'query')) query: z.infer<typeof ListQuerySchema>) {
    return this.deadLetters.list(query.limit, query.stream, query.state);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One dead letter with its headers and raw payload' })
  @ApiParam({ name: 'id', format: 'uuid' })
  get(@Param('id', new UuidPipe()) id: string) {
    return this.deadLetters.get(id);
  }

  @Post(':id/replay')
  @HttpCode(202)
  @ApiOperation({ summary: 'Put a dead letter back on its original subject (409 once discarded)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  replay(@Param('id', new UuidPipe()) id: string, @CurrentPrincipal() principal: Principal) {
    return this.audit.run(principal, 'dead-letter.replay', id, {}, () => this.deadLetters.replay(id));
  }

  @Post(':id/discard')
  @HttpCode(200)
  @ApiOperation({ summary: 'Discard a dead letter: kept for audit, left out of the default list, no longer replayable (409)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  discard(@Param('id', new UuidPipe()) id: string, @CurrentPrincipal() principal: Principal) {
    return this.audit.run(principal, 'dead-letter.discard', id, {}, () => this.deadLetters.discard(id, principal.owner));
  }
}
