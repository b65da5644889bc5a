import { hostname } from 'node:os';
import { Module, type DynamicModule } from '@nestjs/common';
import { Messaging } from '@roadmap/messaging';
import { ExecutionLogger, type Logger } from '@roadmap/observability';
import { LOGGER } from '@roadmap/runtime';
import { TaskLifecycle, WorkflowEngine, WorkflowRegistry } from '@roadmap/workflow';
import { DataSource } from 'typeorm';
import { executionLogsJob, reaperJob, retentionJob, type MaintenanceJobsConfig } from './maintenance.jobs.js';
import { MaintenanceScheduler } from './maintenance.scheduler.js';
import { Reaper } from './reaper.js';
import { ScheduleRunner } from './schedule-runner.js';

export interface MaintenanceConfig extends MaintenanceJobsConfig {
  readonly DATABASE_SCHEMA: string;
  readonly DATABASE_POOL_SIZE: number;
  readonly MAINTENANCE_ENABLED: boolean;
  readonly MAINTENANCE_POLL_MS: number;
  readonly REAPER_QUEUED_AFTER_SECONDS: number;
  readonly REAPER_STALLED_AFTER_SECONDS: number;
  readonly REAPER_MAX_REDRIVES: number;
  readonly SCHEDULES_ENABLED: boolean;
  readonly SCHEDULES_POLL_MS: number;
  readonly SCHEDULES_MISFIRE_GRACE_SECONDS: number;
}

/**
 * Scheduled maintenance (retention, execution-log partitions, the reaper) and operator schedules, run
 * by the workflow worker: the process that owns the task lifecycle maintains it and admits scheduled
 * tasks. The gateway only reads the run history and edits the schedules.
 */
@Module({})
export class MaintenanceModule {
  static forRoot(config: MaintenanceConfig): DynamicModule {
    return {
      module: MaintenanceModule,
      providers: [
        {
          provide: Reaper,
          inject: [DataSource, Messaging, ExecutionLogger, LOGGER, TaskLifecycle, WorkflowRegistry, WorkflowEngine],
          useFactory: (
            dataSource: DataSource,
            messaging: Messaging,
            log: ExecutionLogger,
            logger: Logger,
            lifecycle: TaskLifecycle,
            registry: WorkflowRegistry,
            engine: WorkflowEngine,
          ) =>
            new Reaper(
              dataSource,
              messaging,
              log,
              logger,
              {
                queuedAfterSeconds: config.REAPER_QUEUED_AFTER_SECONDS,
                stalledAfterSeconds: config.REAPER_STALLED_AFTER_SECONDS,
                maxRedrives: config.REAPER_MAX_REDRIVES,
              },
              lifecycle,
              registry,
              engine,
            ),
        },
        {
          provide: MaintenanceScheduler,
          inject: [DataSource, Reaper, LOGGER],
          useFactory: (dataSource: DataSource, reaper: Reaper, logger: Logger) => {
            // The lock holds one pooled connection while the job uses others: a pool of one cannot do both.
            const enabled = config.MAINTENANCE_ENABLED && config.DATABASE_POOL_SIZE >= 2;
            if (config.MAINTENANCE_ENABLED && !enabled) logger.warn('DATABASE_POOL_SIZE is 1: this process runs no maintenance jobs');
            return new MaintenanceScheduler(
              dataSource,
              logger,
              [executionLogsJob(dataSource, config), retentionJob(dataSource, config), reaperJob(reaper, config)],
              { schema: config.DATABASE_SCHEMA, pollMs: config.MAINTENANCE_POLL_MS, instance: `${hostname()}:${process.pid}`, enabled },
            );
          },
        },
        {
          provide: ScheduleRunner,
          inject: [DataSource, TaskLifecycle, WorkflowRegistry, LOGGER],
          useFactory: (dataSource: DataSource, lifecycle: TaskLifecycle, registry: WorkflowRegistry, logger: Logger) =>
            new ScheduleRunner(dataSource, lifecycle, registry, logger, {
              schema: config.DATABASE_SCHEMA,
              pollMs: config.SCHEDULES_POLL_MS,
              graceMs: config.SCHEDULES_MISFIRE_GRACE_SECONDS * 1000,
              instance: `${hostname()}:${process.pid}`,
              enabled: config.SCHEDULES_ENABLED,
            }),
        },
      ],
    };
  }
}
