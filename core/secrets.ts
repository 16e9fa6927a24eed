import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * AES-256-GCM for secret connector fields. The field name is bound as associated data so a
 * ciphertext copied into another field does not decrypt.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** Key from SLUICE_SECRET_KEY (64 hex chars or base64 of 32 bytes), else generated once into <home>/secret.key (0600). */
  static load(home: string, configured?: string): SecretBox {
    if (configured) return new SecretBox(parseKey(configured));
    const file = path.join(home, 'secret.key');
    if (!fs.existsSync(file)) {
      fs.mkdirSync(home, { recursive: true });
      // 'wx' so two processes starting together cannot overwrite each other's key.
      try {
        fs.writeFileSync(file, crypto.randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    return new SecretBox(parseKey(fs.readFileSync(file, 'utf8').trim()));
  }

  encrypt(plain: string, field: string): string {
    const iv = crypto.randomBytes(12);
    const c = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(field));
    const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return 'v1:' + Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
  }

  decrypt(stored: string, field: string): string {
    if (!stored.startsWith('v1:')) throw new Error(`secret ${field} has an unknown format`);
    const raw = Buffer.from(stored.slice(3), 'base64');
    const d = crypto.createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    d.setAAD(Buffer.from(field));
    d.setAuthTag(raw.subarray(12, 28));
    try {
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
    } catch {
      throw new Error(
        `secret ${field} cannot be decrypted: SLUICE_SECRET_KEY differs from the key it was written with`,
      );
    }
  }
}

function parseKey(text: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32)
    throw new Error('SLUICE_SECRET_KEY must be 32 bytes: 64 hex characters or base64 (e.g. `openssl rand -hex 32`)');
  return key;
}
