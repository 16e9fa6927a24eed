import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn, VersionColumn } from 'typeorm';

@Entity({ name: 'pipelines' })
export class PipelineEntity {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ type: 'text', unique: true }) name: string;
  @Column({ name: 'source_id', type: 'uuid' }) source_id: string;
  @Column({ name: 'destination_id', type: 'uuid' }) destination_id: string;
  /** Ordered; jsonb keeps the order and lets `@>` find pipelines using a transform. */
  @Column({ name: 'transform_ids', type: 'jsonb', default: [] }) transform_ids: string[];
  @Column({ type: 'jsonb', default: [] }) tables: string[];
  @Column({ name: 'ingestion_mode', type: 'text', nullable: true }) ingestion_mode: 'upsert' | 'append' | null;
  @Column({ name: 'snapshot_new_tables', type: 'boolean', default: true }) snapshot_new_tables: boolean;
  @Column({ name: 'schema_changes', type: 'text', default: 'propagate' }) schema_changes:
    | 'propagate'
    | 'ignore_new_columns'
    | 'fail';
  @Column({ type: 'jsonb' }) delivery: { max_retries: number; backoff_initial_ms: number; backoff_max_ms: number };
  @Column({ name: 'desired_state', type: 'text', default: 'running' }) desired_state: 'running' | 'paused';
  @Column({ type: 'jsonb', default: {} }) tags: Record<string, string>;
  @VersionColumn() version: number;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) created_at: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updated_at: Date;
}
