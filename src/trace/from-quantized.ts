/**
 * The trace of a quantized model: the op list buildTrace makes for the model's architecture, with
 * what the quantizer actually decided written into every GEMM — each operand's real width, its
 * quantizer kind (uniform, twin-uniform, threshold with its level count, noisy) and, when measured,
 * its operand statistics from the integer engine on calibration images — and the vector ops' real
 * widths in the integer datapath (16-bit residual stream into LayerNorm and the adds, the GELU input
 * requantized to 16 bits, softmax reading the score accumulator).
 *
 * A model with OFQ's query–key reparameterisation (attentionOf(q) 'qkr') traces to QKR blocks
 * (build.ts): attn.v and attn.qkr in place of attn.qkv, attn.qk over X̂ and U, norm1 feeding attn.v.
 */
import type { QuantizedViT, ActQuant, AttentionForm, QuantLinear, QuantMatmul } from '../quant/spec.js';
import { attentionOf, RESIDUAL_BITS } from '../quant/spec.js';
import { GELU_INPUT_BITS } from '../integer/compile.js';
import type { MeasuredStats } from '../integer/stats.js';
import { DEFAULT_ACC_BITS, uniformBits } from './bits.js';
import { buildTrace } from './build.js';
import type { GemmOp, Op, Quantizer } from './ops.js';
import type { Trace } from './trace.js';
import type { VitWorkload } from './workload.js';

export interface QuantizedTraceOptions {
  /** Model name written into the trace (e.g. the checkpoint's file name). */
  name: string;
  /** Where the model and the quantized model come from, for the trace's `source`. */
  source: string;
  batch?: number;
  accBits?: number;
  /** Operand statistics measured by the integer engine (src/integer/stats.ts). */
  stats?: MeasuredStats;
}

export function traceFromQuantized(q: QuantizedViT, options: QuantizedTraceOptions): Trace {
  const { config } = q;
  const accBits = options.accBits ?? DEFAULT_ACC_BITS;
  const attention = attentionOf(q);
  const workload: VitWorkload = {
    family: 'vit', name: options.name, description: `${options.name} quantized by ${q.method}`, source: options.source,
    imgSize: config.imgSize, patchSize: config.patchSize, inChans: config.inChans, embedDim: config.embedDim,
    depth: config.depth, numHeads: config.numHeads, mlpRatio: config.mlpRatio, numClasses: config.numClasses,
    batch: options.batch ?? 1, classToken: true, attention,
  };
  const base = buildTrace(workload, { bits: uniformBits(8, 8, accBits), ...(options.batch === undefined ? {} : { batch: options.batch }) });
  const ops: Op[] = base.ops.map((op) => (op.kind === 'gemm' ? gemmFromQuant(op, q, attention, accBits, options.stats) : op));
  const fed = new Map(ops.filter((op): op is GemmOp => op.kind === 'gemm').map((op) => [op.name, op.actBits]));
  const vector = ops.map((op): Op => {
    if (op.kind === 'gemm') return op;
    const block = /^(blocks\.\d+)\./.exec(op.name)?.[1];
    switch (op.kind) {
      case 'layernorm': {
        const consumer = op.name === 'norm' ? 'head' : op.name.endsWith('norm1') ? `${block}.attn.${attention === 'qkr' ? 'v' : 'qkv'}` : `${block}.mlp.fc1`;
        return { ...op, inBits: RESIDUAL_BITS, outBits: fed.get(consumer) ?? op.outBits };
      }
      case 'softmax':
        return { ...op, inBits: accBits, outBits: fed.get(`${block}.attn.pv`) ?? op.outBits };
      case 'gelu':
        return { ...op, inBits: GELU_INPUT_BITS, outBits: (q.ops.get(`${block}.mlp.fc2`) as QuantLinear).input.bits };
      default:
        return { ...op, inBits: RESIDUAL_BITS, outBits: RESIDUAL_BITS };
    }
  });
  return {
    ...base,
    source: `${options.source}; ${q.method} W${String(q.options.wbits ?? '?')}A${String(q.options.abits ?? '?')}, widths and quantizers from the quantized model${options.stats ? ', operand statistics measured by the integer engine' : ''}`,
    ops: vector,
  };
}

function gemmFromQuant(op: GemmOp, q: QuantizedViT, attention: AttentionForm, accBits: number, stats?: MeasuredStats): GemmOp {
  const quant = q.ops.get(op.name);
  if (!quant) throw new Error(`traceFromQuantized: the quantized model has no op ${op.name}`);
  const measured = stats?.get(op.name);
  const statsField = measured && (measured.a || measured.b) ? { stats: { ...(measured.a ? { a: measured.a } : {}), ...(measured.b ? { b: measured.b } : {}) } } : {};
  const aQuant = (a: ActQuant): Quantizer => (attention === 'qkr' && readsQkrInput(op.name) ? codesAlreadyMade(traceQuantizer(a)) : traceQuantizer(a));
  if (quant.kind === 'linear') {
    const linear = quant as QuantLinear;
    const { bQuant: _unused, ...rest } = op;
    return { ...rest, actBits: linear.input.bits, weightBits: linear.weight.bits, accBits, actQuant: aQuant(linear.input), ...statsField };
  }
  const matmul = quant as QuantMatmul;
  return {
    ...op, actBits: matmul.a.bits, weightBits: matmul.b.bits, accBits,
    actQuant: aQuant(matmul.a), bQuant: traceQuantizer(matmul.b), ...statsField,
  };
}

/**
 * In a QKR block one tensor, X̂, is the A of attn.v, attn.qkr and (once per head) attn.qk. The
 * simulator charges a GEMM's A quantizer unit on that GEMM, which is right when every A is a tensor of
 * its own; a noise adder or threshold unit makes X̂ once, so the trace charges it on attn.v, its first
 * reader, and the other two read the codes already made. A twin-uniform shifter sits at each reader
 * and stays.
 */
function readsQkrInput(name: string): boolean {
  return name.endsWith('.attn.qkr') || name.endsWith('.attn.qk');
}

function codesAlreadyMade(q: Quantizer): Quantizer {
  return q.kind === 'noisy' || q.kind === 'threshold' ? { kind: 'uniform' } : q;
}

/** The trace's quantizer kind for a spec quantizer (which unit produces the operand). */
export function traceQuantizer(q: ActQuant): Quantizer {
  switch (q.kind) {
    case 'twin-softmax':
    case 'twin-gelu':
      return { kind: 'twin-uniform' };
    case 'threshold':
      return { kind: 'threshold', levels: q.thresholds.length + 1 };
    case 'uniform':
      return q.addend?.kind === 'noise' ? { kind: 'noisy' } : { kind: 'uniform' };
  }
}
