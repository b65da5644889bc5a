import { Inject, Injectable } from '@nestjs/common';
import { PRIORITY_CONSUMERS, WorkflowMessageSchema, type WorkflowMessage } from '@roadmap/contracts';
import { JetStreamHandler, type JetStreamContext } from '@roadmap/messaging';
import { WorkflowService } from './workflow.service.js';

/** One consumer per priority, each with its own slots (see PRIORITY_SHARE). */
@Injectable()
export class WorkflowHandler {
  constructor(@Inject(WorkflowService) private readonly workflow: WorkflowService) {}

  @JetStreamHandler({ consumer: PRIORITY_CONSUMERS.workflow.high, schema: WorkflowMessageSchema })
  high(message: WorkflowMessage, ctx: JetStreamContext): Promise<void> {
    return this.workflow.run(message, ctx);
  }

  @JetStreamHandler({ consumer: PRIORITY_CONSUMERS.workflow.normal, schema: WorkflowMessageSchema })
  normal(message: WorkflowMessage, ctx: JetStreamContext): Promise<void> {
    return this.workflow.run(message, ctx);
  }

  @JetStreamHandler({ consumer: PRIORITY_CONSUMERS.workflow.low, schema: WorkflowMessageSchema })
  low(message: WorkflowMessage, ctx: JetStreamContext): Promise<void> {
    return this.workflow.run(message, ctx);
  }
}
