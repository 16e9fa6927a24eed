import 'reflect-metadata';
import { plainToInstance, Type } from 'class-transformer';
import {
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateBy,
  ValidateNested,
  ValidationError,
  validateSync,
} from 'class-validator';
import { FieldSpec } from '../core/spec';
import { UUID_RE as uuidPattern } from '../core/patterns';

export interface FieldError {
  field: string;
  message: string;
}

const unpairedSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * What is wrong with a text value that no field may hold, or undefined: NUL cannot be stored by
 * Postgres (text or jsonb), and an unpaired surrogate (JSON allows "\ud800") is not Unicode and
 * would silently become U+FFFD on the way to the database.
 */
export function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'must not contain NUL (U+0000) characters: remove them';
  if (unpairedSurrogate.test(s))
    return 'must be valid Unicode text: it contains an unpaired surrogate (a lone \\uD800-\\uDFFF escape)';
  return undefined;
}

/** Characters as JSON Schema counts them (code points), not UTF-16 units. */
const length = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

function textRule(key: string, f: FieldSpec, each: boolean): PropertyDecorator {
  return ValidateBy(
    {
      name: 'text',
      validator: {
        validate: (v: unknown) =>
          typeof v !== 'string' || (!textProblem(v) && (f.maxLength === undefined || length(v) <= f.maxLength)),
        defaultMessage: (a) => {
          const v = a?.value as unknown;
          const bad =
            each && Array.isArray(v)
              ? v.find((x) => typeof x === 'string' && (textProblem(x) || length(x) > (f.maxLength ?? Infinity)))
              : v;
          const problem = typeof bad === 'string' ? textProblem(bad) : undefined;
          return `${each ? `each item of ${key}` : key} ${problem ?? `must be at most ${f.maxLength} characters`}`;
        },
      },
    },
    { each },
  );
}

/**
 * Builds a class-validator class from field declarations. Decorators are plain functions, so
 * applying them to a generated class keeps validation derived from the declaration instead of a
 * hand-written DTO that could drift from it.
 */
function buildClass(fields: Record<string, FieldSpec>, name: string): new () => object {
  const cls = { [name]: class {} }[name];
  const proto = cls.prototype;
  for (const [key, f] of Object.entries(fields)) {
    const apply = (...ds: PropertyDecorator[]) => ds.forEach((d) => d(proto, key));
    // Required-ness is checked separately (it depends on create vs patch), so every field is optional here.
    apply(IsOptional());
    const each = { each: true };
    switch (f.type) {
      case 'string':
        apply(IsString({ message: `${key} must be a string` }), textRule(key, f, false));
        if (f.required) apply(IsNotEmpty({ message: `${key} must not be empty` }));
        break;
      case 'integer':
        apply(IsInt({ message: `${key} must be an integer` }));
        if (f.min !== undefined) apply(Min(f.min, { message: `${key} must be at least ${f.min}` }));
        if (f.max !== undefined) apply(Max(f.max, { message: `${key} must be at most ${f.max}` }));
        break;
      case 'boolean':
        apply(IsBoolean({ message: `${key} must be true or false` }));
        break;
      case 'list':
        apply(
          IsArray({ message: `${key} must be a list of strings` }),
          IsString({ ...each, message: `each item of ${key} must be a string` }),
          textRule(key, f, true),
        );
        if (f.references)
          apply(
            Matches(uuidPattern, {
              ...each,
              message: `each item of ${key} must be the id (uuid) of a ${f.references}`,
            }),
          );
        if (f.minItems !== undefined)
          apply(ArrayMinSize(f.minItems, { message: `${key} must list at least ${f.minItems} item(s)` }));
        if (f.uniqueItems) apply(ArrayUnique({ message: `${key} must not list an item twice` }));
        break;
      case 'map':
        apply(
          IsObject({ message: `${key} must be an object of string values` }),
          ValidateBy({
            name: 'stringMap',
            validator: {
              validate: (v: unknown) =>
                v !== null && typeof v === 'object' && !Array.isArray(v) && !mapProblem(f, v as object),
              defaultMessage: (a) =>
                `${key} ${mapProblem(f, a?.value as object) ?? 'must be an object whose values are strings'}`,
            },
          }),
        );
        break;
      case 'object': {
        const nested = buildClass(f.fields ?? {}, `${name}_${key}`);
        apply(
          IsObject({ message: `${key} must be an object` }),
          ValidateNested(),
          Type(() => nested) as PropertyDecorator,
        );
        break;
      }
    }
    if (f.enum) apply(IsIn(f.enum as string[], { message: `${key} must be one of: ${f.enum.join(', ')}` }));
    if (f.pattern)
      apply(
        Matches(f.pattern, {
          ...(f.type === 'list' ? each : {}),
          message: `${key} must be ${f.patternHint ?? `like ${f.pattern}`}`,
        }),
      );
    if (f.references && f.type === 'string')
      apply(Matches(uuidPattern, { message: `${key} must be the id (uuid) of a ${f.references}` }));
  }
  return cls;
}

