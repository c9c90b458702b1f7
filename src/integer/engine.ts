/**
 * Integer-only inference of a compiled QuantizedViT (compile.ts), exactly as the accelerator's
 * datapath computes it: every value between the pixels and the logits is an integer, every GEMM
 * goes through the accumulator (accumulator.ts → intGemm), every stage ends in a quantizer unit.
 * Images are independent, so the result of an image does not depend on the batch it came in or on
 * the thread that ran it. Only the logits leave the integer domain: accumulator · its real scale.
 */
import { im2col } from '../model/layers/patch-embed.js';
import { accumulate, OverflowCounter } from './accumulator.js';
import type { BlockProgram, IntegerProgram, LinearStage, QkrBlock, ResidualAdd, SoftmaxKernel, StandardBlock } from './compile.js';
import { iSoftmaxRow } from './ibert.js';
import { iLayerNormRow, shiftmaxRow } from './ivit.js';
import { isTwin, observeThreshold, quantizeRows, type OperandTally, type QuantizerUnit, type ThresholdObservation } from './quantizer-unit.js';
import { requantizeAt, requantizeSumAt } from './requant.js';
import { combineTwin } from './twin.js';

/** Measured statistics per op: its A operand and, for Q·Kᵀ and P·V, its B operand. */
export type OperandTallies = Map<string, { a: OperandTally; b?: OperandTally }>;

export interface IntegerForwardResult {
  /** [batch, numClasses] accumulator · scale of the head. */
  logits: Float32Array;
  /** Accumulator results that saturated (0 in a healthy model). */
  overflows: number;
  overflowsPerOp: Map<string, number>;
  /** When asked for: operand tallies of every GEMM. */
  stats?: OperandTallies;
}

/** Sees every threshold unit's pre-quant values and codes, per GEMM operand it feeds. */
export type QuantizeObserver = (op: string, operand: 'a' | 'b', event: ThresholdObservation) => void;

export interface IntegerForwardOptions {
  stats?: boolean;
  /**
   * Called after every threshold unit (N2UQ) has quantized an operand (P once per image and head),
   * for checks against the float quantizer. Absent, the datapath does no extra work.
   */
  onQuantize?: QuantizeObserver;
}

/** pixels [batch, C, H, W] raw in [0, 1] → logits of the integer datapath. */
export function integerForward(program: IntegerProgram, pixels: Float32Array, batch: number, options: IntegerForwardOptions = {}): IntegerForwardResult {
  const { config, tokens: t, patches: np, dim: d } = program;
  const imageSize = config.inChans * config.imgSize * config.imgSize;
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`integerForward: batch must be a positive integer, got ${batch}`);
  if (pixels.length !== batch * imageSize) throw new RangeError(`integerForward: pixels hold ${pixels.length} floats, expected ${batch}·${imageSize}`);
  const run = new Run(program, batch, options.stats === true, options.onQuantize);
  const m = batch * t;

  // Patch embedding → residual[0]; the class token's row is a compiled constant.
  const pixelCodes = run.pixelCodes(pixels);
  const embedded = run.linear(program.patchEmbed, pixelCodes, undefined, batch * np);
  const residual = scratch32('residual', m * d);
  for (let b = 0; b < batch; b++) {
    residual.set(program.clsRow, b * t * d);
    for (let p = 0; p < np; p++) {
      const src = (b * np + p) * d;
      const dst = (b * t + p + 1) * d;
      for (let c = 0; c < d; c++) residual[dst + c] = clamp16(requantizeAt(embedded[src + c], program.embedResidual, c));
    }
  }

  for (let i = 0; i < program.blocks.length; i++) run.block(program.blocks[i], `blocks.${i}.`, residual);

  // Final norm of the class tokens → head.
  const cls = scratch32('cls', batch * d);
  for (let b = 0; b < batch; b++) cls.set(residual.subarray(b * t * d, b * t * d + d), b * d);
  const headIn = run.layerNorm(program.norm, cls, batch, 1, 'head');
  const acc = run.linear(program.head, headIn.main, headIn.high, batch);
  const classes = program.head.outs;
  const logits = new Float32Array(batch * classes);
  for (let i = 0; i < batch * classes; i++) logits[i] = acc[i] * program.head.accScale[i % classes];
  return {
    logits,
    overflows: run.counter.total,
    overflowsPerOp: run.counter.perOp,
    ...(run.tallies ? { stats: run.tallies } : {}),
  };
}

