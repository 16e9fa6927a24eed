import crypto from 'node:crypto';

/**
 * A self-signed ECDSA P-256 certificate for the plugin's TLS server, written as DER by hand
 * (Node has no certificate builder). go-plugin pins exactly this certificate: it is sent to
 * Terraform in the handshake line and used as the only trusted root, with ServerName localhost.
 */

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...content: Buffer[]) => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const seq = (...c: Buffer[]) => tlv(0x30, ...c);
const set = (...c: Buffer[]) => tlv(0x31, ...c);
const int = (b: Buffer) => tlv(0x02, b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
const oid = (s: string) => {
  const parts = s.split('.').map(Number);
  const out = [parts[0] * 40 + parts[1]];
  for (const p of parts.slice(2)) {
    const stack = [p & 0x7f];
    for (let v = p >> 7; v > 0; v >>= 7) stack.unshift((v & 0x7f) | 0x80);
    out.push(...stack);
  }
  return tlv(0x06, Buffer.from(out));
};
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer) => tlv(0x03, Buffer.from([0]), b);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const explicit = (n: number, b: Buffer) => tlv(0xa0 + n, b);

function time(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
}

export interface SelfSigned {
  keyPem: string;
  certPem: string;
  certDer: Buffer;
}

export function selfSignedCert(host = 'localhost'): SelfSigned {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ecdsaSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(set(seq(oid('2.5.4.10'), utf8('Sluice'))), set(seq(oid('2.5.4.3'), utf8(host))));
  const now = Date.now();
  const serial = crypto.randomBytes(16);
  serial[0] = (serial[0] & 0x3f) | 0x40; // positive and minimal (DER forbids a leading zero byte)
  const extensions = explicit(
    3,
    seq(
      // basicConstraints CA:TRUE (go-plugin uses the certificate as its own root)
      seq(oid('2.5.29.19'), bool(true), octets(seq(bool(true)))),
      // keyUsage: digitalSignature, keyEncipherment, keyCertSign
      seq(oid('2.5.29.15'), bool(true), octets(tlv(0x03, Buffer.from([2, 0xa4])))),
      // extKeyUsage: serverAuth, clientAuth
      seq(oid('2.5.29.37'), octets(seq(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2')))),
      // subjectAltName: DNS:localhost
      seq(oid('2.5.29.17'), octets(seq(tlv(0x82, Buffer.from(host, 'ascii'))))),
    ),
  );
  const tbs = seq(
    explicit(0, int(Buffer.from([2]))),
    int(serial),
    ecdsaSha256,
    name,
    seq(time(new Date(now - 60_000)), time(new Date(now + 30 * 86400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    extensions,
  );
  const signature = crypto.sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' });
  const certDer = seq(tbs, ecdsaSha256, bits(signature));
  const certPem = `-----BEGIN CERTIFICATE-----\n${certDer
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END CERTIFICATE-----\n`;
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, certPem, certDer };
}
