import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ExternalContextCreator, MetadataScanner, ModulesContainer, type ParamsFactory } from '@nestjs/core';
import { PARAM_ARGS_METADATA } from '@nestjs/microservices/constants.js';
import { RpcParamsFactory } from '@nestjs/microservices/factories/rpc-params-factory.js';
import type { Subscription } from 'rxjs';
import { JETSTREAM_EXTRAS_KEY, JETSTREAM_HANDLER_METADATA, type HandlerSpec } from './decorators.js';
import { JetStreamServer } from './server.js';

/**
 * Binds `@JetStreamHandler` methods of providers to the JetStream server.
 *
 * Nest's microservice layer only looks for message handlers on controllers, but services declare
 * them on ordinary injectable providers. This explorer watches the transports Nest registers
 * (`connectMicroservice()` / `createMicroservice()` announce theirs on the modules container) and,
 * for a {@link JetStreamServer}, wraps every decorated provider method with Nest's external context
 * creator (so guards, interceptors, pipes, filters and `@Payload()` / `@Ctx()` apply as on a
 * controller) and adds it as the durable's event handler. Handlers on controllers are bound by Nest
 * itself.
 */
@Injectable()
export class JetStreamHandlerExplorer implements OnApplicationShutdown {
  private readonly subscription: Subscription;
  private readonly scanner = new MetadataScanner();
  /** Maps `@Payload()` / `@Ctx()` to the (payload, context) arguments the server passes. */
  private readonly params: ParamsFactory = ((rpc) => ({
    exchangeKeyForValue: (type: number, data: unknown, args: unknown[]) => rpc.exchangeKeyForValue(type, data as string | undefined, args),
  }))(new RpcParamsFactory());

  constructor(
    @Inject(ModulesContainer) private readonly modules: ModulesContainer,
    @Inject(ExternalContextCreator) private readonly contextCreator: ExternalContextCreator,
  ) {
    // A replay subject: a server registered before this provider existed is seen too.
    this.subscription = modules.getRpcTargetRegistry().subscribe((target) => {
      if (!(target instanceof JetStreamServer)) return;
      try {
        this.bind(target);
      } catch (err) {
        // Thrown here it would escape as an unhandled error; startAllMicroservices() reports it instead.
        target.failListen(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  onApplicationShutdown(): void {
    this.subscription.unsubscribe();
  }

  private bind(server: JetStreamServer): void {
    const seen = new Set<object>();
    for (const moduleRef of this.modules.values()) {
      for (const wrapper of moduleRef.providers.values()) {
        const instance: unknown = wrapper.instance;
        if (wrapper.isAlias || instance === null || typeof instance !== 'object' || seen.has(instance)) continue;
        seen.add(instance);
        const prototype = Object.getPrototypeOf(instance) as object | null;
        if (prototype === null || prototype === Object.prototype) continue;
        for (const methodName of this.scanner.getAllMethodNames(prototype)) {
          const method = (instance as Record<string, unknown>)[methodName];
          if (typeof method !== 'function') continue;
          const spec = Reflect.getMetadata(JETSTREAM_HANDLER_METADATA, method) as HandlerSpec | undefined;
          if (spec === undefined) continue;
          if (!wrapper.isDependencyTreeStatic()) {
            throw new Error(`${instance.constructor.name}.${methodName}: JetStream handlers must live in singleton-scoped providers`);
          }
          const handler = this.contextCreator.create(
            instance,
            method as (...args: unknown[]) => unknown,
            methodName,
            PARAM_ARGS_METADATA,
            this.params,
            undefined,
            undefined,
            { guards: true, interceptors: true, filters: true },
            'rpc',
          );
          server.addHandler(spec.consumer.durable, handler, true, { [JETSTREAM_EXTRAS_KEY]: spec });
        }
      }
    }
  }
}
