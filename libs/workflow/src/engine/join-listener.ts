import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Subjects, type Priority, type WorkflowMessage } from '@roadmap/contracts';
import { JetStreamPublisher } from '@roadmap/messaging';
import { counter, type Logger } from '@roadmap/observability';
import { sql } from '@roadmap/persistence';
import { LOGGER } from '@roadmap/runtime';
import { DataSource, type QueryRunner } from 'typeorm';

const joins = counter('roadmap_workflow_joins_total', 'Join commands sent for parents whose last child ended, by outcome', ['outcome']);

/** The channel the lifecycle's join trigger notifies on, once per child that ends. */
export const JOIN_CHANNEL = 'roadmap_task_joined';

/**
 * Follows children ending: the lifecycle's trigger NOTIFYs at commit for each (and writes the
 * parent's `child.ended` event to the outbox in the child's transaction), every workflow worker
 * LISTENs, and after the last child each sends the parent a `join` command whose message id is the parent's run (so all
 * replicas together send one). A notice missed while no worker listened is covered by the
 * reaper, which re-drives a running parent that made no progress.
 */
@Injectable()
export class JoinListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private runner?: QueryRunner;
  private stopped = false;
  private retry?: NodeJS.Timeout;

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(JetStreamPublisher) private readonly publisher: JetStreamPublisher,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** The schema this deployment's tables live in: notices from others sharing the database are not ours. */
  private get schema(): string {
    return (this.dataSource.options as { schema?: string }).schema ?? 'public';
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.listen();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.runner?.release().catch(() => undefined);
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const runner = this.dataSource.createQueryRunner();
    try {
      const client = (await runner.connect()) as { on(event: string, listener: (...args: any[]) => void): void };
      client.on('notification', (n: { channel: string; payload?: string }) => {
        if (n.channel === JOIN_CHANNEL && n.payload) void this.onJoined(n.payload);
      });
      client.on('error', (error: Error) => this.reconnect(runner, error));
      await runner.query(`LISTEN ${JOIN_CHANNEL}`);
      this.runner = runner;
    } catch (error) {
      this.reconnect(runner, error as Error);
    }
  }

  private reconnect(runner: QueryRunner, error: Error): void {
    if (this.stopped || this.retry) return;
    this.logger.warn({ err: error }, 'join listener lost its connection; listening again in 2 s');
    void runner.release().catch(() => undefined);
    this.runner = undefined;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.listen();
    }, 2_000);
  }

  private async onJoined(payload: string): Promise<void> {
    // `<schema>:<parent>:<child>:<status>:<done>:<failed>:<total>:<parent status>` (the join trigger).
    const [schema, taskId, childId, , done, failed, total, parentStatus] = payload.split(':');
    if (schema !== this.schema || !taskId || !childId) return; // another deployment sharing the database
    // The parent's `child.ended` event is the trigger's own outbox row: here only the join is sent.
    const progress = { done: Number(done), failed: Number(failed), total: Number(total) };
    if (parentStatus !== 'running' || progress.total === 0 || progress.done + progress.failed < progress.total) return;
    try {
      const { rows } = await sql<{ type: string; priority: Priority; attempts: number; status: string }>(
        this.dataSource,
        `SELECT type, priority, attempts, status FROM tasks WHERE id = $1`,
        [taskId],
      );
      const parent = rows[0];
      if (parent?.status !== 'running') return joins.inc({ outcome: 'not_running' });
      const message: WorkflowMessage = { taskId, type: parent.type, command: 'join' };
      await this.publisher.publish(Subjects.workflow(parent.priority, 'join'), message, { msgId: `workflow-join:${taskId}:${parent.attempts}` });
      joins.inc({ outcome: 'sent' });
    } catch (error) {
      joins.inc({ outcome: 'error' });
      this.logger.warn({ err: error, taskId }, 'join command not sent; the reaper re-drives the parent');
    }
  }
}
