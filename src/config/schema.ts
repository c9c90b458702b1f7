/**
 * JSON Schema validation for user files (arch, sweep, trace …), turning the first violation
 * into one line that names the file, the field path and what was expected.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { readFileSync } from 'node:fs';
import { describe, UserError } from './errors.js';

const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
const compiled = new Map<object, ValidateFunction>();

/** Validates `data` against `schema`; throws a one-line UserError about `file` on the first problem. */
export function validateWithSchema<T>(data: unknown, schema: object, file: string): T {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  if (validate(data)) return data as T;
  const error = validate.errors?.[0];
  throw new UserError(error ? formatSchemaError(file, data, error) : `${file}: does not match its schema`);
}

/** Reads and parses a JSON file, refusing unreadable files and bad JSON with one line. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${file}: cannot read file (${code === 'ENOENT' ? 'no such file' : code ?? 'unknown error'})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UserError(`${file}: is not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
}

/** `a/b/0` (JSON pointer) → `a.b[0]`, the way people write field paths. */
export function fieldPath(pointer: string, extra?: string): string {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  let path = '';
  for (const part of parts) path += /^\d+$/.test(part) ? `[${part}]` : path === '' ? part : `.${part}`;
  return path === '' ? '(top level)' : path;
}

function valueAt(data: unknown, pointer: string): unknown {
  let value = data;
  for (const part of pointer.split('/').slice(1)) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return value;
}

function formatSchemaError(file: string, data: unknown, error: ErrorObject): string {
  const got = valueAt(data, error.instancePath);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${file}: ${fieldPath(error.instancePath, String(params.missingProperty))} is required but missing`;
    case 'additionalProperties':
      return `${file}: ${fieldPath(error.instancePath, String(params.additionalProperty))} is not a known field`;
    case 'enum':
      return `${file}: ${fieldPath(error.instancePath)} must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${describe(got)}`;
    case 'type':
      return `${file}: ${fieldPath(error.instancePath)} must be ${article(String(params.type))}, got ${describe(got)}`;
    case 'minimum':
    case 'exclusiveMinimum':
    case 'maximum':
    case 'exclusiveMaximum':
      return `${file}: ${fieldPath(error.instancePath)} ${error.message ?? 'is out of range'}, got ${describe(got)}`;
    default:
      return `${file}: ${fieldPath(error.instancePath)} ${error.message ?? 'is invalid'}, got ${describe(got)}`;
  }
}

function article(type: string): string {
  const words = type.split(',').map((t) => (t === 'integer' ? 'an integer' : t === 'object' || t === 'array' ? `an ${t}` : `a ${t}`));
  return words.join(' or ');
}