/** One forward's state: the program, the batch, the overflow counter and the operand tallies. */
class Run {
  readonly counter = new OverflowCounter();
  readonly tallies?: OperandTallies;
  private readonly m: number;

  constructor(private readonly program: IntegerProgram, private readonly batch: number, stats: boolean, private readonly observer?: QuantizeObserver) {
    this.m = batch * program.tokens;
    if (stats) this.tallies = new Map();
  }

  /** The raw pixels as u8 codes, im2col'd into [B·Np, C·P·P]. */
  pixelCodes(pixels: Float32Array): Int16Array {
    const { config, pixel } = this.program;
    const { inChans: channels, imgSize: s, patchSize: p } = config;
    const images = scratch16('pixelImages', pixels.length);
    for (let i = 0; i < pixels.length; i++) {
      const code = Math.floor(pixels[i] / pixel.scale + 0.5) + pixel.zeroPoint;
      images[i] = code < pixel.lo ? pixel.lo : code > pixel.hi ? pixel.hi : code;
    }
    const codes = scratch16('pixels', pixels.length);
    im2col(images, codes, { batch: this.batch, channels, imgSize: s, patchSize: p });
    this.tally('patch_embed.proj', 'a', codes, codes.length);
    return codes;
  }

  block(blk: BlockProgram, prefix: string, residual: Int32Array): void {
    const { tokens: t } = this.program;
    const m = this.m;
    // Attention branch: every head's P·V accumulator in its columns of [m, D].
    const pvAcc = blk.kind === 'qkr' ? this.qkrAttention(blk, prefix, residual) : this.standardAttention(blk, prefix, residual);
    const projIn = this.quantize(blk.projInput, pvAcc, m, t, prefix + 'attn.proj');
    const proj = this.linear(blk.proj, projIn.main, projIn.high, m);
    this.residualAdd(blk.residual1, residual, proj);

    // MLP branch.
    const fc1In = this.layerNorm(blk.norm2, residual, m, t, prefix + 'mlp.fc1');
    const fc1 = this.linear(blk.fc1, fc1In.main, fc1In.high, m);
    const hidden = blk.fc1.outs;
    const g = scratch64('gelu', m * hidden);
    const table = blk.geluTable;
    for (let r = 0; r < m; r++) {
      const base = ((r % t) % blk.geluTokens) * hidden;
      const row = r * hidden;
      for (let c = 0; c < hidden; c++) g[row + c] = table[clamp16(requantizeAt(fc1[row + c], blk.geluInput, base + c)) + 32768];
    }
    const fc2In = this.quantize(blk.fc2.input, g, m, t, prefix + 'mlp.fc2');
    const fc2 = this.linear(blk.fc2, fc2In.main, fc2In.high, m);
    this.residualAdd(blk.residual2, residual, fc2);
  }

