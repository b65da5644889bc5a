import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { Framework } from '@roadmap/contracts';

export type RevisionSource = 'design' | 'validation' | 'review';

/** Every version of a roadmap's framework: designed, repaired after validation, or revised on review. */
@Entity({ name: 'roadmap_revisions' })
export class RoadmapRevisionEntity {
  @PrimaryColumn('uuid', { name: 'roadmap_id' }) roadmapId!: string;
  @PrimaryColumn('int') revision!: number;
  @Column('jsonb') framework!: Framework;
  @Column('text') source!: RevisionSource;
  @Column('text', { nullable: true }) feedback!: string | null;
  @Column('text', { name: 'requested_by', nullable: true }) requestedBy!: string | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
}
