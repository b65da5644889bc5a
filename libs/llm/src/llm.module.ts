import { Module, type DynamicModule, type InjectionToken, type Provider } from '@nestjs/common';
import type { Logger } from '@roadmap/observability';
import { createLlmProvider, type LlmConfig } from './config.js';

/** Injection token of the LlmProvider: `@Inject(LLM_PROVIDER) llm: LlmProvider`. */
export const LLM_PROVIDER = 'roadmap:LLM_PROVIDER';

/** Provides the configured LlmProvider (measured) under LLM_PROVIDER. */
@Module({})
export class LlmModule {
  /**
   * @param logger a pino Logger, or the injection token of one (e.g. the runtime's global LOGGER), so
   *   the provider logs which LLM it is — the offline stand-in says so at start-up.
   */
  static forRoot(config: LlmConfig, logger?: Logger | InjectionToken): DynamicModule {
    const provider: Provider =
      typeof logger === 'string' || typeof logger === 'symbol' || typeof logger === 'function'
        ? { provide: LLM_PROVIDER, useFactory: (log: Logger) => createLlmProvider(config, log), inject: [logger] }
        : { provide: LLM_PROVIDER, useFactory: () => createLlmProvider(config, logger as Logger | undefined) };
    return { module: LlmModule, providers: [provider], exports: [LLM_PROVIDER] };
  }
}
