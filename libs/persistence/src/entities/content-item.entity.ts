import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { ContentKind, ItemStatus } from '@roadmap/contracts';
import type { StoredError } from './task.entity.js';

/** One generated piece of content: unique per (roadmap, concept, kind). */
@Entity({ name: 'content_items' })
export class ContentItemEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('uuid', { name: 'roadmap_id' }) roadmapId!: string;
  @Column('uuid', { name: 'concept_id' }) conceptId!: string;
  @Column('text') kind!: ContentKind;
  @Column('text') status!: ItemStatus;
  @Column('jsonb', { nullable: true }) content!: Record<string, unknown> | null;
  @Column('jsonb', { nullable: true }) error!: StoredError | null;
  @Column('int', { default: 0 }) attempts!: number;
  /** Bumped by each regeneration; a message for an older generation is stale. */
  @Column('int', { default: 0 }) generation!: number;
  @Column('text', { nullable: true }) provider!: string | null;
  @Column('text', { nullable: true }) model!: string | null;
  @Column('text', { name: 'prompt_version', nullable: true }) promptVersion!: string | null;
  @Column('int', { name: 'input_tokens', nullable: true }) inputTokens!: number | null;
  @Column('int', { name: 'output_tokens', nullable: true }) outputTokens!: number | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
  @Column('timestamptz', { name: 'completed_at', nullable: true }) completedAt!: Date | null;
}
