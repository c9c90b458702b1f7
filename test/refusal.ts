import { UserError } from '../src/config/errors.js';

/** The one-line message of the UserError `fn` throws; any other error, or no error, fails the test. */
export function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof UserError) return err.message;
    throw err;
  }
  throw new Error('accepted, expected a refusal');
}
