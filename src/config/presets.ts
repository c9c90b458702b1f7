/**
 * Shipped JSON files that a user may name instead of giving a path (`--arch tpu-v1`, `--model deit-s`):
 * every `<name>.json` in a folder of the package except its schemas.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export function presetNames(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json'))
    .map((f) => f.replace(/\.json$/, ''))
    .sort();
}

/**
 * `fileOrName` itself when it is a file or looks like a path, else the shipped `<dir>/<name>.json`;
 * undefined when it is neither, so the caller can say what kind of thing was not found.
 */
export function resolvePreset(dir: string, fileOrName: string): string | undefined {
  if (existsSync(fileOrName) || /[/\\]|\.json$/.test(fileOrName)) return fileOrName;
  const shipped = join(dir, `${fileOrName}.json`);
  return existsSync(shipped) ? shipped : undefined;
}
