import { APP_FILTER } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { runService } from '@roadmap/runtime';
import { ErrorsFilter } from './common/errors.filter.js';
import { loadGatewayConfig } from './config.js';
import { TasksModule } from './tasks/tasks.module.js';
import { EventsModule } from './events/events.module.js';

await runService({
  name: 'gateway',
  loadConfig: loadGatewayConfig,
  port: (config) => config.PORT,
  host: (config) => config.HOST,
  fastify: (config) => ({ bodyLimit: config.BODY_LIMIT_BYTES, trustProxy: config.TRUST_PROXY }),
  modules: (config, logger) => [
    TasksModule.forRoot({ reviewDefault: config.REVIEW_DEFAULT }),
    EventsModule.forRoot({ keepAliveMs: config.SSE_KEEPALIVE_MS }),
    { module: class ErrorsModule {}, providers: [{ provide: APP_FILTER, useFactory: () => new ErrorsFilter(logger) }] },
  ],
  configure: (app) => {
    const document = SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Roadmap platform API')
        .setDescription('Turns a learning goal into a roadmap, generated as a durable background job.')
        .setVersion('1')
        .build(),
    );
    SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
  },
});
