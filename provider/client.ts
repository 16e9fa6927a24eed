import http from 'node:http';
import https from 'node:https';

/**
 * The provider's HTTP client for the Sluice API. Every call carries X-Sluice-Origin: terraform
 * (audit). Failures become ApiError with a message that says what to do; field errors keep the
 * API's field paths so they can be pointed at attributes.
 */

export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly summary: string,
    readonly detail: string,
    readonly errors: FieldError[] = [],
  ) {
    super(`${summary}: ${detail}`);
  }
}

export interface Response<T = any> {
  status: number;
  body: T;
}

export class ApiClient {
  private readonly agent: http.Agent;
  private readonly base: URL;

  constructor(
    readonly endpoint: string,
    private readonly token: string | undefined,
  ) {
    this.base = new URL(endpoint.endsWith('/') ? endpoint : endpoint + '/');
    this.agent =
      this.base.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, maxSockets: 16 })
        : new http.Agent({ keepAlive: true, maxSockets: 16 });
  }

  request<T = any>(method: string, path: string, body?: unknown): Promise<Response<T>> {
    const url = new URL(path.replace(/^\//, ''), this.base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = {
      accept: 'application/json',
      'x-sluice-origin': 'terraform',
      'user-agent': 'terraform-provider-sluice',
    };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent: this.agent, timeout: 60_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: any = undefined;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status < 400) {
            resolve({ status, body: parsed });
            return;
          }
          reject(this.toError(method, url, status, parsed, text));
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
      req.on('error', (e: NodeJS.ErrnoException) => {
        const why =
          e.code === 'ECONNREFUSED' ? 'connection refused' : e.code === 'ENOTFOUND' ? 'host not found' : e.message;
        reject(
          new ApiError(
            0,
            'Sluice API unreachable',
            `Could not reach the Sluice API at ${this.endpoint} (${why}) during ${method} ${url.pathname}. ` +
              ('Check that the API is running (`sluice api` or `sluice dev`) and that ' +
                "the provider's `endpoint` (or SLUICE_ENDPOINT) points at it. Nothing " +
                'was changed.'),
          ),
        );
      });
      if (payload) req.write(payload);
      req.end();
    });
  }

  private toError(method: string, url: URL, status: number, body: any, text: string): ApiError {
    const detail = typeof body?.detail === 'string' ? body.detail : text.slice(0, 500);
    const errors: FieldError[] = Array.isArray(body?.errors) ? body.errors : [];
    if (status === 401) {
      return new ApiError(
        status,
        'Sluice API rejected the token',
        `${method} ${url.pathname} answered 401: ${detail} Set the provider's \`token\` ` +
          `(or SLUICE_TOKEN) to a valid API token (sluice dev writes one to .sluice/token).`,
      );
    }
    if (status === 403)
      return new ApiError(status, 'Not allowed by the Sluice API', `${method} ${url.pathname} answered 403: ${detail}`);
    const title = typeof body?.title === 'string' ? body.title : `HTTP ${status}`;
    return new ApiError(
      status,
      `Sluice API: ${title}`,
      `${method} ${url.pathname} answered ${status}: ${detail}`,
      errors,
    );
  }

  close(): void {
    this.agent.destroy();
  }
}
