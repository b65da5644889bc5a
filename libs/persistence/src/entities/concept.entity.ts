import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One concept of a roadmap's framework, with its place in a stage. */
@Entity({ name: 'concepts' })
export class ConceptEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('uuid', { name: 'roadmap_id' }) roadmapId!: string;
  /** The concept's id within the framework (a slug chosen by the curriculum step). */
  @Column('text') slug!: string;
  @Column('text', { name: 'stage_slug' }) stageSlug!: string;
  @Column('text', { name: 'stage_title' }) stageTitle!: string;
  @Column('int', { name: 'stage_index' }) stageIndex!: number;
  @Column('int') position!: number;
  @Column('text') title!: string;
  @Column('text') summary!: string;
  @Column('real', { name: 'estimated_hours' }) estimatedHours!: number;
  @Column('jsonb') prerequisites!: string[];
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
}
