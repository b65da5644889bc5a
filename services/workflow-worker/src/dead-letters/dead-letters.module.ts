import { Module } from '@nestjs/common';
import { DeadLetterHandler } from './dead-letter.handler.js';
import { DeadLetterRecorder } from './dead-letter.recorder.js';

/** Records dead letters in PostgreSQL (the gateway serves them to operators). */
@Module({ providers: [DeadLetterHandler, DeadLetterRecorder] })
export class DeadLettersModule {}
