import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  Unique,
  UpdateDateColumn,
  VersionColumn,
} from 'typeorm';
import type { Category } from '../../connectors';

/** A source, destination or transform: one table, told apart by category; names are unique per category. */
@Entity({ name: 'connectors' })
@Unique('connectors_category_name_key', ['category', 'name'])
export class ConnectorEntity {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ type: 'text' }) category: Category;
  @Column({ type: 'text' }) kind: string;
  @Column({ type: 'text' }) name: string;
  /** Non-secret settings with defaults applied. */
  @Column({ type: 'jsonb' }) config: Record<string, unknown>;
  /** Secret settings, each AES-256-GCM encrypted (see api/secrets.ts). */
  @Column({ type: 'jsonb', default: {} }) secrets: Record<string, string>;
  @Column({ type: 'jsonb', default: {} }) tags: Record<string, string>;
  @VersionColumn() version: number;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) created_at: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updated_at: Date;
}
