import { Inject, Injectable } from '@nestjs/common';
import { CONSUMERS, WorkflowGenerateMessageSchema, type WorkflowGenerateMessage } from '@roadmap/contracts';
import { JetStreamHandler, type JetStreamContext } from '@roadmap/messaging';
import { WorkflowService } from './workflow.service.js';

@Injectable()
export class WorkflowHandler {
  constructor(@Inject(WorkflowService) private readonly workflow: WorkflowService) {}

  @JetStreamHandler({ consumer: CONSUMERS.workflowWorker, schema: WorkflowGenerateMessageSchema })
  handle(message: WorkflowGenerateMessage, ctx: JetStreamContext): Promise<void> {
    return this.workflow.run(message, { signal: ctx.signal, isLastDelivery: ctx.isLastDelivery });
  }
}
