import { Column, Entity, PrimaryColumn } from 'typeorm';

export type ApiKeyRole = 'admin' | 'user';

/** An API key of the gateway: its sha256 and a display prefix, never the key itself. */
@Entity({ name: 'api_keys' })
export class ApiKeyEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('text') prefix!: string;
  @Column('text') hash!: string;
  @Column('text') owner!: string;
  @Column('text') role!: ApiKeyRole;
  @Column('text', { nullable: true }) label!: string | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'revoked_at', nullable: true }) revokedAt!: Date | null;
  @Column('timestamptz', { name: 'last_used_at', nullable: true }) lastUsedAt!: Date | null;
}
