import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** Bearer tokens are stored only as SHA-256 hashes; the clear token is shown once, at creation. */
@Entity({ name: 'api_tokens' })
export class ApiTokenEntity {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ type: 'text' }) name: string;
  @Column({ name: 'token_hash', type: 'text', unique: true }) token_hash: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) created_at: Date;
  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true }) last_used_at: Date | null;
}
