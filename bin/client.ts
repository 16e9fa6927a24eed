import fs from 'node:fs';
import path from 'node:path';
import { sluiceHome } from '../core/config';

/** The CLI's view of the API: endpoint and token from SLUICE_ENDPOINT / SLUICE_TOKEN or the local defaults. */
export class ApiClient {
  readonly endpoint: string;
  private readonly token: string;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.endpoint = (
      env.SLUICE_ENDPOINT ?? `http://${env.SLUICE_API_HOST ?? '127.0.0.1'}:${env.SLUICE_API_PORT ?? 8080}`
    ).replace(/\/$/, '');
    const tokenFile = path.join(sluiceHome(env), 'token');
    const token =
      env.SLUICE_TOKEN ??
      env.SLUICE_BOOTSTRAP_TOKEN ??
      (fs.existsSync(tokenFile) ? fs.readFileSync(tokenFile, 'utf8').trim() : undefined);
    if (!token)
      throw new CliError(`No API token: set SLUICE_TOKEN, or run \`sluice dev\` first so ${tokenFile} exists.`);
    this.token = token;
  }

  async request<T = any>(
    method: string,
    p: string,
    body?: unknown,
  ): Promise<{ status: number; body: T; text: string }> {
    let res: Response;
    try {
      res = await fetch(this.endpoint + p, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          'x-sluice-origin': 'cli',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new CliError(
        `Cannot reach the Sluice API at ${this.endpoint} (${(e as Error).cause ?? (e as Error).message}). ` +
          `Is it running? Start it with \`sluice dev\` or set SLUICE_ENDPOINT.`,
      );
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* text body (HCL export) */
    }
    if (res.status >= 400) {
      const p = parsed as { title?: string; detail?: string; errors?: { field: string; message: string }[] };
      const lines = [`${method} ${p?.title ?? 'error'} (${res.status}): ${p?.detail ?? text}`];
      for (const e of p?.errors ?? []) lines.push(`  - ${e.field}: ${e.message}`);
      throw new CliError(lines.join('\n'));
    }
    return { status: res.status, body: parsed as T, text };
  }
}

/** An error whose message is meant for the user as is (no stack trace). */
export class CliError extends Error {}
