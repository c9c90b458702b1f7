/**
 * Reading arch/*.json design files: schema validation first (one line per mistake),
 * then unit strings to SI numbers. A bare name such as `tpu-v1` means the shipped preset.
 * Optional fields get the defaults below (the schema's descriptions state the same ones), and the
 * parsed design lists which fields were defaulted, so `vitsim arch` can show them: never a silent default.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { UserError } from '../config/errors.js';
import { readJsonFile, validateWithSchema } from '../config/schema.js';
import { presetNames, resolvePreset } from '../config/presets.js';
import { parseQuantity } from '../config/units.js';
import type { Accelerator, Activations, Dataflow, DramType, Overlap, PeKind, VectorWork } from './arch.js';

/** The shipped presets and the schema live in the package's arch/ folder. */
export const ARCH_DIR = fileURLToPath(new URL('../../arch/', import.meta.url));
const SCHEMA_FILE = join(ARCH_DIR, 'arch.schema.json');

/** The arch file as written by people: quantities still strings with units. */
export interface ArchFile {
  name: string;
  description?: string;
  array: { rows: number; cols: number; dataflow: Dataflow };
  pe: { actBits: number; weightBits: number; accBits: number; kind?: PeKind; brickBits?: number };
  sram: { ifmap: string; filter: string; ofmap: string };
  dram: { type: DramType; bandwidth: string };
  clock: string;
  technology: string;
  vector?: { lanes?: number; bits?: number; cyclesPerElement?: Partial<Record<VectorWork, number>> };
  threshold?: { lanes?: number; maxBits?: number; comparatorBits?: number };
  noise?: { lanes?: number; bits?: number; tableEntries?: number; entryBits?: number };
  twinUniform?: boolean;
  overlap?: Overlap;
  activations?: Activations;
  voltage?: string;
  zeroGating?: boolean;
}

/**
 * Cycles per element on one vector lane when the file gives none: the passes a pipelined lane makes
 * over the data (I-BERT-style integer kernels: LayerNorm sums x and x² then normalises; softmax finds
 * the max, exponentiates and sums, then normalises; GELU, adds, pooling and requantisation stream once).
 */
export const DEFAULT_CYCLES_PER_ELEMENT: Readonly<Record<VectorWork, number>> = {
  layernorm: 2,
  softmax: 3,
  gelu: 1,
  add: 1,
  avgpool: 1,
  requant: 1,
};

/** The defaults of the fixed-valued optional fields (the others follow from the array: see parseArch). */
export const ARCH_DEFAULTS = {
  peKind: 'fixed' as PeKind,
  brickBits: 2,
  thresholdLanes: 0,
  thresholdMaxBits: 4,
  noiseLanes: 0,
  noiseTableEntries: 4096,
  noiseEntryBits: 8,
  twinUniform: false,
  overlap: 'serial' as Overlap,
  activations: 'dram' as Activations,
  zeroGating: false,
};

/** Names of the presets shipped in arch/. */
export function archPresets(): string[] {
  return presetNames(ARCH_DIR);
}

/** Loads a design from a file path, or from a preset name (`tpu-v1`, `edge-16x16`, …). */
export function loadArch(fileOrPreset: string): Accelerator {
  const file = resolveArchPath(fileOrPreset);
  return parseArch(readJsonFile(file), file);
}

