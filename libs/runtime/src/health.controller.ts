import { Controller, Get, Header, Inject, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { ApiExcludeController } from './swagger-compat.js';
import { Messaging } from '@roadmap/messaging';
import { registry } from '@roadmap/observability';
import { DataSource } from 'typeorm';
import { Readiness } from './readiness.js';
import { Public } from './public.js';

/** Liveness, readiness and metrics: served by every service, outside /api and without auth. */
@ApiExcludeController()
@Public()
@Controller()
export class HealthController {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
    @Inject(Messaging) private readonly messaging: Messaging,
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(Readiness) private readonly readiness: Readiness,
  ) {}

  // Liveness (GET /healthz: the process answers, depending on nothing else, so a broker outage
  // restarts no pod) is a plain Fastify route, registered in bootstrap.ts.

  /** Readiness: NATS and PostgreSQL answer and the process is not shutting down. */
  @Get('readyz')
  // Not documented (the controller is excluded from OpenAPI): without this, terminus requires
  // @nestjs/swagger (and its es-toolkit) in every worker, ~530 modules and ~10 MB of idle RSS.
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  readiness$() {
    if (this.readiness.isStopping) {
      throw new ServiceUnavailableException({ status: 'error', error: { process: { status: 'down', message: 'shutting down' } } });
    }
    return this.health.check([
      () =>
        this.indicators
          .check('nats')
          .attempt(async () => {
            await this.messaging.ping();
          })
          .withTimeout(2_000),
      () =>
        this.indicators
          .check('database')
          .attempt(async () => {
            await this.dataSource.query('SELECT 1');
          })
          .withTimeout(2_000),
    ]);
  }

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  @Header('Content-Type', registry.contentType)
  async metrics() {
    return registry.metrics();
  }
}
