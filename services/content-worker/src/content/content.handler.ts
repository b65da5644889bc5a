import { Inject, Injectable } from '@nestjs/common';
import { CONSUMERS, ContentGenerateMessageSchema, type ContentGenerateMessage } from '@roadmap/contracts';
import { JetStreamHandler, type JetStreamContext } from '@roadmap/messaging';
import { ContentService } from './content.service.js';

@Injectable()
export class ContentHandler {
  constructor(@Inject(ContentService) private readonly content: ContentService) {}

  @JetStreamHandler({ consumer: CONSUMERS.contentWorker, schema: ContentGenerateMessageSchema })
  handle(message: ContentGenerateMessage, ctx: JetStreamContext): Promise<void> {
    return this.content.generate(message, { signal: ctx.signal, isLastDelivery: ctx.isLastDelivery });
  }
}
