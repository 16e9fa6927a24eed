import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** Who changed what, when and from where. `changed_fields` holds names only, never values (secrets). */
@Entity({ name: 'audit_log' })
export class AuditEntryEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint' }) id: string;
  @CreateDateColumn({ type: 'timestamptz' }) at: Date;
  @Column({ type: 'text' }) actor: string;
  /** api | terraform | import | cli | console */
  @Column({ type: 'text' }) origin: string;
  @Column({ name: 'remote_addr', type: 'text', nullable: true }) remote_addr: string | null;
  @Column({ type: 'text' }) action: string;
  @Column({ name: 'object_type', type: 'text' }) object_type: string;
  @Column({ name: 'object_id', type: 'uuid', nullable: true }) object_id: string | null;
  @Column({ name: 'object_name', type: 'text', nullable: true }) object_name: string | null;
  @Column({ name: 'changed_fields', type: 'jsonb', default: [] }) changed_fields: string[];
}
