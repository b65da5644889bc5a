import { Body, Controller, Delete, Get, HttpCode, Inject, Injectable, Param, Patch, Post, Query, type PipeTransform } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { UuidPipe, ZodPipe } from '../common/zod.pipe.js';
import { AuditService } from './audit.service.js';
import { CreateScheduleSchema, RunsQuerySchema, SchedulesService, UpdateScheduleSchema, type CreateSchedule, type UpdateSchedule } from './schedules.service.js';

/** A schedule id: a UUID, or `builtin:<job>` for a maintenance job; anything else is a 400 INVALID_ID. */
@Injectable()
class ScheduleIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    return /^builtin:[a-z][a-z0-9-]{0,63}$/.test(value) ? value : new UuidPipe().transform(value);
  }
}

const idParam = { name: 'id', description: 'A schedule id (UUID), or builtin:<job> for a maintenance job' };

/**
 * Operator schedules (issue 20, item 6): cron schedules that start tasks of any registered type with a
 * fixed input, fired by the workflow workers. Admin role only (the guard answers 403); every edit is
 * audited.
 */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('api/v1/admin/schedules')
export class SchedulesController {
  constructor(
    @Inject(SchedulesService) private readonly schedules: SchedulesService,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Every schedule with its next runs and last run, then the built-in maintenance jobs (builtin: true, read-only)' })
  list() {
    return this.schedules.list();
  }

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Create a schedule: a cron expression in an IANA time zone that starts a task of a registered type with a fixed input' })
  create(@Body(new ZodPipe(CreateScheduleSchema)) body: CreateSchedule, @CurrentPrincipal() principal: Principal) {
    return this.audit.run(principal, 'schedule.create', body.name, body, () => this.schedules.create(body, principal.owner));
  }

  @Get(':id')
  @ApiOperation({ summary: 'One schedule with its next runs (in its time zone) and its last run' })
  @ApiParam(idParam)
  get(@Param('id', ScheduleIdPipe) id: string) {
    return this.schedules.get(id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change a schedule; a new cron or time zone counts occurrences from now on' })
  @ApiParam(idParam)
  update(@Param('id', ScheduleIdPipe) id: string, @Body(new ZodPipe(UpdateScheduleSchema)) body: UpdateSchedule, @CurrentPrincipal() principal: Principal) {
    return this.audit.run(principal, 'schedule.update', id, body, () => this.schedules.update(id, body));
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete a schedule and its run history (tasks it started stay)' })
  @ApiParam(idParam)
  remove(@Param('id', ScheduleIdPipe) id: string, @CurrentPrincipal() principal: Principal) {
    return this.audit.run(principal, 'schedule.delete', id, {}, () => this.schedules.remove(id));
  }

  @Post(':id/pause')
  @HttpCode(200)
  @ApiOperation({ summary: 'Pause a schedule: no occurrence fires until it is resumed' })
  @ApiParam(idParam)
  pause(@Param('id', ScheduleIdPipe) id: string, @CurrentPrincipal() principal: Principal) {
    return this.audit.run(principal, 'schedule.pause', id, {}, () => this.schedules.pause(id, principal.owner));
  }

  @Post(':id/resume')
  @HttpCode(200)
  @ApiOperation({ summary: 'Resume a schedule: occurrences count from now (what fell due while paused is not caught up)' })
  @ApiParam(idParam)
  resume(@Param('id', ScheduleIdPipe) id: string, @CurrentPrincipal() principal: Principal) {
    return this.audit.run(principal, 'schedule.resume', id, {}, () => this.schedules.resume(id));
  }

  @Get(':id/runs')
  @ApiOperation({ summary: "A schedule's occurrences, newest first: occurrence time, fired at, outcome (started, skipped, queued, failed), task id, error; a built-in job's runs (running, ok, error, abandoned)" })
  @ApiParam(idParam)
  runs(@Param('id', ScheduleIdPipe) id: string, @Query(new ZodPipe(RunsQuerySchema, 'query')) query: z.infer<typeof RunsQuerySchema>) {
    return this.schedules.runs(id, query);
  }
}
