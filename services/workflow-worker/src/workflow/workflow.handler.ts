import { Inject, Injectable } from '@nestjs/common';
import { PRIORITY_CONSUMERS, WorkflowMessageSchema, type WorkflowMessage } from '@roadmap/contracts';
import { JetStreamHandler, type JetStreamContext } from '@roadmap/messaging';
import { WorkflowEngine } from '@roadmap/workflow';

/** One consumer per priority, each with its own slots (see PRIORITY_SHARE); every task type runs on them. */
@Injectable()
export class WorkflowHandler {
  constructor(@Inject(WorkflowEngine) private readonly engine: WorkflowEngine) {}

  @JetStreamHandler({ consumer: PRIORITY_CONSUMERS.workflow.high, schema: WorkflowMessageSchema })
  high(message: WorkflowMessage, ctx: JetStreamContext): Promise<void> {
    return this.engine.run(message, ctx);
  }

  @JetStreamHandler({ consumer: PRIORITY_CONSUMERS.workflow.normal, schema: WorkflowMessageSchema })
  normal(message: WorkflowMessage, ctx: JetStreamContext): Promise<void> {
    return this.engine.run(message, ctx);
  }

  @JetStreamHandler({ consumer: PRIORITY_CONSUMERS.workflow.low, schema: WorkflowMessageSchema })
  low(message: WorkflowMessage, ctx: JetStreamContext): Promise<void> {
    return this.engine.run(message, ctx);
  }
}
