import 'reflect-metadata';
import { plainToInstance, Type } from 'class-transformer';
import {
  IsArray, IsBoolean, IsIn, IsInt, IsNotEmpty, IsObject, IsOptional, IsString, Matches, Max, MaxLength, Min,
  ValidateBy, ValidateNested, ValidationError, validateSync,
} from 'class-validator';
import { FieldSpec } from '../core/spec';

export interface FieldError { field: string; message: string }

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
        apply(IsString({ message: `${key} must be a string` }));
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
        apply(IsArray({ message: `${key} must be a list of strings` }), IsString({ ...each, message: `each item of ${key} must be a string` }));
        if (f.references) apply(Matches(uuidPattern, { ...each, message: `each item of ${key} must be the id (uuid) of a ${f.references}` }));
        break;
      case 'map':
        apply(
          IsObject({ message: `${key} must be an object of string values` }),
          ValidateBy({
            name: 'stringMap',
            validator: {
              validate: (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v as object).every((x) => typeof x === 'string'),
              defaultMessage: () => `${key} must be an object whose values are strings`,
            },
          }),
        );
        break;
      case 'object': {
        const nested = buildClass(f.fields ?? {}, `${name}_${key}`);
        apply(IsObject({ message: `${key} must be an object` }), ValidateNested(), Type(() => nested) as PropertyDecorator);
        break;
      }
    }
    if (f.enum) apply(IsIn(f.enum as string[], { message: `${key} must be one of: ${f.enum.join(', ')}` }));
    if (f.maxLength !== undefined) apply(MaxLength(f.maxLength, { ...(f.type === 'list' ? each : {}), message: `${key} must be at most ${f.maxLength} characters` }));
    if (f.pattern) apply(Matches(f.pattern, { ...(f.type === 'list' ? each : {}), message: `${key} must be ${f.patternHint ?? `like ${f.pattern}`}` }));
    if (f.references && f.type === 'string') apply(Matches(uuidPattern, { message: `${key} must be the id (uuid) of a ${f.references}` }));
  }
  return cls;
}

const classCache = new WeakMap<Record<string, FieldSpec>, new () => object>();

function flatten(errors: ValidationError[], prefix: string): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    const path = prefix ? `${prefix}.${e.property}` : e.property;
    for (const message of Object.values(e.constraints ?? {})) {
      out.push({ field: path, message: message.startsWith('property ') ? `unknown field ${path}: remove it` : message });
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
  fields: Record<string, FieldSpec>, value: unknown, prefix: string, name: string,
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
  const errors = flatten(validateSync(instance, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false }), prefix);
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
export function withDefaults(fields: Record<string, FieldSpec>, value: Record<string, unknown>): Record<string, unknown> {
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
