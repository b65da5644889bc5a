import 'reflect-metadata';
import { Inject, Injectable, Module, type BeforeApplicationShutdown, type DynamicModule, type INestApplication, type OnApplicationShutdown, type Type } from '@nestjs/common';
import { ModuleRef, NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { TerminusModule } from '@nestjs/terminus';
import { ConfigError, natsAuth, type CommonConfig } from '@roadmap/contracts';
import { assertProvisioned, JetStreamPublisher, JetStreamServer, Messaging, MessagingModule } from '@roadmap/messaging';
import { createLogger, ExecutionLogger, initMetrics, installHttpSpanRoutes, NestPinoLogger, startTracing, type Logger, type Tracing } from '@roadmap/observability';
import { PersistenceModule } from '@roadmap/persistence';
import { HealthController } from './health.controller.js';
import { Readiness } from './readiness.js';
import { Cancellation } from './cancellation.js';
import { LOGGER, TaskEvents } from './task-events.js';
import { ClusterMetrics } from './cluster-metrics.js';
import { WORKER_SERVES, WorkerRegistry, type ServedType } from './worker-registry.js';
import { installHttpMetrics } from './http-metrics.js';
import { DataSource } from 'typeorm';

export type ServiceName = 'gateway' | 'workflow-worker' | 'content-worker' | 'log-sink' | 'webhook-worker';

export interface ServiceDefinition<C extends CommonConfig> {
  readonly name: ServiceName;
  /** Reads and validates the environment; throws ConfigError naming each bad variable. */
  readonly loadConfig: () => C;
  /** The service's own feature modules. */
  readonly modules: (config: C, logger: Logger) => Array<Type | DynamicModule>;
  /** HTTP port: the API for the gateway, health and metrics for workers. */
  readonly port: (config: C) => number;
  readonly host?: (config: C) => string;
  /** Handlers in flight per durable consumer; absent for services that consume nothing. */
  readonly concurrency?: (config: C) => Record<string, number>;
  /** Batch size and flush age per durable consumer of a batch handler (overrides the decorator's). */
  readonly batches?: (config: C) => Record<string, { maxBatch: number; maxWaitMs: number }>;
  /** Soft and hard time limits per durable consumer (single-message handlers). */
  readonly timeLimits?: (config: C) => Record<string, { softMs: number; hardMs: number }>;
  /** Fastify options (body limit, proxy trust) for the gateway. */
  readonly fastify?: (config: C) => ConstructorParameters<typeof FastifyAdapter>[0];
  /** Last touches before listening (OpenAPI, filters, CORS). */
  readonly configure?: (app: NestFastifyApplication, config: C, logger: Logger) => void | Promise<void>;
}

/** Modules every service has: database, NATS, health and metrics. */
function coreModule(name: ServiceName, config: CommonConfig, logger: Logger): DynamicModule {
  @Module({})
  class CoreModule {}
  return {
    module: CoreModule,
    global: true,
    imports: [
      PersistenceModule.forRoot({
        url: config.DATABASE_URL,
        schema: config.DATABASE_SCHEMA,
        poolSize: config.DATABASE_POOL_SIZE,
        applicationName: `roadmap-${name}`,
        ssl: config.DATABASE_SSL,
      }),
      MessagingModule.forRoot({ servers: config.NATS_URL, namespace: config.NATS_NAMESPACE, name, logger, auth: natsAuth(config) }),
      TerminusModule.forRoot({ logger: false }),
    ],
    controllers: [HealthController],
    providers: [
      Readiness,
      TaskEvents,
      Cancellation,
      { provide: LOGGER, useValue: logger },
      {
        provide: ExecutionLogger,
        inject: [JetStreamPublisher],
        useFactory: (publisher: JetStreamPublisher) => new ExecutionLogger(name, publisher, logger, { maxBufferedBytes: config.EXECUTION_LOG_BUFFER_BYTES }),
      },
      {
        // Queue depth and task metrics, exported by one process of the platform (advisory-lock lease).
        provide: ClusterMetrics,
        inject: [DataSource, Messaging],
        useFactory: (dataSource: DataSource, messaging: Messaging) =>
          new ClusterMetrics(dataSource, messaging, logger, { schema: config.DATABASE_SCHEMA, poolSize: config.DATABASE_POOL_SIZE }),
      },
      {
        // Heartbeats of this process for the worker registry (GET /api/v1/admin/workers).
        provide: WorkerRegistry,
        inject: [DataSource],
        useFactory: (dataSource: DataSource) => new WorkerRegistry(dataSource, logger, { service: name, intervalMs: config.WORKER_HEARTBEAT_MS }),
      },
    ],
    exports: [Readiness, TaskEvents, Cancellation, LOGGER, ExecutionLogger],
  };
}

/** Drains the execution logger when the application shuts down (see {@link executionLogDrainModule}). */
@Injectable()
class ExecutionLogDrain implements BeforeApplicationShutdown, OnApplicationShutdown {
  private closingSince = Date.now();
  constructor(
    @Inject(ExecutionLogger) private readonly executionLog: ExecutionLogger,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject('SHUTDOWN_GRACE_MS') private readonly graceMs: number,
  ) {}

  beforeApplicationShutdown(): void {
    this.closingSince = Date.now();
  }

  async onApplicationShutdown(): Promise<void> {
    // What is left of the grace period once in-flight work finished, and never less than a second:
    // the exit deadline leaves 5 s past the grace period.
    const timeoutMs = Math.max(1_000, this.graceMs - (Date.now() - this.closingSince));
    const { entries } = this.executionLog.unsettled;
    if (await this.executionLog.drain(timeoutMs)) {
      if (entries > 0) this.logger.info({ entries }, 'execution log flushed');
    } else this.logger.error({ timeoutMs }, 'execution log not flushed in time; the entries left are in the process log');
  }
}

/**
 * Flushes the execution logger at shutdown: after the consumers stopped (their handlers' last
 * entries are logged) and before the NATS connection closes. Nest runs onApplicationShutdown after
 * closing the microservices, module by module by distance from the root, global modules (the
 * messaging module, whose hook drains the connection) last: so this module is not global.
 */
function executionLogDrainModule(graceMs: number): DynamicModule {
  @Module({})
  class ExecutionLogDrainModule {}
  return { module: ExecutionLogDrainModule, providers: [{ provide: 'SHUTDOWN_GRACE_MS', useValue: graceMs }, ExecutionLogDrain] };
}

/**
 * Starts one service process: validated configuration, JSON logs, metrics, the service's modules,
 * its JetStream consumers (only once streams are provisioned), HTTP, and graceful shutdown on
 * SIGTERM/SIGINT (readiness goes false, consumers stop pulling, in-flight work finishes).
 */
export async function runService<C extends CommonConfig>(definition: ServiceDefinition<C>): Promise<INestApplication> {
  let config: C;
  try {
    config = definition.loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${definition.name}: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(definition.name, config.LOG_LEVEL);
  initMetrics(definition.name);
  // Before the app is created: the HTTP server and the pg driver (required by TypeORM) get traced.
  const tracing = await startTracing(definition.name).catch((error: unknown) => {
    logger.error({ err: error }, 'OpenTelemetry tracing could not start; running without traces');
    return undefined;
  });
  if (tracing) logger.info('OpenTelemetry tracing on');

  @Module({ imports: [coreModule(definition.name, config, logger), executionLogDrainModule(config.SHUTDOWN_GRACE_MS), ...definition.modules(config, logger)] })
  class RootModule {}

  const LIVE = { status: 'ok' } as const;
  try {
    const app = await NestFactory.create<NestFastifyApplication>(RootModule, new FastifyAdapter(definition.fastify?.(config)), {
      logger: new NestPinoLogger(logger),
      abortOnError: false,
    });
    // Request duration and count by route template and status, for every service's HTTP server.
    installHttpMetrics(app.getHttpAdapter().getInstance());
    installHttpSpanRoutes(app.getHttpAdapter().getInstance());
    // Liveness straight on Fastify (its hooks still run: metrics, security headers), without Nest's
    // guard, pipe and interceptor chain: the probe that must answer however busy the process is.
    app.getHttpAdapter().getInstance().get('/healthz', async () => LIVE);
    await definition.configure?.(app, config, logger);

    let server: JetStreamServer | undefined;
    // Set once signals are handled: an operator's drain takes the same path as SIGTERM.
    let shutdown: (reason: string) => void = () => undefined;
    if (definition.concurrency) {
      const messaging = app.get(Messaging);
      await assertProvisioned(messaging);
      app.connectMicroservice(
        {
          strategy: (server = new JetStreamServer({
            messaging,
            concurrency: definition.concurrency(config),
            batches: definition.batches?.(config),
            timeLimits: definition.timeLimits?.(config),
            logger,
            shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
            control: { workerId: app.get(WorkerRegistry).id, onDrain: () => shutdown('drain') },
          })),
        },
        { inheritAppConfig: true },
      );
      await app.startAllMicroservices();
    }
    await app.listen(definition.port(config), definition.host?.(config) ?? '0.0.0.0');
    logger.info({ url: await app.getUrl() }, `${definition.name} ready`);
    app.get(WorkerRegistry).start(server && (() => server!.snapshot()), servedTypes(app));
    shutdown = exitGracefullyOnSignals(app, logger, config.SHUTDOWN_GRACE_MS, tracing);
    return app;
  } catch (error) {
    logger.fatal({ err: error }, `${definition.name} failed to start`);
    process.exit(1);
  }
}

/** What the process says it serves (WORKER_SERVES, when a module provides it), for the worker registry. */
function servedTypes(app: INestApplication): (() => readonly ServedType[]) | undefined {
  try {
    // Through ModuleRef, not app.get: NestFactory's proxy logs every exception a call to the app
    // throws ("Nest could not find …" as an error at every start of a process that serves no types).
    return app.get(ModuleRef).get<() => readonly ServedType[]>(WORKER_SERVES, { strict: false });
  } catch {
    return undefined;
  }
}

/**
 * SIGTERM/SIGINT (or an operator's drain, through the returned function): close the app (readiness
 * false, consumers stop pulling, in-flight work finishes within the grace period, the execution log
 * is flushed, connections drain) and exit 0, so Kubernetes starts a replacement. A close that hangs
 * past the grace period plus a margin exits 1, so an orchestrator never waits on a stuck process.
 */
function exitGracefullyOnSignals(app: INestApplication, logger: Logger, graceMs: number, tracing?: Tracing): (reason: string) => void {
  let closing = false;
  const onSignal = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal, graceMs }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error({ graceMs }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, graceMs + 5_000);
    deadline.unref();
    app.close().then(
      async () => {
        // Spans still batched are exported before exit (bounded by the deadline above).
        await tracing?.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'could not export the last traces'));
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return onSignal;
}
