/**
 * The ops of one inference as the accelerator sees them: matrix multiplies for the array, and
 * vector ops (LayerNorm, softmax, GELU, adds, pooling) for the vector unit. A trace is a list of
 * these; it carries shapes and bit-widths, never weights, so it can be simulated without a model.
 */

/**
 * How an activation operand was quantized — this decides which unit produces it:
 * - `uniform`: a requantizer (multiply + shift) on the producer's output.
 * - `twin-uniform` (PTQ4ViT): two uniform ranges whose scales differ by a power of two; the consumer
 *   needs a flag bit and a shifter to align them.
 * - `threshold` (N2UQ): `levels − 1` learned thresholds per lane replace the requantizer; `levels` is
 *   at most 2^bits.
 * - `noisy` (NoisyQuant): a fixed per-channel noise is added before a uniform quantizer; the
 *   correction is folded into the bias, so only the adder costs anything at run time.
 */
export type Quantizer =
  | { kind: 'uniform' }
  | { kind: 'twin-uniform' }
  | { kind: 'threshold'; levels: number }
  | { kind: 'noisy' };

export type QuantizerKind = Quantizer['kind'];

export const QUANTIZER_KINDS: readonly QuantizerKind[] = ['uniform', 'twin-uniform', 'threshold', 'noisy'];

/**
 * Measured statistics of one operand's integer codes, filled in by the quantizer's calibration run;
 * a zero-skipping or bit-serial PE model needs them, a plain one does not.
 */
export interface OperandStats {
  /** Fraction of codes that are exactly zero, in [0, 1]. */
  zeroFraction: number;
  /** Mean |code|, in units of the operand's quantization step (so it compares across scales). */
  meanAbs: number;
}

/**
 * One matrix multiply, repeated `count` times with the same shape: out[M,N] = A[M,K] · B[K,N].
 * A is always an activation. B is a weight matrix for linear layers (patch embedding, qkv, proj,
 * fc1, fc2, head, Swin's patch-merging reduction; v and qkr in a QKR block) and a second activation
 * for the attention products Q·Kᵀ (X̂·U_hᵀ in a QKR block) and P·V. Linear layers fold the batch into M (`count` 1); attention products are kept per
 * head (and per window, and per image) with `count` = heads × windows × batch, because that per-head
 * shape is what the array is folded over.
 */
export interface GemmOp {
  kind: 'gemm';
  /** timm-style layer name, e.g. 'blocks.3.mlp.fc1'; Q·Kᵀ and P·V are 'blocks.3.attn.qk' and '….attn.pv'. */
  name: string;
  m: number;
  k: number;
  n: number;
  /** Independent GEMMs of this shape (per-head attention products); MACs = m·k·n·count. */
  count: number;
  /** Whether B is a weight (read from the weight store) or an activation produced at run time. */
  bOperand: 'weight' | 'activation';
  /** Width of A, the streamed activation. */
  actBits: number;
  /** Width of B, which enters the array through its weight path — for Q·Kᵀ and P·V that is Kᵀ or V. */
  weightBits: number;
  /** Accumulator width. */
  accBits: number;
  /** How A was quantized. */
  actQuant: Quantizer;
  /** How B was quantized; present exactly when B is an activation. */
  bQuant?: Quantizer;
  /** Measured statistics of A and B, when a quantizer has measured them. */
  stats?: { a?: OperandStats; b?: OperandStats };
}

/**
 * The vector-unit ops. Each works on `count` × `rows` vectors of `cols` elements:
 * - `layernorm`: normalises each vector (cols = channels).
 * - `softmax`: each row of the attention scores (cols = keys).
 * - `gelu`: element-wise (the shape only says how many elements).
 * - `add`: element-wise sum of two tensors of this shape (residual adds, position embedding,
 *   Swin's relative position bias with the shifted-window mask folded into it).
 * - `avgpool`: averages each vector to one value (rows = batch × channels, cols = tokens).
 */
export type VectorKind = 'layernorm' | 'softmax' | 'gelu' | 'add' | 'avgpool';

export const VECTOR_KINDS: readonly VectorKind[] = ['layernorm', 'softmax', 'gelu', 'add', 'avgpool'];

export interface VectorOp {
  kind: VectorKind;
  name: string;
  rows: number;
  cols: number;
  count: number;
  /** Width of the values read. */
  inBits: number;
  /** Width of the values written: the A width of the GEMM this op feeds, else its own width. */
  outBits: number;
}

export type Op = GemmOp | VectorOp;

export type OpKind = Op['kind'];

export const OP_KINDS: readonly OpKind[] = ['gemm', ...VECTOR_KINDS];

/** Widest operand or accumulator a trace may name; wider values have no integer datapath here. */
export const MAX_BITS = 32;

/** Multiply-accumulates of one op: m·k·n·count for a GEMM, none for a vector op. */
export function opMacs(op: Op): number {
  return op.kind === 'gemm' ? op.m * op.k * op.n * op.count : 0;
}

/** Elements a vector op reads from each input (a GEMM's outputs for a GEMM). */
export function opElements(op: Op): number {
  return op.kind === 'gemm' ? op.m * op.n * op.count : op.rows * op.cols * op.count;
}

/** Weight values a GEMM reads (k·n, shared by the whole batch); zero for everything else. */
export function opWeights(op: Op): number {
  return op.kind === 'gemm' && op.bOperand === 'weight' ? op.k * op.n : 0;
}

export function isGemm(op: Op): op is GemmOp {
  return op.kind === 'gemm';
}
