import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { counter, ExecutionLogger, type Logger } from '@roadmap/observability';
import { sql } from '@roadmap/persistence';
import { LOGGER } from '@roadmap/runtime';
import { TaskLifecycle } from '../lifecycle/task-lifecycle.js';
import { WorkflowRegistry } from './registry.js';
import { WorkflowEngine } from './workflow-engine.js';

const deadlines = counter('roadmap_task_deadlines_total', 'Tasks that passed a deadline, by kind (soft: warned, hard: failed)', ['kind', 'type']);

/** How often the deadline sweep runs (ms). */
export const DEADLINE_SWEEP_OPTIONS = Symbol('DEADLINE_SWEEP_OPTIONS');

/**
 * A whole task's deadlines (per type; seed 000 gives a roadmap's content run 25 and 30 minutes). At
 * the soft one the task is warned once (execution log, metric); at the hard one it fails with
 * TASK_DEADLINE, its in-flight work is aborted (the cancel notice every worker listens to) and its
 * finished work (checkpoints, completed items) stays for a resume, which sets new deadlines. Every
 * workflow worker sweeps; the guarded writes make a second sweeper's pass a no-op.
 */
@Injectable()
export class DeadlineSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    @Inject(TaskLifecycle) private readonly lifecycle: TaskLifecycle,
    @Inject(WorkflowEngine) private readonly engine: WorkflowEngine,
    @Inject(WorkflowRegistry) private readonly registry: WorkflowRegistry,
    @Inject(ExecutionLogger) private readonly executionLog: ExecutionLogger,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(DEADLINE_SWEEP_OPTIONS) private readonly options: { intervalMs: number },
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running ??= this.sweep()
        .catch((error) => this.logger.warn({ err: error }, 'deadline sweep failed; next sweep retries'))
        .finally(() => (this.running = undefined));
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass: warn past soft deadlines, fail past hard ones. */
  async sweep(): Promise<void> {
    for (const task of await this.lifecycle.warnDeadlines(this.lifecycle.pool)) {
      deadlines.inc({ kind: 'soft', type: task.type });
      this.logger.warn({ taskId: task.id, step: task.current_step }, 'task passed its soft deadline');
      await this.executionLog.warn('the task passed its soft deadline; it fails at its hard deadline', { taskId: task.id, step: task.current_step });
    }
    const { rows } = await sql<{ id: string; type: string; current_step: string | null }>(
      this.lifecycle.pool,
      `SELECT id, type, current_step FROM tasks WHERE status IN ('queued', 'running') AND hard_deadline_at < now() ORDER BY hard_deadline_at LIMIT 100`,
    );
    for (const task of rows) {
      const error = { code: 'TASK_DEADLINE', message: `the task ran past its hard deadline (${this.registry.deadlinesOf(task.type)?.hardMs ?? '?'} ms); resume it to continue from its finished work` };
      // A type this worker does not run is left to a worker that does.
      // Its event and the cancel notice that aborts its work in flight commit with the failure.
      if (!this.registry.has(task.type) || !(await this.engine.failTask(task, error, { event: 'deadline', abort: true }))) continue;
      deadlines.inc({ kind: 'hard', type: task.type });
      await this.executionLog.error(`failed: ${error.message}`, { taskId: task.id, step: task.current_step, data: { code: error.code } });
    }
  }

}
