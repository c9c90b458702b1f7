/**
 * A quantized ViT as every later stage sees it: the float model's config and its unquantized
 * parameters (LayerNorms, tokens, biases), plus one quantizer decision per operand of every matrix
 * product. Post-training methods and QAT both produce this value; the fake-quant engine, the
 * bit-exact integer engine, the quantized-model file and the trace all consume it.
 *
 * Operands are named after the trace's GEMM ops (src/trace/ops.ts):
 *   patch_embed.proj, blocks.N.attn.qkv, blocks.N.attn.qk (Q·Kᵀ), blocks.N.attn.pv (P·V),
 *   blocks.N.attn.proj, blocks.N.mlp.fc1, blocks.N.mlp.fc2, head.
 * A linear layer has an input quantizer (A operand) and a weight quantizer (B operand); an attention
 * product has two activation quantizers: qk quantizes Q (a) and K (b), pv quantizes P (a) and V (b).
 *
 * OFQ's query–key reparameterisation (QKR, ../shared/QUANT-METHODS.md §6a, §6d) changes a block's
 * attention ops, also at inference: q and k are not computed; per head W_qk,h = W_q,hᵀ·W_k,h (C×C) is
 * a weight of its own, and the scores are S_h = X̂·Qa(W_qk,h·X̂ᵀ)·d^−½ with X̂ the block's quantized
 * LayerNorm output. A QKR block has the ops
 *   blocks.N.attn.v    linear, weight [C, C]: the V rows of timm's qkv (the q/k biases are dropped)
 *   blocks.N.attn.qkr  linear, weight [H·C, C]: the W_qk,h stacked by head, output U [T, H·C] whose
 *                      columns h·C…(h+1)·C are U_hᵀ
 *   blocks.N.attn.qk   matmul, a = X̂ (the same quantizer as attn.v.input and attn.qkr.input, whose
 *                      post-add must be zero: it would need a column-sum correction in this
 *                      dynamic product), b = U; per head S_h = X̂·U_hᵀ·d^−½ with a reduction over C
 * and attn.pv, attn.proj, mlp.fc1, mlp.fc2 as usual.
 *
 * Real value of a code, per kind (all scales are real units per code step):
 *   uniform       x̂ = scale[t] · (code − zeroPoint)            (scale per tensor, or per token t — OFQ)
 *   twin-softmax  x̂ = code · 2^−splitExponent / (2^(b−1) − 1)   flag 0 (x ≤ 2^−i)
 *                 x̂ = code · 1 / (2^(b−1) − 1)                    flag 1            code ∈ [0, 2^(b−1) − 1]
 *   twin-gelu     x̂ = code · negScale                            x < 0, code ∈ [−2^(b−1), 0]
 *                 x̂ = code · negScale · 2^posShift               x ≥ 0, code ∈ [0, 2^(b−1) − 1]
 *   threshold     x̂ = offset + step · #{ i : x > thresholds[i] } (N2UQ; 2^b − 1 increasing thresholds)
 * Every kind may carry a pre-quantizer addend (NoisyQuant's fixed noise, OFQ's learned pre-bias): the
 * quantizer sees x + addend[c] per channel c, and `postBias[c]` is added to x̂ afterwards (NoisyQuant
 * sets postBias = −noise so the noise is removed; for static-weight layers it is folded into the layer
 * bias, which is why `QuantLinear.bias` is the effective, already-folded bias).
 *
 * Rounding everywhere is half toward +∞ (floor(v + 1/2)), the rule of an add-half-then-shift
 * requantizer (../shared/QUANT-METHODS.md §1).
 */
import { paramShapes, type Tensor, type ViTConfig, type ViTParams } from '../model/config.js';

export type QuantMethod = 'uniform' | 'ptq4vit' | 'noisyquant' | 'liu2021' | 'n2uq' | 'ofq' | 'lsq';

