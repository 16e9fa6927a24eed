import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { Role } from '../../core/roles';

/** Bearer tokens are stored only as SHA-256 hashes; the clear token is shown once, at creation. */
@Entity({ name: 'api_tokens' })
export class ApiTokenEntity {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ type: 'text', unique: true }) name: string;
  @Column({ name: 'token_hash', type: 'text', unique: true }) token_hash: string;
  @Column({ type: 'text' }) role: Role;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) created_at: Date;
  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true }) expires_at: Date | null;
  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true }) last_used_at: Date | null;
}
