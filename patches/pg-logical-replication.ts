import { PatchMismatchError } from './patch-mismatch-error';

/**
 * pg-logical-replication 2.5.0 decodes every text value with one shared TextDecoder, which strips a
 * leading U+FEFF as a byte order mark: a value starting with it would arrive without it. Buffer's
 * UTF-8 decoding keeps every character (and is faster); invalid bytes become U+FFFD either way. The
 * fix is a method of a shared prototype, so it holds whenever it is installed before decoding.
 */
export function install(): string[] {
  let BinaryReader: any;
  try {
    ({ BinaryReader } = require('pg-logical-replication/dist/output-plugins/pgoutput/binary-reader'));
  } catch {
    throw new PatchMismatchError(
      'pg-logical-replication',
      'module dist/output-plugins/pgoutput/binary-reader does not exist',
    );
  }
  if (typeof BinaryReader?.prototype?.decodeText !== 'function')
    throw new PatchMismatchError('pg-logical-replication', 'BinaryReader.prototype.decodeText is not a method');
  BinaryReader.prototype.decodeText = decodeText;
  return ['text decoding keeps a leading U+FEFF'];
}

export function decodeText(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
}
