/**
 * From a workload description and a bit configuration to the trace of one inference: every op the
 * accelerator runs, in execution order, with its shape and widths.
 *
 * What is and is not an op (so MAC and element counts can be checked against the papers):
 * - The patch embedding is a convolution with stride = kernel = patch, i.e. a GEMM over patches.
 * - The class-token concatenation and Swin's window partition, cyclic shift and patch-merging
 *   concatenation only move data: no op.
 * - timm folds the attention scale 1/√d into q; an integer datapath folds it into the requantizer
 *   of qkv's output: no op.
 * - Swin's relative position bias is one `add` on the scores (the shifted-window mask is
 *   precomputed into the same table), and adds no MACs.
 * - The final LayerNorm of a class-token ViT runs on the class token only: timm normalises every
 *   token and then keeps one, an accelerator need not.
 * - Requantizing a GEMM's output to the next op's width belongs to the GEMM (the `actQuant` of its
 *   consumer says which unit does it), not a separate op.
 * - A QKR block (OFQ, ../shared/QUANT-METHODS.md §6a, §6d; contract in src/quant/spec.ts) has no qkv:
 *   attn.v projects V alone, attn.qkr multiplies the LayerNorm output X̂ by the H per-head C×C
 *   weights W_qk,h stacked into one C × H·C GEMM (U = X̂·W_qkᵀ), and attn.qk is then X̂·U_hᵀ per head,
 *   T×C×T with a reduction over all C channels instead of the head dimension. The score path costs
 *   H·C²·T + H·T²·C MACs per image instead of 2·C²·T + T²·C. norm1 writes X̂ once at attn.v's width;
 *   attn.qkr and attn.qk read the same X̂. The simulator charges a GEMM's A quantizer unit (noise
 *   adder, threshold unit) on that GEMM, right when each A is a tensor of its own; X̂ is made once, so
 *   the quantizers vitsim places itself (dse/design.ts, from-quantized.ts) sit on attn.v only.
 */
import { UserError } from '../config/errors.js';
import { bitsFor, checkPatternsUsed, describeBits, type BitConfig } from './bits.js';
import type { GemmOp, Op, VectorKind, VectorOp } from './ops.js';
import { TRACE_FORMAT, TRACE_VERSION, type Trace } from './trace.js';
import { workloadAttention, type AttentionForm, type SwinWorkload, type VitWorkload, type Workload } from './workload.js';

/** The ops before bit-widths are given: shapes and names only. */
export type GemmShape = Pick<GemmOp, 'kind' | 'name' | 'm' | 'k' | 'n' | 'count' | 'bOperand'>;
/** `feeds` names the GEMM whose A operand this vector op writes, so it writes at that GEMM's width. */
export type VectorShape = Pick<VectorOp, 'kind' | 'name' | 'rows' | 'cols' | 'count'> & { feeds?: string };
export type OpShape = GemmShape | VectorShape;

export interface BuildOptions {
  bits: BitConfig;
  /** Images per inference; the description's own batch when unset. */
  batch?: number;
}

/** The trace of one inference of `workload` at the given widths. */
export function buildTrace(workload: Workload, options: BuildOptions): Trace {
  const batch = options.batch ?? workload.batch;
  if (!Number.isSafeInteger(batch) || batch < 1) throw new UserError(`batch must be a positive integer, got ${batch}`);
  const shapes = opShapes(workload, batch);
  checkPatternsUsed(options.bits, shapes.map((s) => s.name), workload.name);
  const ops: Op[] = shapes.map((shape) => (shape.kind === 'gemm' ? gemmOp(shape, options.bits) : vectorOp(shape, options.bits)));
  return {
    format: TRACE_FORMAT,
    version: TRACE_VERSION,
    model: workload.name,
    batch,
    source: `${workload.source}; widths: ${describeBits(options.bits)}`,
    ops,
  };
}

/** The ops of one inference, shapes only, in execution order. */
export function opShapes(workload: Workload, batch: number): OpShape[] {
  return workload.family === 'swin' ? swinShapes(workload, batch) : vitShapes(workload, batch);
}

/** A plain ViT (Dosovitskiy et al. 2021; DeiT has the same blocks): pre-norm blocks on all tokens. */
function vitShapes(w: VitWorkload, batch: number): OpShape[] {
  const side = w.imgSize / w.patchSize;
  const patches = side * side;
  const tokens = patches + (w.classToken ? 1 : 0);
  const d = w.embedDim;
  const ops: OpShape[] = [
    gemm('patch_embed.proj', batch * patches, w.inChans * w.patchSize * w.patchSize, d),
    vector('add', 'pos_embed', batch * tokens, d),
  ];
  const attention = workloadAttention(w);
  for (let i = 0; i < w.depth; i++) ops.push(...blockShapes(`blocks.${i}`, batch * tokens, d, w.numHeads, Math.round(d * w.mlpRatio), tokens, batch, false, attention));
  if (w.classToken) {
    ops.push(vector('layernorm', 'norm', batch, d, 1, 'head'));
  } else {
    ops.push(vector('layernorm', 'norm', batch * tokens, d), vector('avgpool', 'avgpool', batch * d, tokens, 1, 'head'));
  }
  ops.push(gemm('head', batch, d, w.numClasses));
  return ops;
}