function mapProblem(f: FieldSpec, v: object | null | undefined): string | undefined {
  if (!v || typeof v !== 'object') return undefined;
  for (const [k, x] of Object.entries(v)) {
    const key = JSON.stringify(k);
    if (!k.length || length(k) > (f.keyMaxLength ?? Infinity))
      return `keys must be 1-${f.keyMaxLength ?? '…'} characters; ${key} is not`;
    const kp = textProblem(k);
    if (kp) return `key ${key} ${kp}`;
    if (typeof x !== 'string') return `must be an object whose values are strings; ${key} is not`;
    const vp =
      textProblem(x) ??
      (length(x) > (f.maxLength ?? Infinity) ? `must be at most ${f.maxLength} characters` : undefined);
    if (vp) return `value of ${key} ${vp}`;
  }
  return undefined;
}

const classCache = new WeakMap<Record<string, FieldSpec>, new () => object>();

function flatten(errors: ValidationError[], prefix: string): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    const path = prefix ? `${prefix}.${e.property}` : e.property;
    for (const message of Object.values(e.constraints ?? {})) {
      out.push({
        field: path,
        message: message.startsWith('property ') ? `unknown field ${path}: remove it` : message,
      });
    }
    out.push(...flatten(e.children ?? [], path));
  }
  return out;
}

/**
 * Validates `value` against field declarations. `requireAll` is true for create/replace (required
 * fields must be present) and false for a patch. `present` lists fields that already have a value
 * (e.g. a stored secret), which satisfy required without being sent again.
 */
export function validateFields(
  fields: Record<string, FieldSpec>,
  value: unknown,
  prefix: string,
  name: string,
  opts: { requireAll: boolean; present?: Set<string> },
): FieldError[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return [{ field: prefix || '(body)', message: `${prefix || 'body'} must be a JSON object` }];
  }
  let cls = classCache.get(fields);
  if (!cls) {
    cls = buildClass(fields, name);
    classCache.set(fields, cls);
  }
  const instance = plainToInstance(cls, value);
  const errors = flatten(
    validateSync(instance, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false }),
    prefix,
  );
  if (opts.requireAll) {
    for (const [key, f] of Object.entries(fields)) {
      const v = (value as Record<string, unknown>)[key];
      if (f.required && (v === undefined || v === null) && !opts.present?.has(key)) {
        errors.push({ field: prefix ? `${prefix}.${key}` : key, message: `${key} is required: ${f.description}` });
      }
    }
  }
  return errors;
}

/** Fills unset fields (undefined or null) with declared defaults, recursing into objects. */
export function withDefaults(
  fields: Record<string, FieldSpec>,
  value: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(fields)) {
    const v = value[key];
    if (f.type === 'object') {
      const base = v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
      out[key] = withDefaults(f.fields ?? {}, base);
    } else if (v !== undefined && v !== null) {
      out[key] = v;
    } else if (f.default !== undefined) {
      out[key] = structuredClone(f.default);
    } else {
      out[key] = null;
    }
  }
  return out;
}
