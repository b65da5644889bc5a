import { Inject, Injectable } from '@nestjs/common';
import { ContentGenerateMessageSchema, PRIORITY_CONSUMERS, type ContentGenerateMessage } from '@roadmap/contracts';
import { JetStreamHandler, type JetStreamContext } from '@roadmap/messaging';
import { withSpan } from '@roadmap/observability';
import { ContentService } from './content.service.js';

/** One consumer per priority, each with its own slots (see PRIORITY_SHARE). */
@Injectable()
export class ContentHandler {
  constructor(@Inject(ContentService) private readonly content: ContentService) {}

  @JetStreamHandler({ consumer: PRIORITY_CONSUMERS.content.high, schema: ContentGenerateMessageSchema })
  high(message: ContentGenerateMessage, ctx: JetStreamContext): Promise<void> {
    return traced(message, () => this.content.generate(message, ctx));
  }

  @JetStreamHandler({ consumer: PRIORITY_CONSUMERS.content.normal, schema: ContentGenerateMessageSchema })
  normal(message: ContentGenerateMessage, ctx: JetStreamContext): Promise<void> {
    return traced(message, () => this.content.generate(message, ctx));
  }

  @JetStreamHandler({ consumer: PRIORITY_CONSUMERS.content.low, schema: ContentGenerateMessageSchema })
  low(message: ContentGenerateMessage, ctx: JetStreamContext): Promise<void> {
    return traced(message, () => this.content.generate(message, ctx));
  }
}

/** A span per content item (under the message's consumer span), named by kind, with its ids. */
function traced(message: ContentGenerateMessage, run: () => Promise<void>): Promise<void> {
  const attributes = {
    'roadmap.task.id': message.taskId,
    'roadmap.roadmap.id': message.roadmapId,
    'roadmap.concept.id': message.conceptId,
    'roadmap.content.kind': message.kind,
    'roadmap.content.generation': message.generation,
  };
  return withSpan(`content item ${message.kind}`, { attributes }, run);
}
