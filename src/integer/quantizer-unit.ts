/**
 * The unit that turns a stage's pre-quant integers into the next GEMM's operand codes — the end of
 * every stage of the integer datapath. Which unit it is follows the quantizer kind (spec.ts):
 *
 *   uniform       noise/pre-bias adder → dyadic requantizer (multiply, add half, shift) → clamp
 *   threshold     noise/pre-bias adder → comparator bank + popcount (threshold-unit.ts)
 *   twin-softmax  split comparator → one of two exact dyadics → flag + magnitude (twin.ts)
 *   twin-gelu     noise adder → sign selects one of two dyadics → signed code (twin.ts)
 *
 * Input z at real scale S[t, c] (per channel when the producer had per-channel weights or LayerNorm's
 * γ, per token when the producer's own input had per-token scales); outputs at the quantizer's own
 * scale. Tables are [tokens × channels] with tokens 1 unless something is per token.
 *
 * What the GEMM multiplies is the operand, not always the code: for a matmul the code minus its
 * integer zero point (the array has no bias there), for a linear layer the code itself (the zero
 * point, even a non-integer one such as a threshold quantizer's offset/step, is in the bias); for
 * twin kinds the magnitude, split by flag into two operand arrays (`main` = small step or negative
 * range, `high` = large step or positive range).
 */
import type { ActQuant, ThresholdQuant } from '../quant/spec.js';
import { noiseAdderTable } from './noise-adder.js';
import { dyadic, dyadicOf, dyadicTable, requantize, requantizeAt, requantizeExactAt, type Dyadic, type DyadicTable } from './requant.js';
import { thresholdCode, thresholdUnit, type ThresholdUnit } from './threshold-unit.js';
import { OUT_FRACTION_BITS } from './ivit.js';
import { softmaxSplit } from './twin.js';

/** requant.ts's float-shortcut margin (kept in step with it). */
const MARGIN = 2 ** -20;

interface UnitCommon {
  /** 1, or the token period of the rows (row r is token r % tokens). */
  tokens: number;
  channels: number;
  /** Pre-quant integer adders [tokens × channels] (noise, pre-bias, LayerNorm's β), when any. */
  add?: Float64Array;
}

export type QuantizerUnit =
  | (UnitCommon & { kind: 'uniform'; table: DyadicTable; zeroPoint: number; lo: number; hi: number; operandOffset: number })
  | (UnitCommon & {
      kind: 'threshold'; units: ThresholdUnit[]; operandOffset: number;
      /** Real scale of the input at (token, channel), [tokens × channels]: what observers dequantize with. */
      inScale: Float64Array;
      /** The quantizer the comparator bank was compiled from. */
      source: ThresholdQuant;
    })
  | (UnitCommon & { kind: 'twin-softmax'; split: number; small: Dyadic; large: Dyadic; top: number })
  | (UnitCommon & { kind: 'twin-gelu'; sign: number; neg: DyadicTable; pos: DyadicTable; half: number });

/** What one GEMM operand is in real units: x̂ = step[t]·(operand − zeroPoint) (twin: step of `main`). */
export interface OperandMeaning {
  /** [tokens] step of the operand (1 entry when per tensor). */
  step: Float64Array;
  /** Real zero point subtracted from the operand (0 after a matmul's integer offset is removed). */
  zeroPoint: number;
  /** log2 of the `high` operand's step over `main`'s, for twin operands. */
  twinShift?: number;
}

/** The real scale of the unit's input at (token t, channel c). */
export type InputScale = (t: number, c: number) => number;

export interface UnitShape {
  channels: number;
  /** Token period of the input scale (1 when it does not depend on the token). */
  inTokens: number;
  /** 'matmul' operands have their integer zero point removed; 'linear' ones keep it (in the bias). */
  role: 'linear' | 'matmul';
  /** Real per-channel values added before the quantizer besides its addend (LayerNorm's β). */
  extra?: Float64Array;
}

