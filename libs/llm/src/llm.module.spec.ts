import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Global, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfig } from '@roadmap/contracts';
import { LlmEnvSchema } from './config.js';
import { LLM_CALL_OBSERVER, LLM_PROVIDER, LlmModule } from './llm.module.js';
import { PROMPTS } from './prompts/registry.js';
import type { LlmCallObserver, LlmCallRecord, LlmProvider } from './provider.js';

const config = loadConfig(LlmEnvSchema, {});

describe('LlmModule', () => {
  it('provides the configured provider under LLM_PROVIDER', async () => {
    const app = await NestFactory.createApplicationContext(LlmModule.forRoot(config), { logger: false });
    const llm = app.get<LlmProvider>(LLM_PROVIDER);
    assert.equal(llm.name, 'offline');
    await app.close();
  });

  it('takes the logger from an injection token, and the offline provider says what it is', async () => {
    const lines: string[] = [];
    const logger = { info: (_obj: unknown, msg: string) => lines.push(msg), debug() {}, warn() {}, error() {} };
    const TOKEN = Symbol('LOGGER');
    @Global()
    @Module({ providers: [{ provide: TOKEN, useValue: logger }], exports: [TOKEN] })
    class LoggerModule {}
    @Module({ imports: [LoggerModule, LlmModule.forRoot(config, TOKEN)] })
    class AppModule {}
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
    assert.equal(app.get<LlmProvider>(LLM_PROVIDER).model, 'offline-deterministic-1');
    assert.ok(lines.some((l) => /deterministic stand-in .*not a model/.test(l)), lines.join('\n'));
    await app.close();
  });

  it('passes every call to the LLM_CALL_OBSERVER a service provides, and runs without NATS (per-process limits)', async () => {
    const records: LlmCallRecord[] = [];
    const observer: LlmCallObserver = { record: (r) => void records.push(r) };
    @Global()
    @Module({ providers: [{ provide: LLM_CALL_OBSERVER, useValue: observer }], exports: [LLM_CALL_OBSERVER] })
    class ObserverModule {}
    @Module({ imports: [ObserverModule, LlmModule.forRoot(config)] })
    class AppModule {}
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
    const llm = app.get<LlmProvider>(LLM_PROVIDER);
    await llm.generate(PROMPTS.intent_analysis, { goal: 'Learn Go', preferences: { level: 'beginner', hoursPerWeek: 8, language: 'en' } }, { context: { taskId: 't', owner: 'o' } });
    assert.deepEqual(
      records.map((r) => [r.outcome, r.provider, r.promptVersion, r.context.taskId]),
      [['ok', 'offline', 'intent_analysis@1', 't']],
    );
    await app.close();
  });
});
