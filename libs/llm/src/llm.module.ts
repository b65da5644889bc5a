import { Module, type DynamicModule, type InjectionToken, type Provider } from '@nestjs/common';
import { Messaging } from '@roadmap/messaging';
import type { Logger } from '@roadmap/observability';
import { createLlmProvider, type LlmConfig } from './config.js';
import type { KvNatsHandle as LlmNatsHandle } from '@roadmap/messaging';
import type { LlmCallObserver } from './provider.js';

/** Injection token of the LlmProvider: `@Inject(LLM_PROVIDER) llm: LlmProvider`. */
export const LLM_PROVIDER = 'roadmap:LLM_PROVIDER';

/**
 * Injection token of an optional LlmCallObserver (budgets, call records). A service provides it in a
 * global module (or one passed as `imports`), and the LLM layer calls it around every attempt.
 */
export const LLM_CALL_OBSERVER = 'roadmap:LLM_CALL_OBSERVER';

export interface LlmModuleOptions {
  /**
   * Token of the NATS handle (`{ nc, namespace }`) whose JetStream KV holds the shared limits and
   * cache. Default: the Messaging provider of @roadmap/messaging, which every service's runtime
   * registers globally; when none is registered the limits and cache are per process.
   */
  readonly nats?: InjectionToken;
  /** Modules that export LLM_CALL_OBSERVER (when it is not provided globally). */
  readonly imports?: DynamicModule['imports'];
}

/** Provides the LLM layer (the pipeline around the configured, measured providers) under LLM_PROVIDER. */
@Module({})
export class LlmModule {
  /**
   * @param logger a pino Logger, or the injection token of one (e.g. the runtime's global LOGGER), so
   *   the provider logs which LLM it is — the offline stand-in says so at start-up.
   */
  static forRoot(config: LlmConfig, logger?: Logger | InjectionToken, options: LlmModuleOptions = {}): DynamicModule {
    const loggerToken = typeof logger === 'string' || typeof logger === 'symbol' || typeof logger === 'function' ? logger : undefined;
    const provider: Provider = {
      provide: LLM_PROVIDER,
      inject: [
        { token: options.nats ?? Messaging, optional: true },
        { token: LLM_CALL_OBSERVER, optional: true },
        ...(loggerToken ? [loggerToken] : []),
      ],
      useFactory: (nats: LlmNatsHandle | undefined, observer: LlmCallObserver | undefined, injected?: Logger) =>
        createLlmProvider(config, loggerToken ? injected : (logger as Logger | undefined), { nats, observer }),
    };
    return { module: LlmModule, imports: options.imports ?? [], providers: [provider], exports: [LLM_PROVIDER] };
  }
}