  /** LN1 → qkv → Q, K, V codes → per (image, head) Q·Kᵀ → softmax → P·V. */
  private standardAttention(blk: StandardBlock, prefix: string, residual: Int32Array): Float64Array {
    const { tokens: t, dim: d, heads, headDim: hd } = this.program;
    const m = this.m;
    const qkvIn = this.layerNorm(blk.norm1, residual, m, t, prefix + 'attn.qkv');
    const qkv = this.linear(blk.qkv, qkvIn.main, qkvIn.high, m);
    const qCodes = scratch16('q', m * d);
    const kCodes = scratch16('k', m * d);
    const vCodes = scratch16('v', m * d);
    quantizeRows(blk.q, qkv, m, t, qCodes, undefined, this.operandTally(prefix + 'attn.qk', 'a'), 3 * d, 0);
    quantizeRows(blk.k, qkv, m, t, kCodes, undefined, this.operandTally(prefix + 'attn.qk', 'b'), 3 * d, d);
    quantizeRows(blk.v, qkv, m, t, vCodes, undefined, this.operandTally(prefix + 'attn.pv', 'b'), 3 * d, 2 * d);
    if (this.observer) {
      this.observe(blk.q, qkv, m, t, qCodes, prefix + 'attn.qk', 'a', 3 * d, 0);
      this.observe(blk.k, qkv, m, t, kCodes, prefix + 'attn.qk', 'b', 3 * d, d);
      this.observe(blk.v, qkv, m, t, vCodes, prefix + 'attn.pv', 'b', 3 * d, 2 * d);
    }
    const qh = scratch16('qh', t * hd);
    const kh = scratch16('kh', t * hd);
    const vh = scratch16('vh', t * hd);
    const scores = scratch64('scores', t * t);
    const { pvAcc, attend } = this.headOutputs(blk, prefix, [blk.softmax]);
    for (let b = 0; b < this.batch; b++) {
      for (let h = 0; h < heads; h++) {
        gatherHead(qCodes, qh, b, h, t, d, hd);
        gatherHead(kCodes, kh, b, h, t, d, hd);
        gatherHead(vCodes, vh, b, h, t, d, hd);
        accumulate(qh, kh, scores, { m: t, k: hd, n: t, transB: true }, this.program.accumulator, this.counter, prefix + 'attn.qk');
        attend(b, h, scores, vh);
      }
    }
    return pvAcc;
  }

  /**
   * LN1 → X codes (one unit, read by attn.v, attn.qkr and the scores, and tallied for each) → V
   * codes and U codes [m, H·C] → per (image, head) X_b·U_b,hᵀ over all C channels → softmax with
   * each row's constants → P·V.
   */
  private qkrAttention(blk: QkrBlock, prefix: string, residual: Int32Array): Float64Array {
    const { tokens: t, dim: d, heads, headDim: hd } = this.program;
    const m = this.m;
    const x = this.layerNorm(blk.norm1, residual, m, t, prefix + 'attn.v').main;
    this.tally(prefix + 'attn.qkr', 'a', x, m * d);
    this.tally(prefix + 'attn.qk', 'a', x, m * d);
    const v = this.linear(blk.attnV, x, undefined, m);
    const vCodes = scratch16('v', m * d);
    quantizeRows(blk.v, v, m, t, vCodes, undefined, this.operandTally(prefix + 'attn.pv', 'b'));
    if (this.observer) this.observe(blk.v, v, m, t, vCodes, prefix + 'attn.pv', 'b');
    const width = heads * d;
    const u = this.linear(blk.qkr, x, undefined, m);
    const uCodes = scratch16('u', m * width);
    quantizeRows(blk.u, u, m, t, uCodes, undefined, this.operandTally(prefix + 'attn.qk', 'b'));
    const uh = scratch16('uh', t * d);
    const vh = scratch16('vh', t * hd);
    const scores = scratch64('scores', t * t);
    const { pvAcc, attend } = this.headOutputs(blk, prefix, blk.softmax);
    for (let b = 0; b < this.batch; b++) {
      const xb = x.subarray(b * t * d, (b + 1) * t * d);
      for (let h = 0; h < heads; h++) {
        gatherHead(uCodes, uh, b, h, t, width, d);
        gatherHead(vCodes, vh, b, h, t, d, hd);
        accumulate(xb, uh, scores, { m: t, k: d, n: t, transB: true }, this.program.accumulator, this.counter, prefix + 'attn.qk');
        attend(b, h, scores, vh);
      }
    }
    return pvAcc;
  }

