// The official client (@elastic/elasticsearch 8.15, the version of the server the tests run; the
// client speaks to any later 8.x) and how its errors are classified.
import { Client, errors } from '@elastic/elasticsearch';

export interface EsConfig {
  url: string;
  username?: string | null;
  password?: string | null;
  api_key?: string | null;
  ca_certificate?: string | null;
  table_name_format: string;
  ingestion_mode: 'upsert' | 'append';
  hard_delete: boolean;
  batch_size: number;
  number_of_shards: number;
  number_of_replicas: number;
  request_timeout_ms: number;
}

/** A client that never retries by itself: the sink owns retries (and knows about outages). */
export function openClient(cfg: EsConfig, connections = 4): Client {
  const auth = cfg.api_key
    ? { apiKey: cfg.api_key }
    : cfg.username
      ? { username: cfg.username, password: cfg.password ?? '' }
      : undefined;
  return new Client({
    node: cfg.url,
    auth,
    tls: cfg.ca_certificate ? { ca: cfg.ca_certificate } : undefined,
    maxRetries: 0,
    requestTimeout: cfg.request_timeout_ms ?? 30000,
    compression: false,
    enableMetaHeader: false,
    agent: { connections },
  });
}

/** Statuses of a whole request or a bulk item that mean "try again later", not "this document is wrong". */
export const TRANSIENT_STATUS = new Set([408, 429, 502, 503, 504]);

/** The cluster cannot take the request now (some bulk items were refused with 429/503): the whole batch is retried. */
export class ClusterBusyError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ClusterBusyError';
  }
}

export function isEsConnectionError(e: unknown): boolean {
  if (e instanceof ClusterBusyError) return true;
  if (
    e instanceof errors.ConnectionError ||
    e instanceof errors.TimeoutError ||
    e instanceof errors.NoLivingConnectionsError
  )
    return true;
  if (e instanceof errors.ResponseError) return TRANSIENT_STATUS.has(e.statusCode ?? 0);
  return false;
}

/** Elasticsearch's error type of a rejected document or request: `es_document_parsing_exception`, `es_http_400`. */
export function esErrorClass(e: unknown): string {
  const type =
    (e as { esType?: string })?.esType ??
    (e instanceof errors.ResponseError ? (e.body as { error?: { type?: string } })?.error?.type : undefined);
  if (type) return `es_${type}`;
  if (e instanceof errors.ResponseError) return `es_http_${e.statusCode}`;
  return (e as Error)?.name || 'Error';
}

/** A document Elasticsearch rejected in a bulk request, with its error type and reason. */
export class DocumentRejectedError extends Error {
  constructor(
    readonly esType: string,
    reason: string,
    index: string,
    id: string | undefined,
  ) {
    super(`Elasticsearch rejected document ${id ?? '(new)'} of index ${index}: ${esType}: ${reason}`);
    this.name = 'DocumentRejectedError';
  }
}