export function compileUnit(q: ActQuant, scale: InputScale, shape: UnitShape, where: string): { unit: QuantizerUnit; meaning: OperandMeaning } {
  const { channels, role } = shape;
  const outTokens = q.kind === 'uniform' ? q.scale.length : 1;
  const tokens = Math.max(shape.inTokens, outTokens);
  if (role === 'matmul' && outTokens > 1) throw new Error(`${where}: per-token scales on a matmul operand are not modelled by the integer engine`);
  const n = tokens * channels;
  const inScale = new Float64Array(n);
  for (let t = 0; t < tokens; t++) for (let c = 0; c < channels; c++) inScale[t * channels + c] = scale(t % shape.inTokens, c);
  const add = addTable(q, inScale, tokens, channels, shape.extra);
  const common: UnitCommon = { tokens, channels, ...(add ? { add } : {}) };
  switch (q.kind) {
    case 'uniform': {
      const { lo, hi } = q.signed ? { lo: -(2 ** (q.bits - 1)), hi: 2 ** (q.bits - 1) - 1 } : { lo: 0, hi: 2 ** q.bits - 1 };
      const ds: Dyadic[] = [];
      for (let i = 0; i < n; i++) ds.push(dyadic(inScale[i] / q.scale[Math.floor(i / channels) % outTokens]));
      const operandOffset = role === 'matmul' ? q.zeroPoint : 0;
      return {
        unit: { ...common, kind: 'uniform', table: dyadicTable(ds), zeroPoint: q.zeroPoint, lo, hi, operandOffset },
        meaning: { step: Float64Array.from(q.scale), zeroPoint: role === 'matmul' ? 0 : q.zeroPoint },
      };
    }
    case 'threshold': {
      const zp = -q.offset / q.step;
      if (role === 'matmul' && !Number.isInteger(zp)) {
        throw new Error(`${where}: a threshold quantizer on a matmul operand needs offset/step to be an integer, got ${zp}`);
      }
      const units = Array.from(inScale, (s) => thresholdUnit(q.thresholds, s));
      return {
        unit: { ...common, kind: 'threshold', units, operandOffset: role === 'matmul' ? zp : 0, inScale, source: q },
        meaning: { step: Float64Array.of(q.step), zeroPoint: role === 'matmul' ? 0 : zp },
      };
    }
    case 'twin-softmax': {
      // Input: probabilities at scale 2^−15. Small step 2^−i/top, large 1/top: exact dyadic ratios.
      const top = 2 ** (q.bits - 1) - 1;
      return {
        unit: { ...common, kind: 'twin-softmax', split: softmaxSplit(q), small: dyadicOf(top, OUT_FRACTION_BITS - q.splitExponent), large: dyadicOf(top, OUT_FRACTION_BITS), top },
        meaning: { step: Float64Array.of(2 ** -q.splitExponent / top), zeroPoint: 0, twinShift: q.splitExponent },
      };
    }
    case 'twin-gelu': {
      const sign = Math.sign(inScale[0]);
      if (!inScale.every((s) => Math.sign(s) === sign)) throw new Error(`${where}: twin-gelu input scales must share one sign`);
      return {
        unit: {
          ...common, kind: 'twin-gelu', sign,
          neg: dyadicTable(Array.from(inScale, (s) => dyadic(s / q.negScale))),
          pos: dyadicTable(Array.from(inScale, (s) => dyadic(s / (q.negScale * 2 ** q.posShift)))),
          half: 2 ** (q.bits - 1),
        },
        meaning: { step: Float64Array.of(q.negScale), zeroPoint: 0, twinShift: q.posShift },
      };
    }
  }
}

/** Per-operand measurements while quantizing: zero operands and Σ|operand| over `count` values. */
export interface OperandTally {
  count: number;
  zeros: number;
  sumAbs: number;
}

