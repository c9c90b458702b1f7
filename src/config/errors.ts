/**
 * The one error type for user mistakes: a bad file, a bad flag, a bad value.
 * The CLI prints its message as a single line and exits with `exitCode`; anything else
 * that escapes is a bug and keeps its stack trace.
 */
export class UserError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}

/** `file: field must be …, got …` — the shape every user-facing complaint takes. */
export function fieldError(file: string, field: string, expected: string, got: unknown): UserError {
  return new UserError(`${file}: ${field} must be ${expected}, got ${describe(got)}`);
}

/** A short, single-line rendering of a bad value for an error message. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  const json = JSON.stringify(value);
  if (json === undefined) return String(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}
