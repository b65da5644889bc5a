import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { Priority, ReviewMode, TaskStatus, TaskType } from '@roadmap/contracts';

/** Why a task or item failed: the stable error code and a message a person can act on. */
export interface StoredError {
  code: string;
  message: string;
}

/** A unit of accepted work, visible to its owner through the API. */
@Entity({ name: 'tasks' })
export class TaskEntity {
  @PrimaryColumn('uuid') id!: string;
  /** A task type's name (`roadmap.generate`, `roadmap.batch`, or one a plugin registers). */
  @Column('text') type!: TaskType;
  @Column('text') status!: TaskStatus;
  @Column('text') owner!: string;
  @Column('text') priority!: Priority;
  @Column('jsonb') input!: Record<string, unknown>;
  @Column('jsonb', { nullable: true }) result!: Record<string, unknown> | null;
  @Column('jsonb', { nullable: true }) error!: StoredError | null;
  @Column('text', { name: 'current_step', nullable: true }) currentStep!: string | null;
  @Column('int', { name: 'progress_done', default: 0 }) progressDone!: number;
  @Column('int', { name: 'progress_failed', default: 0 }) progressFailed!: number;
  @Column('int', { name: 'progress_total', default: 0 }) progressTotal!: number;
  @Column('int', { default: 0 }) attempts!: number;
  @Column('uuid', { name: 'roadmap_id', nullable: true }) roadmapId!: string | null;
  /** Workflow definition version the task runs with: a resumed task after a deploy is recognisable. */
  @Column('text', { name: 'workflow_version' }) workflowVersion!: string;
  /** The prompt versions the task's run started with. */
  @Column('text', { name: 'prompt_set', nullable: true }) promptSet!: string | null;
  @Column('text', { name: 'review_mode', default: 'skip' }) reviewMode!: ReviewMode;
  @Column('timestamptz', { name: 'cancelled_at', nullable: true }) cancelledAt!: Date | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
  @Column('timestamptz', { name: 'started_at', nullable: true }) startedAt!: Date | null;
  @Column('timestamptz', { name: 'finished_at', nullable: true }) finishedAt!: Date | null;
  /** The task that fanned this one out (a batch's roadmap), and its position among its siblings. */
  @Column('uuid', { name: 'parent_id', nullable: true }) parentId!: string | null;
  @Column('int', { name: 'child_index', nullable: true }) childIndex!: number | null;
  /** The whole task's deadlines (per type), set when it first starts. */
  @Column('timestamptz', { name: 'soft_deadline_at', nullable: true }) softDeadlineAt!: Date | null;
  @Column('timestamptz', { name: 'hard_deadline_at', nullable: true }) hardDeadlineAt!: Date | null;
  @Column('timestamptz', { name: 'deadline_warned_at', nullable: true }) deadlineWarnedAt!: Date | null;
}