export const QUANT_METHODS: readonly QuantMethod[] = ['uniform', 'ptq4vit', 'noisyquant', 'liu2021', 'n2uq', 'ofq', 'lsq'];

/** Methods that fine-tune (vitsim qat, src/quant/qat/); the others calibrate post-training (vitsim quantize). */
export const QAT_METHODS: readonly QuantMethod[] = ['n2uq', 'ofq', 'lsq'];
export const POST_TRAINING_METHODS: readonly QuantMethod[] = QUANT_METHODS.filter((m) => !QAT_METHODS.includes(m));

/** What is added per channel before the quantizer and after it. */
export interface ActAddend {
  /** Why it exists: decides the hardware unit and the trace's quantizer kind. */
  kind: 'noise' | 'learned-bias';
  /** [channels] added to x before quantization (the noise adder / pre-bias adder). */
  preAdd: Float32Array;
  /** [channels] added to x̂ after dequantization (folded into the next bias where the consumer has static weights). */
  postAdd: Float32Array;
  /** NoisyQuant only: how preAdd was drawn — seed of the PRNG, half-range of U(−n, n) and mean shift μ, real units. */
  noise?: { seed: number; halfRange: number; shift: number };
}

export interface UniformQuant {
  kind: 'uniform';
  bits: number;
  /** Signed codes [−2^(b−1), 2^(b−1)−1] or unsigned [0, 2^b−1]. */
  signed: boolean;
  /** One scale for the tensor, or one per token row (OFQ's per-token LSQ steps, length = tokens). */
  scale: Float32Array;
  /** Integer zero point (0 for symmetric). */
  zeroPoint: number;
  addend?: ActAddend;
}

export interface TwinSoftmaxQuant {
  kind: 'twin-softmax';
  bits: number;
  /** i in 0…19: the split point is 2^−i and the two steps differ by 2^i. */
  splitExponent: number;
}

export interface TwinGeluQuant {
  kind: 'twin-gelu';
  bits: number;
  /** Step of the negative range (PTQ4ViT fixes it at 0.16997 / 2^(b−1)). */
  negScale: number;
  /** The positive range's step is negScale · 2^posShift (power-of-two ratio enforced). */
  posShift: number;
  addend?: ActAddend;
}

export interface ThresholdQuant {
  kind: 'threshold';
  bits: number;
  /** 2^b − 1 strictly increasing thresholds in the real units of the quantizer's input. */
  thresholds: Float64Array;
  /** Spacing of the uniform output levels (N2UQ's β2·δ). */
  step: number;
  /** Real value of output level 0 (0 for non-negative inputs, learned for signed ones). */
  offset: number;
  addend?: ActAddend;
}

export type ActQuant = UniformQuant | TwinSoftmaxQuant | TwinGeluQuant | ThresholdQuant;

export type ActQuantKind = ActQuant['kind'];

/**
 * A weight matrix in timm layout [out, in] as integer codes: w ≈ scales[o] · (codes[o, i] − zeroPoints[o]).
 * `odd-level` (StatsQ / N2UQ) stores the odd integers 2r + 1 ∈ {−(2^b−1), …, 2^b−1} with the half step as
 * scale, so the array multiplies ordinary integers; `bits` stays b (the datapath adds a row-sum, see docs).
 */
export interface WeightQuant {
  kind: 'uniform' | 'odd-level';
  bits: number;
  /** [out, in] codes. */
  codes: Int32Array;
  shape: [number, number];
  /** One scale for the tensor or one per output channel. */
  scales: Float32Array;
  /** Absent = all zero (symmetric). */
  zeroPoints?: Int32Array;
}

export interface QuantLinear {
  kind: 'linear';
  /** timm module name, e.g. 'blocks.2.mlp.fc1' (patch_embed.proj is a linear over im2col patches). */
  name: string;
  /**
   * For patch_embed.proj the input is the raw image in [0, 1] (pixels / 255) under an unsigned 8-bit
   * uniform quantizer with scale 1/255 — exact for 8-bit images — and the dataset's normalisation
   * (x − mean) / std is folded into this layer's weight and bias, so both engines take raw pixels.
   */
  input: ActQuant;
  weight: WeightQuant;
  /** [out] effective float bias with every folded correction (noise removal, learned post-biases). */
  bias: Float32Array;
}

