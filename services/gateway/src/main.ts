import { APP_FILTER } from '@nestjs/core';
import { readFileSync } from 'node:fs';
import { SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { runService } from '@roadmap/runtime';
import { dispatchOptions } from '@roadmap/workflow';
import { AuthModule } from './auth/auth.module.js';
import { ErrorsFilter, frameworkError } from './common/errors.filter.js';
import { installSecurityHeaders } from './common/security-headers.js';
import { loadGatewayConfig } from './config.js';
import { TasksModule } from './tasks/tasks.module.js';
import { AdminModule } from './admin/admin.module.js';
import { EventsModule } from './events/events.module.js';
import { MaintenanceModule } from './maintenance/maintenance.module.js';
import { ConsoleModule } from './console/console.module.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';
import { installConsole } from './console/console-static.js';

await runService({
  name: 'gateway',
  loadConfig: loadGatewayConfig,
  port: (config) => config.PORT,
  host: (config) => config.HOST,
  fastify: (config) => ({
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: config.TRUST_PROXY,
    // The option is typed generically over HTTP/1 and HTTP/2 replies; the handler uses only status,
    // header and send, which both have.
    frameworkErrors: frameworkError as never,
  }),
  modules: (config, logger) => [
    AuthModule.forRoot({
      secret: config.AUTH_JWT_SECRET,
      jwksUrl: config.AUTH_JWKS_URL,
      issuer: config.AUTH_JWT_ISSUER,
      audience: config.AUTH_JWT_AUDIENCE,
      createPerMinute: config.AUTH_RATE_LIMIT_PER_MINUTE,
    }),
    TasksModule.forRoot({ reviewDefault: config.REVIEW_DEFAULT, workflowModules: config.WORKFLOW_MODULES, dispatch: dispatchOptions(config) }),
    EventsModule.forRoot({ keepAliveMs: config.SSE_KEEPALIVE_MS }),
    AdminModule,
    WebhooksModule.forRoot({ allowPrivate: config.WEBHOOKS_ALLOW_PRIVATE }),
    MaintenanceModule,
    ConsoleModule,
    { module: class ErrorsModule {}, providers: [{ provide: APP_FILTER, useFactory: () => new ErrorsFilter(logger) }] },
  ],
  configure: (app, config, logger) => {
    installSecurityHeaders(app.getHttpAdapter().getInstance());
    installConsole(app.getHttpAdapter().getInstance(), logger);
    if (config.CORS_ORIGINS.length > 0) {
      app.enableCors({
        origin: config.CORS_ORIGINS.includes('*') ? '*' : config.CORS_ORIGINS,
        methods: ['GET', 'POST', 'PUT', 'OPTIONS'],
        allowedHeaders: ['Authorization', 'X-Api-Key', 'Content-Type', 'Idempotency-Key', 'Last-Event-ID'],
        exposedHeaders: ['Retry-After', 'Idempotent-Replayed', 'WWW-Authenticate'],
        credentials: false,
        maxAge: 600,
      });
    }
    // The committed document (npm run openapi builds it from the zod schemas; see openapi/document.ts),
    // read as a file so the gateway serves exactly what clients are generated from.
    const document = JSON.parse(readFileSync(new URL('./openapi/openapi.json', import.meta.url), 'utf8')) as OpenAPIObject;
    SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
  },
});
