import { Inject, Injectable } from '@nestjs/common';
import { CONSUMERS } from '@roadmap/contracts';
import { JetStreamHandler, type JetStreamContext } from '@roadmap/messaging';
import { DeadLetterRecorder } from './dead-letter.recorder.js';

/**
 * The dead-letter stream's one consumer, shared by every workflow-worker replica. Raw payloads
 * (`schema: null`: a dead letter may be anything) and `deadLetter: false`: a dead letter that cannot
 * be recorded is retried up to the consumer's maxDeliver, then terminated and logged, never
 * dead-lettered again (it would come back to this handler). It stays in DEAD_LETTERS (limits retention).
 */
@Injectable()
export class DeadLetterHandler {
  constructor(@Inject(DeadLetterRecorder) private readonly recorder: DeadLetterRecorder) {}

  @JetStreamHandler({ consumer: CONSUMERS.deadLetterSink, schema: null, deadLetter: false })
  record(data: Uint8Array, ctx: JetStreamContext): Promise<void> {
    return this.recorder.record(data, ctx);
  }
}