/** Validates an already-parsed arch object; `file` is used only in error messages. */
export function parseArch(data: unknown, file: string): Accelerator {
  const raw = validateWithSchema<ArchFile>(data, archSchema(), file);
  const defaulted: string[] = [];
  /** The file's value, or the default with its field path recorded. */
  const pick = <T>(value: T | undefined, fallback: T, field: string): T => {
    if (value !== undefined) return value;
    defaulted.push(field);
    return fallback;
  };
  const kind = pick(raw.pe.kind, ARCH_DEFAULTS.peKind, 'pe.kind');
  const brickBits = pick(raw.pe.brickBits, ARCH_DEFAULTS.brickBits, 'pe.brickBits');
  const pe = { actBits: raw.pe.actBits, weightBits: raw.pe.weightBits, accBits: raw.pe.accBits, kind, brickBits };
  if (kind === 'bitfusion') checkFusionUnit(pe, file);
  const cycles = raw.vector?.cyclesPerElement ?? {};
  const cyclesPerElement = { ...DEFAULT_CYCLES_PER_ELEMENT };
  for (const work of Object.keys(DEFAULT_CYCLES_PER_ELEMENT) as VectorWork[]) {
    cyclesPerElement[work] = pick(cycles[work], DEFAULT_CYCLES_PER_ELEMENT[work], `vector.cyclesPerElement.${work}`);
  }
  return {
    name: raw.name,
    description: raw.description ?? '',
    array: { ...raw.array },
    pe,
    sram: {
      ifmapBytes: wholeBytes(parseQuantity(raw.sram.ifmap, 'bytes', file, 'sram.ifmap'), file, 'sram.ifmap', raw.sram.ifmap),
      filterBytes: wholeBytes(parseQuantity(raw.sram.filter, 'bytes', file, 'sram.filter'), file, 'sram.filter', raw.sram.filter),
      ofmapBytes: wholeBytes(parseQuantity(raw.sram.ofmap, 'bytes', file, 'sram.ofmap'), file, 'sram.ofmap', raw.sram.ofmap),
    },
    dram: { type: raw.dram.type, bandwidthBytesPerSecond: parseQuantity(raw.dram.bandwidth, 'bytesPerSecond', file, 'dram.bandwidth') },
    clockHz: parseQuantity(raw.clock, 'hertz', file, 'clock'),
    technologyNodeMetres: parseQuantity(raw.technology, 'metres', file, 'technology'),
    // One lane per array column: results drain from the columns, one per column per cycle at most.
    vector: {
      lanes: pick(raw.vector?.lanes, raw.array.cols, 'vector.lanes'),
      bits: pick(raw.vector?.bits, raw.pe.accBits, 'vector.bits'),
      cyclesPerElement,
    },
    threshold: {
      lanes: pick(raw.threshold?.lanes, ARCH_DEFAULTS.thresholdLanes, 'threshold.lanes'),
      maxBits: pick(raw.threshold?.maxBits, ARCH_DEFAULTS.thresholdMaxBits, 'threshold.maxBits'),
      comparatorBits: pick(raw.threshold?.comparatorBits, raw.pe.accBits, 'threshold.comparatorBits'),
    },
    noise: {
      lanes: pick(raw.noise?.lanes, ARCH_DEFAULTS.noiseLanes, 'noise.lanes'),
      bits: pick(raw.noise?.bits, raw.pe.accBits, 'noise.bits'),
      tableEntries: pick(raw.noise?.tableEntries, ARCH_DEFAULTS.noiseTableEntries, 'noise.tableEntries'),
      entryBits: pick(raw.noise?.entryBits, ARCH_DEFAULTS.noiseEntryBits, 'noise.entryBits'),
    },
    twinUniform: pick(raw.twinUniform, ARCH_DEFAULTS.twinUniform, 'twinUniform'),
    overlap: pick(raw.overlap, ARCH_DEFAULTS.overlap, 'overlap'),
    activations: pick(raw.activations, ARCH_DEFAULTS.activations, 'activations'),
    volts: pick(raw.voltage === undefined ? undefined : parseQuantity(raw.voltage, 'volts', file, 'voltage'), undefined, 'voltage'),
    zeroGating: pick(raw.zeroGating, ARCH_DEFAULTS.zeroGating, 'zeroGating'),
    defaulted,
  };
}

/**
 * A fusion unit fuses bricks into square operands: both widest operands the same, a power-of-two
 * number of bricks wide (BitFusion's 2-bit bricks make 4, 8 or 16-bit units).
 */
function checkFusionUnit(pe: { actBits: number; weightBits: number; brickBits: number }, file: string): void {
  if (pe.actBits !== pe.weightBits) {
    throw new UserError(`${file}: pe.weightBits must equal pe.actBits (${pe.actBits}) for a bitfusion PE, got ${pe.weightBits}`);
  }
  const bricks = pe.actBits / pe.brickBits;
  if (!Number.isInteger(bricks) || bricks < 2 || (bricks & (bricks - 1)) !== 0) {
    throw new UserError(`${file}: pe.actBits must be a power-of-two multiple (2, 4, 8, …) of pe.brickBits (${pe.brickBits}) for a bitfusion PE, got ${pe.actBits}`);
  }
}

let schemaCache: object | undefined;
function archSchema(): object {
  schemaCache ??= readJsonFile(SCHEMA_FILE) as object;
  return schemaCache;
}

function resolveArchPath(fileOrPreset: string): string {
  const file = resolvePreset(ARCH_DIR, fileOrPreset);
  if (file !== undefined) return file;
  throw new UserError(`arch "${fileOrPreset}" is neither a file nor a preset (presets: ${archPresets().join(', ')})`);
}

function wholeBytes(bytes: number, file: string, field: string, text: string): number {
  if (!Number.isInteger(bytes)) throw new UserError(`${file}: ${field} must be a whole number of bytes, got "${text}"`);
  return bytes;
}
