/** Patterns the control plane, the CLI and the declarations share. */

/** A UUID, as ids are (any version; case-insensitive). */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An RFC 3339 date-time with seconds and a zone, as the API returns them. */
export const RFC3339_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

// IPv6 literals in the full and the compressed forms (no embedded IPv4, no zone): a bracketed host
// must hold a real address, or URL parsers downstream refuse the whole URL (Node's fetch, Python's
// urlsplit).
const H = '[0-9A-Fa-f]{1,4}';
const IPV6 = [
  `(${H}:){7}${H}`,
  `(${H}:){1,7}:`,
  `(${H}:){1,6}:${H}`,
  `(${H}:){1,5}(:${H}){1,2}`,
  `(${H}:){1,4}(:${H}){1,3}`,
  `(${H}:){1,3}(:${H}){1,4}`,
  `(${H}:){1,2}(:${H}){1,5}`,
  `${H}:(:${H}){1,6}`,
  `:((:${H}){1,7}|:)`,
].join('|');

/**
 * An http:// or https:// URL with a host name, an IPv4 address or a bracketed IPv6 address, an
 * optional port, no credentials (they go in the connector's secret fields), then a path, query or
 * fragment. Narrower than what a browser takes on purpose: what the API accepts, the data plane can
 * connect to.
 */
export const HTTP_URL_RE = new RegExp(`^https?://([A-Za-z0-9._-]+|\\[(${IPV6})\\])(:[0-9]{1,5})?([/?#]\\S*)?$`);

/**
 * A source table as `schema.table` (no dot, ASCII whitespace or NUL in either part). The whitespace
 * is spelled out: `\s` differs between JavaScript and the regex engines that read the OpenAPI
 * document (Python's takes \x1c-\x1f), and the API must refuse exactly what the document says.
 */
export const QUALIFIED_TABLE_RE = /^[^.\x00\x09-\x0d\x20]+\.[^.\x00\x09-\x0d\x20]+$/;