/**
 * Swin (Liu et al. 2021): attention inside windows of windowSize² tokens, so the per-head products
 * are window-sized and there are (side / window)² windows per image; between stages a patch merging
 * concatenates 2×2 neighbours (4C channels, a quarter of the tokens), normalises and projects to 2C.
 */
function swinShapes(w: SwinWorkload, batch: number): OpShape[] {
  let side = w.imgSize / w.patchSize;
  let c = w.embedDim;
  const ops: OpShape[] = [
    gemm('patch_embed.proj', batch * side * side, w.inChans * w.patchSize * w.patchSize, c),
    vector('layernorm', 'patch_embed.norm', batch * side * side, c),
  ];
  for (let s = 0; s < w.depths.length; s++) {
    // A stage no larger than the window is one window (timm and the official code both do this).
    const window = Math.min(w.windowSize, side);
    const windows = (side / window) ** 2;
    const tokens = side * side;
    for (let j = 0; j < w.depths[s]; j++) {
      ops.push(...blockShapes(`layers.${s}.blocks.${j}`, batch * tokens, c, w.numHeads[s], Math.round(c * w.mlpRatio), window * window, batch * windows, true));
    }
    if (s < w.depths.length - 1) {
      const merged = batch * (side / 2) ** 2;
      ops.push(vector('layernorm', `layers.${s}.downsample.norm`, merged, 4 * c, 1, `layers.${s}.downsample.reduction`));
      ops.push(gemm(`layers.${s}.downsample.reduction`, merged, 4 * c, 2 * c));
      side /= 2;
      c *= 2;
    }
  }
  ops.push(vector('layernorm', 'norm', batch * side * side, c), vector('avgpool', 'avgpool', batch * c, side * side, 1, 'head'), gemm('head', batch, c, w.numClasses));
  return ops;
}

/**
 * One pre-norm transformer block on `rows` tokens of width d. Attention runs on `groups`
 * independent sets of `seq` tokens (images for a ViT, windows × images for Swin), one GEMM per head.
 */
function blockShapes(p: string, rows: number, d: number, heads: number, hidden: number, seq: number, groups: number, positionBias: boolean, attention: AttentionForm = 'standard'): OpShape[] {
  const headDim = d / heads;
  const perHead = heads * groups;
  const scores: OpShape[] =
    attention === 'qkr'
      ? [
          vector('layernorm', `${p}.norm1`, rows, d, 1, `${p}.attn.v`),
          gemm(`${p}.attn.v`, rows, d, d),
          gemm(`${p}.attn.qkr`, rows, d, heads * d),
          gemm(`${p}.attn.qk`, seq, d, seq, perHead, 'activation'),
        ]
      : [
          vector('layernorm', `${p}.norm1`, rows, d, 1, `${p}.attn.qkv`),
          gemm(`${p}.attn.qkv`, rows, d, 3 * d),
          gemm(`${p}.attn.qk`, seq, headDim, seq, perHead, 'activation'),
        ];
  return [
    ...scores,
    ...(positionBias ? [vector('add', `${p}.attn.rel_pos_bias`, seq, seq, perHead)] : []),
    vector('softmax', `${p}.attn.softmax`, seq, seq, perHead, `${p}.attn.pv`),
    gemm(`${p}.attn.pv`, seq, seq, headDim, perHead, 'activation'),
    gemm(`${p}.attn.proj`, rows, d, d),
    vector('add', `${p}.residual1`, rows, d),
    vector('layernorm', `${p}.norm2`, rows, d, 1, `${p}.mlp.fc1`),
    gemm(`${p}.mlp.fc1`, rows, d, hidden),
    vector('gelu', `${p}.mlp.act`, rows, hidden, 1, `${p}.mlp.fc2`),
    gemm(`${p}.mlp.fc2`, rows, hidden, d),
    vector('add', `${p}.residual2`, rows, d),
  ];
}

function gemmOp(shape: GemmShape, config: BitConfig): GemmOp {
  const bits = bitsFor(config, shape.name);
  const activationB = shape.bOperand === 'activation';
  return {
    ...shape,
    actBits: bits.a,
    // Q·Kᵀ and P·V multiply two activations, both at the layer's activation width.
    weightBits: activationB ? bits.a : bits.w,
    accBits: bits.acc,
    actQuant: bits.quant,
    ...(activationB ? { bQuant: bits.bQuant } : {}),
  };
}

/** A vector op reads at its own activation width and writes at the width of the GEMM it feeds. */
function vectorOp({ feeds, ...shape }: VectorShape, config: BitConfig): VectorOp {
  const a = bitsFor(config, shape.name).a;
  return { ...shape, inBits: a, outBits: feeds === undefined ? a : bitsFor(config, feeds).a };
}

function gemm(name: string, m: number, k: number, n: number, count = 1, bOperand: GemmShape['bOperand'] = 'weight'): GemmShape {
  return { kind: 'gemm', name, m, k, n, count, bOperand };
}

function vector(kind: VectorKind, name: string, rows: number, cols: number, count = 1, feeds?: string): VectorShape {
  return { kind, name, rows, cols, count, ...(feeds === undefined ? {} : { feeds }) };
}
