import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { LogLevel } from '@roadmap/contracts';

/**
 * An execution-log entry, written only by the log sink. The key includes created_at so the table
 * can be partitioned by time (pruning = dropping a partition) while a redelivered entry stays unique.
 */
@Entity({ name: 'execution_logs' })
export class ExecutionLogEntity {
  @PrimaryColumn('uuid') id!: string;
  @PrimaryColumn('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('uuid', { name: 'task_id', nullable: true }) taskId!: string | null;
  @Column('text') service!: string;
  /** The process that wrote the entry (pod name or host:pid). */
  @Column('text') instance!: string;
  @Column('text') level!: LogLevel;
  @Column('text', { nullable: true }) step!: string | null;
  @Column('text') message!: string;
  @Column('jsonb', { nullable: true }) data!: Record<string, unknown> | null;
  @Column('timestamptz', { name: 'ingested_at' }) ingestedAt!: Date;
}