/**
 * z [rows × channels] (pre-quant integers; row r starts at r·stride + offset) → operand codes
 * [rows × channels] into `main` (and `high` for twin kinds), tallied into `tally` when given.
 * Row r is token r % period.
 */
export function quantizeRows(
  unit: QuantizerUnit, z: Float64Array, rows: number, period: number,
  main: Int16Array, high: Int16Array | undefined, tally?: OperandTally, stride = unit.channels, offset = 0,
): void {
  // One loop per kind, each monomorphic: this runs on every activation of the model.
  switch (unit.kind) {
    case 'uniform':
      uniformRows(unit, z, rows, period, main, stride, offset);
      break;
    case 'threshold':
      thresholdRows(unit, z, rows, period, main, stride, offset);
      break;
    case 'twin-softmax':
      twinSoftmaxRows(unit, z, rows, main, high as Int16Array, stride, offset);
      break;
    case 'twin-gelu':
      twinGeluRows(unit, z, rows, period, main, high as Int16Array, stride, offset);
      break;
  }
  if (tally) tallyOperands(tally, main, high, rows * unit.channels);
}

type Unit<K extends QuantizerUnit['kind']> = Extract<QuantizerUnit, { kind: K }>;

function uniformRows(unit: Unit<'uniform'>, z: Float64Array, rows: number, period: number, main: Int16Array, stride: number, offset: number): void {
  const { channels: ch, add, table, zeroPoint, lo, hi, operandOffset } = unit;
  const { ratio } = table;
  for (let r = 0; r < rows; r++) {
    const base = unit.tokens === 1 ? 0 : ((r % period) % unit.tokens) * ch;
    const row = r * ch;
    const src = r * stride + offset;
    for (let c = 0; c < ch; c++) {
      const i = base + c;
      const v = add ? z[src + c] + add[i] : z[src + c];
      // requant.ts's float shortcut, inlined (the hottest loop of the engine); the exact split
      // product only near a rounding boundary or for huge values.
      const w = v * ratio[i] + 0.5;
      let code: number;
      const f = Math.floor(w);
      if (w < 2 ** 30 && w > -(2 ** 30) && w - f > MARGIN && w - f < 1 - MARGIN) code = f + zeroPoint;
      else code = requantizeExactAt(v, table, i) + zeroPoint;
      main[row + c] = (code < lo ? lo : code > hi ? hi : code) - operandOffset;
    }
  }
}

function thresholdRows(unit: Unit<'threshold'>, z: Float64Array, rows: number, period: number, main: Int16Array, stride: number, offset: number): void {
  const { channels: ch, add, units, operandOffset } = unit;
  for (let r = 0; r < rows; r++) {
    const base = unit.tokens === 1 ? 0 : ((r % period) % unit.tokens) * ch;
    const row = r * ch;
    const src = r * stride + offset;
    for (let c = 0; c < ch; c++) {
      const v = add ? z[src + c] + add[base + c] : z[src + c];
      main[row + c] = thresholdCode(v, units[base + c]) - operandOffset;
    }
  }
}

function twinSoftmaxRows(unit: Unit<'twin-softmax'>, z: Float64Array, rows: number, main: Int16Array, high: Int16Array, stride: number, offset: number): void {
  const { channels: ch, split, small, large, top } = unit;
  for (let r = 0; r < rows; r++) {
    const row = r * ch;
    const src = r * stride + offset;
    for (let c = 0; c < ch; c++) {
      const v = z[src + c];
      const isLarge = v > split;
      const m = requantize(v, isLarge ? large : small);
      const operand = m < 0 ? 0 : m > top ? top : m;
      main[row + c] = isLarge ? 0 : operand;
      high[row + c] = isLarge ? operand : 0;
    }
  }
}

