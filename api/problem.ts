import type { FieldError } from './validation';

/** An RFC 9457 problem; thrown anywhere in a handler and rendered as application/problem+json. */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors?: FieldError[],
    readonly extra?: Record<string, unknown>,
  ) {
    super(detail);
  }

  get type(): string {
    return `https://sluice.dev/problems/${this.title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  }

  body(): Record<string, unknown> {
    return {
      type: this.type,
      title: this.title,
      status: this.status,
      detail: this.detail,
      ...(this.errors ? { errors: this.errors } : {}),
      ...this.extra,
    };
  }
}

export const invalid = (errors: FieldError[], detail?: string) =>
  new Problem(
    400,
    'Validation failed',
    detail ?? `${errors.length} field(s) invalid: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
    errors,
  );
export const notFound = (what: string, id: string) => new Problem(404, 'Not found', `No ${what} with id ${id}.`);
/** A well-formed request that conflicts with what is stored (references to nothing, a kind that cannot change). */
export const conflict = (errors: FieldError[], detail?: string) =>
  new Problem(
    409,
    'Conflict',
    detail ??
      `${errors.length} field(s) conflict with what is stored: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
    errors,
  );
