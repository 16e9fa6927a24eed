import type { Request, Response } from 'express';
import { SecretBox } from '../../core/secrets';

/**
 * The console's session: the API token the user signed in with, encrypted (AES-256-GCM with the
 * control plane's secret key) into an HttpOnly, SameSite=Strict cookie without an expiry date, so
 * it lives for the browser session only; sign-out overwrites it with an expired one. The token is
 * checked by the API on every call, so a revoked token ends the session at the next request. Any
 * API process can read the cookie (they share the secret key): no server-side session store.
 */
export const COOKIE = 'sluice_console';
const PURPOSE = 'console-session';
const MAX_AGE_MS = 12 * 3600 * 1000;

function cookies(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

const attributes = (req: Request) => `Path=/console; HttpOnly; SameSite=Strict${req.secure ? '; Secure' : ''}`;

export function setSession(req: Request, res: Response, box: SecretBox, token: string): void {
  const value = box.encrypt(JSON.stringify({ t: token, iat: Date.now() }), PURPOSE);
  res.append('Set-Cookie', `${COOKIE}=${value}; ${attributes(req)}`);
}

export function clearSession(req: Request, res: Response): void {
  res.append('Set-Cookie', `${COOKIE}=; ${attributes(req)}; Max-Age=0`);
}

/** The signed-in token, or undefined (no cookie, tampered, older than 12 h, or another secret key). */
export function sessionToken(req: Request, box: SecretBox): string | undefined {
  const raw = cookies(req)[COOKIE];
  if (!raw) return undefined;
  try {
    const s = JSON.parse(box.decrypt(raw, PURPOSE)) as { t: string; iat: number };
    return typeof s.t === 'string' && Date.now() - s.iat < MAX_AGE_MS ? s.t : undefined;
  } catch {
    return undefined;
  }
}

/**
 * State-changing requests must come from a page of this console: the Origin header (browsers send
 * it on every POST) must be this server's own origin. With SameSite=Strict this stops cross-site
 * request forgery even from a sibling subdomain.
 */
export function sameOrigin(req: Request): boolean {
  const origin = req.headers.origin;
  return typeof origin === 'string' && origin === `${req.protocol}://${req.headers.host}`;
}
