/**
 * Reading arch/*.json design files: schema validation first (one line per mistake),
 * then unit strings to SI numbers. A bare name such as `tpu-v1` means the shipped preset.
 */
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { UserError } from '../config/errors.js';
import { readJsonFile, validateWithSchema } from '../config/schema.js';
import { parseQuantity } from '../config/units.js';
import type { Arch, Dataflow, DramType } from './arch.js';

/** The shipped presets and the schema live in the package's arch/ folder. */
export const ARCH_DIR = fileURLToPath(new URL('../../arch/', import.meta.url));
const SCHEMA_FILE = join(ARCH_DIR, 'arch.schema.json');

/** The arch file as written by people: quantities still strings with units. */
export interface ArchFile {
  name: string;
  description?: string;
  array: { rows: number; cols: number; dataflow: Dataflow };
  pe: { actBits: number; weightBits: number; accBits: number };
  sram: { ifmap: string; filter: string; ofmap: string };
  dram: { type: DramType; bandwidth: string };
  clock: string;
  technology: string;
}

/** Names of the presets shipped in arch/. */
export function archPresets(): string[] {
  return readdirSync(ARCH_DIR)
    .filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json'))
    .map((f) => f.replace(/\.json$/, ''))
    .sort();
}

/** Loads a design from a file path, or from a preset name (`tpu-v1`, `edge-16x16`, …). */
export function loadArch(fileOrPreset: string): Arch {
  const file = resolveArchPath(fileOrPreset);
  return parseArch(readJsonFile(file), file);
}

/** Validates an already-parsed arch object; `file` is used only in error messages. */
export function parseArch(data: unknown, file: string): Arch {
  const raw = validateWithSchema<ArchFile>(data, archSchema(), file);
  return {
    name: raw.name,
    description: raw.description ?? '',
    array: { ...raw.array },
    pe: { ...raw.pe },
    sram: {
      ifmapBytes: wholeBytes(parseQuantity(raw.sram.ifmap, 'bytes', file, 'sram.ifmap'), file, 'sram.ifmap', raw.sram.ifmap),
      filterBytes: wholeBytes(parseQuantity(raw.sram.filter, 'bytes', file, 'sram.filter'), file, 'sram.filter', raw.sram.filter),
      ofmapBytes: wholeBytes(parseQuantity(raw.sram.ofmap, 'bytes', file, 'sram.ofmap'), file, 'sram.ofmap', raw.sram.ofmap),
    },
    dram: { type: raw.dram.type, bandwidthBytesPerSecond: parseQuantity(raw.dram.bandwidth, 'bytesPerSecond', file, 'dram.bandwidth') },
    clockHz: parseQuantity(raw.clock, 'hertz', file, 'clock'),
    technologyNodeMetres: parseQuantity(raw.technology, 'metres', file, 'technology'),
  };
}

let schemaCache: object | undefined;
function archSchema(): object {
  schemaCache ??= readJsonFile(SCHEMA_FILE) as object;
  return schemaCache;
}

function resolveArchPath(fileOrPreset: string): string {
  if (existsSync(fileOrPreset) || /[/\\]|\.json$/.test(fileOrPreset)) return fileOrPreset;
  const preset = join(ARCH_DIR, `${fileOrPreset}.json`);
  if (existsSync(preset)) return preset;
  throw new UserError(`arch "${fileOrPreset}" is neither a file nor a preset (presets: ${archPresets().join(', ')})`);
}

function wholeBytes(bytes: number, file: string, field: string, text: string): number {
  if (!Number.isInteger(bytes)) throw new UserError(`${file}: ${field} must be a whole number of bytes, got "${text}"`);
  return bytes;
}
