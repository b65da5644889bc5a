import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * The validated output of one completed workflow step. Steps can repeat (validation -> edit ->
 * validation), so a checkpoint is keyed by its sequence in the run, not by the step's name.
 */
@Entity({ name: 'workflow_checkpoints' })
export class WorkflowCheckpointEntity {
  @PrimaryColumn('uuid', { name: 'task_id' }) taskId!: string;
  @PrimaryColumn('int') sequence!: number;
  @Column('text') step!: string;
  @Column('jsonb') state!: Record<string, unknown>;
  @Column('text', { name: 'prompt_version', nullable: true }) promptVersion!: string | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
}
