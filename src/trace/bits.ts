/**
 * Bit-widths per layer: one width for all layers (`--wbits/--abits`), refined by a map from layer
 * names or patterns to widths (`--bits map.json`). Mixed-precision methods (Liu et al. 2021) write
 * such a map; the trace then carries each op's own widths.
 *
 * A map file is an object whose keys are layer names or patterns (`*` matches any run of
 * characters, dots included) and whose values set some of w, a, acc, quant, levels, bQuant:
 *
 *   { "*": { "w": 8, "a": 8 }, "blocks.*.mlp.fc2": { "a": 6 }, "head": { "w": 8, "a": 8 } }
 *
 * Every entry that matches a layer applies, in file order, so a later entry refines an earlier one.
 *
 * A pattern that matches no layer is refused. That includes `*.attn.qkv` on a workload with QKR
 * attention, whose blocks have attn.v and attn.qkr instead: the two carry different weights (W_v and
 * the per-head W_qk,h), so which of them a qkv width was meant for is the user's call, not ours. The
 * refusal says so and names the QKR layers (and the other way round for attn.v/attn.qkr patterns on
 * standard attention).
 */
import { describe as describeValue, fieldError, UserError } from '../config/errors.js';
import { readJsonFile } from '../config/schema.js';
import { MAX_BITS, QUANTIZER_KINDS, type Quantizer, type QuantizerKind } from './ops.js';

/** What one map entry may set; unset fields keep what earlier entries or the defaults gave. */
export interface BitsEntry {
  /** Weight width (B operand of a linear layer). */
  w?: number;
  /** Activation width: A of a GEMM (both operands of Q·Kᵀ and P·V), the input of a vector op. */
  a?: number;
  /** Accumulator width. */
  acc?: number;
  /** Quantizer of A. */
  quant?: QuantizerKind;
  /** Threshold quantizer levels; 2^a when unset. */
  levels?: number;
  /** Quantizer of B when B is an activation (Q·Kᵀ, P·V). */
  bQuant?: QuantizerKind;
}

/** The widths and quantizers one layer ends up with. */
export interface LayerBits {
  w: number;
  a: number;
  acc: number;
  quant: Quantizer;
  bQuant: Quantizer;
}

export interface BitConfig {
  defaults: { w: number; a: number; acc: number };
  /** Pattern entries in file order. */
  layers: { pattern: string; entry: BitsEntry }[];
  /** Where the map came from, for messages. */
  file?: string;
}

/** The accumulator width when none is given: a 32-bit accumulator holds any 8×8-bit dot product up to 2^16 terms. */
export const DEFAULT_ACC_BITS = 32;

/** A config that gives every layer the same widths. */
export function uniformBits(w: number, a: number, acc = DEFAULT_ACC_BITS): BitConfig {
  for (const [flag, value] of [['--wbits', w], ['--abits', a], ['--acc-bits', acc]] as const) {
    if (!isBits(value)) throw new UserError(`${flag} must be an integer from 1 to ${MAX_BITS}, got ${String(value)}`);
  }
  return { defaults: { w, a, acc }, layers: [] };
}

/** Reads a per-layer map file on top of the given defaults. */
export function loadBitsMap(file: string, defaults: BitConfig['defaults']): BitConfig {
  return { ...parseBitsMap(readJsonFile(file), file), defaults };
}

/** Validates a parsed per-layer map; `file` is used only in messages. */
export function parseBitsMap(data: unknown, file: string): Omit<BitConfig, 'defaults'> {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw fieldError(file, '(top level)', 'an object from layer names or patterns to bit-widths', data);
  const layers: BitConfig['layers'] = [];
  for (const [pattern, value] of Object.entries(data as Record<string, unknown>)) {
    if (pattern === '$schema') continue;
    const where = JSON.stringify(pattern);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw fieldError(file, where, 'an object such as {"w": 8, "a": 8}', value);
    const entry: BitsEntry = {};
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      switch (key) {
        case 'w':
        case 'a':
        case 'acc':
          entry[key] = checkBits(v, file, `${where}.${key}`);
          break;
        case 'levels':
          if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 2) throw fieldError(file, `${where}.levels`, 'an integer of at least 2', v);
          entry.levels = v;
          break;
        case 'quant':
        case 'bQuant':
          if (typeof v !== 'string' || !(QUANTIZER_KINDS as readonly string[]).includes(v)) {
            throw fieldError(file, `${where}.${key}`, `one of ${QUANTIZER_KINDS.map((k) => JSON.stringify(k)).join(', ')}`, v);
          }
          entry[key] = v as QuantizerKind;
          break;
        default:
          throw new UserError(`${file}: ${where}.${key} is not a known field (w, a, acc, quant, levels, bQuant), got ${describeValue(v)}`);
      }
    }
    layers.push({ pattern, entry });
  }
  return { layers, file };
}