  /**
   * What follows the scores of one (image, head): softmax (`softmax` holds one constants set, or
   * one per score row), the P unit, P·V (twin: two accumulators), written into head h's columns
   * of the returned [m, D] accumulator.
   */
  private headOutputs(
    blk: BlockProgram, prefix: string, softmax: readonly SoftmaxKernel[],
  ): { pvAcc: Float64Array; attend: (b: number, h: number, scores: Float64Array, vh: Int16Array) => void } {
    const { tokens: t, dim: d, headDim: hd, accumulator: acc } = this.program;
    const probs = scratch64('probs', t * t);
    const rowScratch = scratch64('row', t);
    const pMain = scratch16('pMain', t * t);
    const pHigh = isTwin(blk.p) ? scratch16('pHigh', t * t) : undefined;
    const out = scratch64('pvOut', t * hd);
    const outHigh = pHigh ? scratch64('pvOutHigh', t * hd) : undefined;
    const pvAcc = scratch64('pvAcc', this.m * d);
    const pTally = this.operandTally(prefix + 'attn.pv', 'a');
    const attend = (b: number, h: number, scores: Float64Array, vh: Int16Array): void => {
      softmaxRows(softmax, scores, probs, t, rowScratch);
      quantizeRows(blk.p, probs, t, 1, pMain, pHigh, pTally);
      if (this.observer) this.observe(blk.p, probs, t, 1, pMain, prefix + 'attn.pv', 'a');
      accumulate(pMain, vh, out, { m: t, k: t, n: hd }, acc, this.counter, prefix + 'attn.pv');
      if (pHigh && outHigh) {
        accumulate(pHigh, vh, outHigh, { m: t, k: t, n: hd }, acc, this.counter, prefix + 'attn.pv');
        combineTwin(out, outHigh, blk.pvShift as number, out, t * hd);
      }
      for (let r = 0; r < t; r++) {
        const dst = (b * t + r) * d + h * hd;
        for (let j = 0; j < hd; j++) pvAcc[dst + j] = out[r * hd + j];
      }
    };
    return { pvAcc, attend };
  }

  /** I-LayerNorm of rows of the (centred) residual stream, then the unit into `op`'s input operand. */
  layerNorm(unit: QuantizerUnit, x: Int32Array, rows: number, period: number, op: string): { main: Int16Array; high?: Int16Array } {
    const d = this.program.dim;
    const normed = scratch64('normed', rows * d);
    for (let r = 0; r < rows; r++) iLayerNormRow(x, r * d, d, normed);
    return this.quantize(unit, normed, rows, period, op);
  }

  quantize(unit: QuantizerUnit, z: Float64Array, rows: number, period: number, op: string): { main: Int16Array; high?: Int16Array } {
    const main = scratch16(`${op}.main`, rows * unit.channels);
    const high = isTwin(unit) ? scratch16(`${op}.high`, rows * unit.channels) : undefined;
    quantizeRows(unit, z, rows, period, main, high, this.operandTally(op, 'a'));
    if (this.observer) this.observe(unit, z, rows, period, main, op, 'a');
    return high ? { main, high } : { main };
  }

  /** [rows × outs] accumulator of a linear layer, twin operands combined after their two accumulators. */
  linear(stage: LinearStage, main: Int16Array, high: Int16Array | undefined, rows: number): Float64Array {
    const acc = this.program.accumulator;
    const shape = { m: rows, k: stage.ins, n: stage.outs, transB: true };
    const out = scratch64(`${stage.name}.acc`, rows * stage.outs);
    accumulate(main, stage.weight, out, shape, acc, this.counter, stage.name, stage.bias, stage.biasRows);
    if (high) {
      const large = scratch64(`${stage.name}.large`, rows * stage.outs);
      accumulate(high, stage.weight, large, shape, acc, this.counter, stage.name);
      combineTwin(out, large, stage.twinShift as number, out, rows * stage.outs);
    }
    return out;
  }

