import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { Messaging, type MessagingOptions } from './messaging.js';
import { JetStreamHandlerExplorer } from './explorer.js';
import { JetStreamPublisher } from './publisher.js';

/** Closes the connection when the application shuts down. */
@Injectable()
class MessagingLifecycle implements OnApplicationShutdown {
  constructor(@Inject(Messaging) private readonly messaging: Messaging) {}

  /*
   * Nest 12's app.close() runs onModuleDestroy, beforeApplicationShutdown, then closes the HTTP server
   * and the connected microservices (JetStreamServer.close(): in-flight handlers finish and ack), and
   * only then onApplicationShutdown. Draining here therefore comes after the last ack was sent.
   */
  async onApplicationShutdown(): Promise<void> {
    await this.messaging.close();
  }
}

/**
 * Provides, globally, the process's {@link Messaging} connection (connected while the app is
 * created) and a {@link JetStreamPublisher}, and binds `@JetStreamHandler` methods of providers to
 * a connected {@link JetStreamServer}. The connection is drained on application shutdown, after the
 * JetStream server has stopped.
 */
@Module({})
export class MessagingModule {
  static forRoot(opts: MessagingOptions): DynamicModule {
    return {
      module: MessagingModule,
      global: true,
      providers: [
        { provide: Messaging, useFactory: () => Messaging.connect(opts) },
        { provide: JetStreamPublisher, useFactory: (messaging: Messaging) => new JetStreamPublisher(messaging), inject: [Messaging] },
        MessagingLifecycle,
        JetStreamHandlerExplorer,
      ],
      exports: [Messaging, JetStreamPublisher],
    };
  }
}
