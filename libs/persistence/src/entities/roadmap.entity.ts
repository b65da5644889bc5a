import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { Framework, IntentAnalysis, Preferences, ValidationIssue } from '@roadmap/contracts';

export const ROADMAP_STATUSES = ['designing', 'awaiting_review', 'generating', 'completed', 'failed', 'cancelled'] as const;
export type RoadmapStatus = (typeof ROADMAP_STATUSES)[number];

/** A learner's roadmap: the framework once designed, and counters of its content items. */
@Entity({ name: 'roadmaps' })
export class RoadmapEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('uuid', { name: 'task_id' }) taskId!: string;
  @Column('text') owner!: string;
  @Column('text') goal!: string;
  @Column('jsonb') preferences!: Preferences;
  @Column('text') status!: RoadmapStatus;
  @Column('jsonb', { nullable: true }) intent!: IntentAnalysis | null;
  @Column('jsonb', { nullable: true }) framework!: Framework | null;
  @Column('jsonb', { name: 'validation_issues', nullable: true }) validationIssues!: ValidationIssue[] | null;
  /** Latest framework revision (roadmap_revisions). */
  @Column('int', { name: 'current_revision', default: 0 }) currentRevision!: number;
  @Column('int', { name: 'items_total', default: 0 }) itemsTotal!: number;
  @Column('int', { name: 'items_done', default: 0 }) itemsDone!: number;
  @Column('int', { name: 'items_failed', default: 0 }) itemsFailed!: number;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
  @Column('timestamptz', { name: 'completed_at', nullable: true }) completedAt!: Date | null;
}