function twinGeluRows(
  unit: Unit<'twin-gelu'>, z: Float64Array, rows: number, period: number, main: Int16Array, high: Int16Array, stride: number, offset: number,
): void {
  const { channels: ch, add, sign, neg, pos, half } = unit;
  for (let r = 0; r < rows; r++) {
    const base = unit.tokens === 1 ? 0 : ((r % period) % unit.tokens) * ch;
    const row = r * ch;
    const src = r * stride + offset;
    for (let c = 0; c < ch; c++) {
      const i = base + c;
      const v = add ? z[src + c] + add[i] : z[src + c];
      if (sign * v < 0) {
        const m = requantizeAt(v, neg, i);
        main[row + c] = m < -half ? -half : m > 0 ? 0 : m;
        high[row + c] = 0;
      } else {
        const m = requantizeAt(v, pos, i);
        main[row + c] = 0;
        high[row + c] = m < 0 ? 0 : m > half - 1 ? half - 1 : m;
      }
    }
  }
}

/** Zero operands and Σ|operand|; a twin element counts once, by whichever array carries it. */
function tallyOperands(tally: OperandTally, main: Int16Array, high: Int16Array | undefined, count: number): void {
  let zeros = 0;
  let sumAbs = 0;
  for (let i = 0; i < count; i++) {
    const v = high ? main[i] + high[i] : main[i];
    if (v === 0) zeros++;
    else sumAbs += v < 0 ? -v : v;
  }
  tally.count += count;
  tally.zeros += zeros;
  tally.sumAbs += sumAbs;
}

/** Whether the unit's operand comes in two arrays (twin kinds). */
export function isTwin(unit: QuantizerUnit): boolean {
  return unit.kind === 'twin-softmax' || unit.kind === 'twin-gelu';
}

function addTable(q: ActQuant, inScale: Float64Array, tokens: number, channels: number, extra?: Float64Array): Float64Array | undefined {
  if (tokens === 1) return noiseAdderTable(q, inScale, channels, extra);
  const out = new Float64Array(tokens * channels);
  let any = false;
  for (let t = 0; t < tokens; t++) {
    const row = noiseAdderTable(q, inScale.subarray(t * channels, (t + 1) * channels), channels, extra);
    if (row) {
      out.set(row, t * channels);
      any = true;
    }
  }
  return any ? out : undefined;
}

/**
 * What a threshold unit did to one batch of rows, for observers (integerForward's `onQuantize`):
 * the real value of element e is values[e]·scales[e], and codes[e] must equal the float quantizer's
 * count of `source.thresholds` strictly below it. Built only when someone observes.
 */
export interface ThresholdObservation {
  kind: 'threshold';
  rows: number;
  channels: number;
  /** Pre-quant integers as the lane compares them (z plus the unit's adder), [rows × channels]. */
  values: Float64Array;
  /** Real input scale of each value, [rows × channels]. */
  scales: Float64Array;
  /** The quantizer the unit was compiled from. */
  source: ThresholdQuant;
  /** Codes produced (operand plus the integer offset removed for a matmul), [rows × channels]. */
  codes: Int32Array;
}

/** The observation of quantizeRows(unit, z, rows, period, main, …, stride, offset) once it has run. */
export function observeThreshold(
  unit: Unit<'threshold'>, z: Float64Array, rows: number, period: number, main: Int16Array, stride = unit.channels, offset = 0,
): ThresholdObservation {
  const { channels: ch, add, inScale, operandOffset } = unit;
  const values = new Float64Array(rows * ch);
  const scales = new Float64Array(rows * ch);
  const codes = new Int32Array(rows * ch);
  for (let r = 0; r < rows; r++) {
    const base = unit.tokens === 1 ? 0 : ((r % period) % unit.tokens) * ch;
    for (let c = 0; c < ch; c++) {
      const e = r * ch + c;
      const src = r * stride + offset + c;
      values[e] = add ? z[src] + add[base + c] : z[src];
      scales[e] = inScale[base + c];
      codes[e] = main[e] + operandOffset;
    }
  }
  return { kind: 'threshold', rows, channels: ch, values, scales, source: unit.source, codes };
}
