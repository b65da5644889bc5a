import { Column, Entity, PrimaryColumn } from 'typeorm';

/** How one provider attempt ended (LlmCallRecord['outcome']). */
export type LlmCallOutcome = 'ok' | 'cached' | 'repaired' | 'error' | 'cancelled';

/**
 * One LLM provider attempt (or cache hit) as recorded for accounting and debugging: the rendered
 * prompt and response (bounded in size), tokens, cost, latency and outcome. Written in batches by the
 * workers' call recorder, read by the gateway, pruned after LLM_CALLS_RETENTION_DAYS.
 */
@Entity({ name: 'llm_calls' })
export class LlmCallEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('uuid', { name: 'task_id', nullable: true }) taskId!: string | null;
  @Column('uuid', { name: 'roadmap_id', nullable: true }) roadmapId!: string | null;
  @Column('text', { nullable: true }) owner!: string | null;
  /** A workflow step (`curriculum_design`) or a content item (`<conceptId>:<kind>`). */
  @Column('text', { nullable: true }) subject!: string | null;
  @Column('text') provider!: string;
  @Column('text') model!: string;
  @Column('text', { name: 'prompt_version' }) promptVersion!: string;
  @Column('text', { name: 'prompt_system' }) promptSystem!: string;
  @Column('text', { name: 'prompt_user' }) promptUser!: string;
  @Column('text', { nullable: true }) response!: string | null;
  @Column('int', { name: 'input_tokens' }) inputTokens!: number;
  @Column('int', { name: 'output_tokens' }) outputTokens!: number;
  /** numeric: the driver returns a string; null when no price was configured for the model. */
  @Column('numeric', { name: 'cost_usd', nullable: true }) costUsd!: string | null;
  @Column('int', { name: 'latency_ms' }) latencyMs!: number;
  @Column('text') outcome!: LlmCallOutcome;
  @Column('text', { name: 'error_code', nullable: true }) errorCode!: string | null;
  @Column('text', { name: 'error_message', nullable: true }) errorMessage!: string | null;
  /** 1-based attempt within one generate() call. */
  @Column('int') attempt!: number;
  @Column('timestamptz', { name: 'started_at' }) startedAt!: Date;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
}