/** The widths of layer `name`: defaults, then every matching entry in order. */
export function bitsFor(config: BitConfig, name: string): LayerBits {
  const merged: BitsEntry = { ...config.defaults };
  for (const { pattern, entry } of config.layers) if (matches(pattern, name)) Object.assign(merged, entry);
  const a = merged.a ?? config.defaults.a;
  const levels = merged.levels ?? 2 ** a;
  if (merged.quant === 'threshold' && levels > 2 ** a) {
    throw new UserError(`${config.file ?? 'bits'}: ${name} asks for ${levels} threshold levels, more than its ${a}-bit activations hold (${2 ** a})`);
  }
  return {
    w: merged.w ?? config.defaults.w,
    a,
    acc: merged.acc ?? config.defaults.acc,
    quant: quantizer(merged.quant ?? 'uniform', levels),
    bQuant: quantizer(merged.bQuant ?? 'uniform', 2 ** a),
  };
}

/** For a trace's provenance: `W8A8, 32-bit accumulators, per-layer map bits.json`. */
export function describeBits(config: BitConfig): string {
  const { w, a, acc } = config.defaults;
  const map = config.layers.length > 0 ? `, per-layer map ${config.file ?? `of ${config.layers.length} entries`}` : '';
  return `W${w}A${a}, ${acc}-bit accumulators${map}`;
}

/** Refuses map patterns that name no layer: almost always a typo that would silently keep the default. */
export function checkPatternsUsed(config: BitConfig, names: string[], model: string): void {
  for (const { pattern } of config.layers) {
    if (!names.some((name) => matches(pattern, name))) {
      const what = `${config.file ?? 'bits'}: ${JSON.stringify(pattern)} matches no layer of ${model}`;
      throw new UserError(`${what} (${attentionFormHint(pattern, names) ?? `layers look like ${names.slice(0, 3).join(', ')}, …`})`);
    }
  }
}

/** Why a pattern written for the other attention form (qkv vs QKR's v and qkr) matches nothing, or undefined. */
function attentionFormHint(pattern: string, names: string[]): string | undefined {
  const qkr = names.filter((name) => name.endsWith('.attn.qkr'));
  if (qkr.length > 0) {
    if (!qkr.some((name) => matches(pattern, name.replace(/qkr$/, 'qkv')))) return undefined;
    return `its attention is QKR: its blocks have attn.v and attn.qkr instead of attn.qkv; give widths for those`;
  }
  const qkv = names.filter((name) => name.endsWith('.attn.qkv'));
  if (!qkv.some((name) => matches(pattern, name.replace(/qkv$/, 'v')) || matches(pattern, name.replace(/qkv$/, 'qkr')))) return undefined;
  return `attn.v and attn.qkr exist only with QKR attention (workload field attention "qkr" or --attention qkr); this one has attn.qkv`;
}

/** `*` matches any run of characters; everything else is literal; the whole name must match. */
export function matches(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  const source = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${source}$`).test(name);
}

function quantizer(kind: QuantizerKind, levels: number): Quantizer {
  return kind === 'threshold' ? { kind, levels } : { kind };
}

function checkBits(value: unknown, file: string, field: string): number {
  if (!isBits(value)) throw fieldError(file, field, `an integer from 1 to ${MAX_BITS}`, value);
  return value;
}

function isBits(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_BITS;
}
