import { Module, type DynamicModule, type InjectionToken } from '@nestjs/common';
import { LLM_USAGE_OPTIONS, LlmCallRecorder } from './llm-call-recorder.js';
import type { LlmUsageOptions } from './llm-usage.config.js';

/**
 * Records every LLM call in PostgreSQL and enforces the usage budgets. Global, so the LLM layer's
 * pipeline finds the recorder under its observer token: a worker passes that token
 * (`LlmUsageModule.forRoot(options, LLM_CALL_OBSERVER)`), which keeps this lib free of the LLM code.
 */
@Module({})
export class LlmUsageModule {
  static forRoot(options: LlmUsageOptions, observerToken?: InjectionToken): DynamicModule {
    return {
      module: LlmUsageModule,
      global: true,
      providers: [
        { provide: LLM_USAGE_OPTIONS, useValue: options },
        LlmCallRecorder,
        ...(observerToken ? [{ provide: observerToken, useExisting: LlmCallRecorder }] : []),
      ],
      exports: [LlmCallRecorder, ...(observerToken ? [observerToken] : [])],
    };
  }
}