  /** residual ← clamp(round((residual·s_old + acc·S_acc) / s_new)), in place. */
  residualAdd(add: ResidualAdd, residual: Int32Array, acc: Float64Array): void {
    const { tokens: t, dim: d } = this.program;
    for (let r = 0; r < this.m; r++) {
      const base = ((r % t) % add.tokens) * d;
      const row = r * d;
      for (let c = 0; c < d; c++) {
        const v = requantizeSumAt(residual[row + c], add.stream, acc[row + c], add.branch, base + c);
        residual[row + c] = v < add.lo ? add.lo : v > add.hi ? add.hi : v;
      }
    }
  }

  /** Hands a threshold unit's work to the observer (other kinds are not observed). */
  private observe(unit: QuantizerUnit, z: Float64Array, rows: number, period: number, main: Int16Array, op: string, operand: 'a' | 'b', stride?: number, offset?: number): void {
    if (this.observer && unit.kind === 'threshold') this.observer(op, operand, observeThreshold(unit, z, rows, period, main, stride, offset));
  }

  operandTally(op: string, operand: 'a' | 'b'): OperandTally | undefined {
    if (!this.tallies) return undefined;
    let entry = this.tallies.get(op);
    if (!entry) {
      entry = { a: { count: 0, zeros: 0, sumAbs: 0 } };
      this.tallies.set(op, entry);
    }
    if (operand === 'a') return entry.a;
    entry.b ??= { count: 0, zeros: 0, sumAbs: 0 };
    return entry.b;
  }

  private tally(op: string, operand: 'a' | 'b', values: Int16Array, count: number): void {
    const tally = this.operandTally(op, operand);
    if (!tally) return;
    for (let i = 0; i < count; i++) {
      if (values[i] === 0) tally.zeros++;
      else tally.sumAbs += Math.abs(values[i]);
    }
    tally.count += count;
  }
}

/** Row r of the scores with kernels[r], or with kernels[0] for every row when only one is given. */
function softmaxRows(kernels: readonly SoftmaxKernel[], scores: Float64Array, probs: Float64Array, t: number, scratch: Float64Array): void {
  const perRow = kernels.length > 1;
  for (let r = 0; r < t; r++) {
    const kernel = kernels[perRow ? r : 0];
    if (kernel.set === 'ivit') shiftmaxRow(scores, r * t, t, probs, r * t, kernel.c, scratch);
    else iSoftmaxRow(scores, r * t, t, probs, r * t, kernel.c, scratch);
  }
}

/** Head h (columns h·hd…(h+1)·hd) of image b out of a [B·T, width] operand array into a contiguous [T, hd] one. */
function gatherHead(src: Int16Array, dst: Int16Array, b: number, h: number, t: number, width: number, hd: number): void {
  for (let r = 0; r < t; r++) {
    const from = (b * t + r) * width + h * hd;
    for (let j = 0; j < hd; j++) dst[r * hd + j] = src[from + j];
  }
}

function clamp16(v: number): number {
  return v < -32768 ? -32768 : v > 32767 ? 32767 : v;
}

/**
 * Buffers of one forward that no caller sees, reused from call to call while their sizes stay the
 * same (fresh ones cost a zero fill and garbage collection per batch). Every user writes each
 * element before reading it; module state is per thread, as workers are.
 */
const scratch = new Map<string, Int16Array | Int32Array | Float64Array>();

function scratch16(name: string, length: number): Int16Array {
  return reuse(name, length, Int16Array);
}

function scratch32(name: string, length: number): Int32Array {
  return reuse(name, length, Int32Array);
}

function scratch64(name: string, length: number): Float64Array {
  return reuse(name, length, Float64Array);
}

function reuse<A extends Int16Array | Int32Array | Float64Array>(name: string, length: number, make: new (n: number) => A): A {
  const key = `${make.name}:${name}`;
  let data = scratch.get(key) as A | undefined;
  if (data?.length !== length) {
    data = new make(length);
    scratch.set(key, data);
  }
  return data;
}