export interface QuantMatmul {
  kind: 'matmul';
  /** 'blocks.N.attn.qk' (a = Q, b = K) or 'blocks.N.attn.pv' (a = P, b = V). */
  name: string;
  a: ActQuant;
  b: ActQuant;
}

export type QuantOp = QuantLinear | QuantMatmul;

/** How a model's attention forms its scores: Q·Kᵀ, or OFQ's query–key reparameterisation. */
export type AttentionForm = 'standard' | 'qkr';

export const ATTENTION_FORMS: readonly AttentionForm[] = ['standard', 'qkr'];

export interface QuantizedViT {
  config: ViTConfig;
  /** Absent means 'standard'. Every block has the same form. */
  attention?: AttentionForm;
  method: QuantMethod;
  /** Method options as given (bits, calibration size, seed, metric …), recorded for reproducibility. */
  options: Record<string, unknown>;
  /** Float parameters no quantizer touches: cls_token, pos_embed, every norm weight and bias. */
  floatParams: ViTParams;
  /** Keyed by op name, in forward order. */
  ops: Map<string, QuantOp>;
  /**
   * Quantizers of the residual stream, 2·depth + 1 of them: [0] after the position embedding, then after
   * each block's attention add and MLP add. Signed 16-bit per-tensor, as I-ViT keeps the residual stream,
   * so LayerNorm sees an integer input in the integer engine and the same rounding in fake-quant.
   */
  residual: UniformQuant[];
}

/** Width of the residual-stream quantizers. */
export const RESIDUAL_BITS = 16;

/** The op names of a model with this config, in forward order. */
export function quantOpNames(config: ViTConfig, attention: AttentionForm = 'standard'): string[] {
  const names = ['patch_embed.proj'];
  for (let i = 0; i < config.depth; i++) {
    const b = `blocks.${i}.`;
    if (attention === 'qkr') names.push(b + 'attn.v', b + 'attn.qkr');
    else names.push(b + 'attn.qkv');
    names.push(b + 'attn.qk', b + 'attn.pv', b + 'attn.proj', b + 'mlp.fc1', b + 'mlp.fc2');
  }
  names.push('head');
  return names;
}

/** The attention form of a quantized model. */
export function attentionOf(q: Pick<QuantizedViT, 'attention'>): AttentionForm {
  return q.attention ?? 'standard';
}

/** [out, in] of a linear op's weight (patch_embed's [C, C·P·P] flattened; QKR's attn.v and attn.qkr). */
export function linearWeightShape(config: ViTConfig, name: string): [number, number] {
  const d = config.embedDim;
  if (name.endsWith('.attn.v')) return [d, d];
  if (name.endsWith('.attn.qkr')) return [config.numHeads * d, d];
  const shape = paramShapes(config).get(`${name}.weight`);
  if (!shape) throw new Error(`linearWeightShape: ${name} is not a linear op`);
  return [shape[0], shape.slice(1).reduce((a, b) => a * b, 1)];
}

/** Bits of a code of this quantizer as the datapath carries it (twin codes include their flag bit). */
export function actBits(q: ActQuant): number {
  return q.bits;
}

/** The float parameters a QuantizedViT keeps (everything that is not a linear weight or bias). */
export function isFloatParam(name: string): boolean {
  return name === 'cls_token' || name === 'pos_embed' || /norm\d?\.(weight|bias)$/.test(name);
}

export function floatParamsOf(params: ViTParams): ViTParams {
  const out: ViTParams = new Map();
  for (const [name, t] of params) if (isFloatParam(name)) out.set(name, t as Tensor);
  return out;
}
