/**
 * A Postgres source's position: an LSN (`16/B374D848`). The slot keeps it on the server (confirmed
 * flush LSN), so the control DB stores only which slot is established; the session orders commits
 * by the LSN's numeric value.
 */
export type Lsn = string;

export function lsnToBigInt(lsn: string | null | undefined): bigint {
  if (!lsn) return 0n;
  const [hi, lo] = lsn.split('/');
  return (BigInt('0x' + hi) << 32n) + BigInt('0x' + lo);
}

export function bigIntToLsn(n: bigint): string {
  return `${(n >> 32n).toString(16).toUpperCase()}/${(n & 0xffffffffn).toString(16).toUpperCase()}`;
}
