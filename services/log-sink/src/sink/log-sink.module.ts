import { Module } from '@nestjs/common';
import { LogSinkHandler } from './log-sink.handler.js';
import { LogRepository } from './log.repository.js';

@Module({ providers: [LogSinkHandler, LogRepository] })
export class LogSinkModule {}
