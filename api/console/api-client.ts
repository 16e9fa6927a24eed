import type { Request } from 'express';

/** A /v1 answer as the console sees it: the status and the parsed JSON body (problem+json on errors). */
export interface ApiAnswer<T = any> {
  status: number;
  body: T;
}

/**
 * The console's only way to data: the public /v1 API of this very process, over loopback, with the
 * signed-in user's token. Authentication, authorization and audit are exactly the API's; the
 * audit log records origin `console` (X-Sluice-Origin) and the browser's address (X-Forwarded-For,
 * honoured from loopback only: app.ts trusts the loopback proxy).
 */
export class ConsoleApi {
  constructor(
    private readonly base: string,
    private readonly token: string,
    private readonly req: Request,
  ) {}

  async call<T = any>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>> {
    const res = await fetch(this.base + path, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        'x-sluice-origin': 'console',
        'x-forwarded-for': this.req.ip ?? '',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed as T };
  }

  /** GET that must succeed; anything else becomes an ApiFailure (rendered as a readable message). */
  async get<T = any>(path: string): Promise<T> {
    const r = await this.call<T>('GET', path);
    if (r.status !== 200) throw new ApiFailure(r.status, r.body as never, `GET ${path}`);
    return r.body;
  }
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly problem: { title?: string; detail?: string } | null,
    readonly what: string,
  ) {
    super(`${what}: ${status} ${problem?.detail ?? problem?.title ?? ''}`);
  }
}

/** A problem+json answer in words for the page. */
export function explain(status: number, problem: { title?: string; detail?: string } | null): string {
  const detail = problem?.detail ?? problem?.title ?? 'no detail';
  if (status === 403) return `Your token is not allowed to do this (403): ${detail}`;
  if (status === 401) return `Your session has ended (401): ${detail} Sign in again.`;
  return `The API answered ${status}: ${detail}`;
}
