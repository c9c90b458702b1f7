/**
 * The exact integer GEMM the integer engine calls: same result as intGemmReference, bit for bit,
 * but run by the WebAssembly SIMD kernel in src/kernels/assembly/int-gemm.ts (compiled to
 * build/wasm/int-gemm.wasm by `npm run build:wasm`).
 *
 *   c[m,n] = Σ_k op(a)[m,k] · op(b)[k,n]      row-major; transA: a is [K,M]; transB: b is [N,K]
 *
 * Operands are integers of at most 16 bits (Int16Array); c is float64 holding exact integers.
 * The kernel accumulates in i32 lanes over k blocks short enough that no block sum can leave i32
 * given this call's largest operand magnitudes (or, for operands so wide that the blocks would be
 * a few k long, in i64 lanes), and adds the blocks in float64, which is exact while |c| < 2^53.
 * When k·max|a|·max|b| ≥ 2^53 that is no longer guaranteed and the product is summed in BigInt
 * instead (see intGemmBigInt): k past 2^23 at full 16 bits, far from any ViT.
 *
 * As with the float kernel, operands are copied into the wasm linear memory and c is copied back,
 * and each thread that imports this module gets its own instance and memory.
 */
import { intGemmBigInt, intGemmReference, type IntGemmShape } from './int-gemm-reference.js';
import { align, instantiateKernel } from './wasm-module.js';

export type { IntGemmShape } from './int-gemm-reference.js';
export { intGemmReference } from './int-gemm-reference.js';

/**
 * Below this many multiply-adds the reference loop wins: the wasm path costs a few hundred ns a
 * call (copies, magnitude scan, packing, the call itself). Measured on the shared machine:
 * 5×5×5 took 0.56 µs in the reference and 0.59 in wasm, 6×6×6 0.85 and 0.66, 8×8×8 2.2 and 0.61.
 */
const SMALL_MACS = 160;

/** Outputs up to this many values are copied out by a loop rather than a typed-array set. */
const SMALL_COPY = 512;

export function intGemm(a: Int16Array, b: Int16Array, c: Float64Array, shape: IntGemmShape): void {
  checkShape(a, b, c, shape);
  if (shape.m * shape.k * shape.n < SMALL_MACS) intGemmReference(a, b, c, shape);
  else dispatch(a, b, c, shape);
}

/** The wasm kernel whatever the size (intGemm picks it for all but tiny products); tests and bench call it directly. */
export function intGemmWasm(a: Int16Array, b: Int16Array, c: Float64Array, shape: IntGemmShape): void {
  checkShape(a, b, c, shape);
  dispatch(a, b, c, shape);
}

function dispatch(a: Int16Array, b: Int16Array, c: Float64Array, shape: IntGemmShape): void {
  if (!runWasm(a, b, c, shape)) intGemmBigInt(a, b, c, shape);
}

/** False when the kernel declined: k·max|a|·max|b| ≥ 2^53, so a float64 sum might not be exact. */
function runWasm(a: Int16Array, b: Int16Array, c: Float64Array, shape: IntGemmShape): boolean {
  const { m, k, n, transA = false, transB = false } = shape;
  const kernel = instance();
  const aPtr = kernel.base;
  const bPtr = aPtr + align(m * k * 2);
  const cPtr = bPtr + align(k * n * 2);
  const scratch = cPtr + align(m * n * 8);
  reserve(kernel, scratch + kernel.exports.scratchBytes(k, n));
  kernel.i16.set(a.length === m * k ? a : a.subarray(0, m * k), aPtr >>> 1);
  kernel.i16.set(b.length === k * n ? b : b.subarray(0, k * n), bPtr >>> 1);
  if (!kernel.exports.intGemm(aPtr, bPtr, cPtr, m, k, n, transA ? 1 : 0, transB ? 1 : 0, scratch)) return false;
  const { f64 } = kernel;
  const from = cPtr >>> 3;
  if (m * n > SMALL_COPY) c.set(f64.subarray(from, from + m * n));
  else for (let i = 0; i < m * n; i++) c[i] = f64[from + i]; // attention-sized c: cheaper than a subarray view
  return true;
}

interface KernelExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  heapBase(): number;
  scratchBytes(k: number, n: number): number;
  /** 1 when c was computed, 0 when the kernel declined (see runWasm). */
  intGemm(
    a: number, b: number, c: number, m: number, k: number, n: number,
    transA: number, transB: number, scratch: number,
  ): number;
}

interface Kernel {
  exports: KernelExports;
  /** First byte the host may use: everything below belongs to the AssemblyScript runtime. */
  base: number;
  /** Views of the whole memory, rebuilt whenever the memory grows (growing detaches the old ones). */
  i16: Int16Array;
  f64: Float64Array;
}

let loaded: Kernel | undefined;

/** Instantiated on first use, so importing this module costs nothing for code that never multiplies. */
function instance(): Kernel {
  if (loaded) return loaded;
  const exports = instantiateKernel<KernelExports>('int-gemm', 'integer GEMM kernel');
  const buffer = exports.memory.buffer;
  loaded = { exports, base: align(exports.heapBase()), i16: new Int16Array(buffer), f64: new Float64Array(buffer) };
  return loaded;
}

/** Grows the memory to at least `bytes`; only this module grows it (the kernel allocates nothing). */
function reserve(kernel: Kernel, bytes: number): void {
  if (kernel.f64.byteLength >= bytes) return;
  const memory = kernel.exports.memory;
  memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
  kernel.i16 = new Int16Array(memory.buffer);
  kernel.f64 = new Float64Array(memory.buffer);
}

function checkShape(a: Int16Array, b: Int16Array, c: Float64Array, { m, k, n }: IntGemmShape): void {
  if (!isCount(m) || !isCount(k) || !isCount(n)) {
    throw new RangeError(`intGemm: m, k and n must be non-negative integers, got m=${m} k=${k} n=${n}`);
  }
  if (a.length < m * k) throw new RangeError(`intGemm: a holds ${a.length} values, needs m·k = ${m * k}`);
  if (b.length < k * n) throw new RangeError(`intGemm: b holds ${b.length} values, needs k·n = ${k * n}`);
  if (c.length < m * n) throw new RangeError(`intGemm: c holds ${c.length} values, needs m·n = ${m * n}`);
}

function isCount(x: number): boolean {
  return Number.isInteger(x) && x >= 0;
}

