/**
 * The float GEMM the model code calls: same semantics as gemmReference, bit for bit, but run by the
 * WebAssembly SIMD kernel in src/kernels/assembly/gemm.ts (compiled to build/wasm/gemm.wasm by
 * `npm run build:wasm`).
 *
 *   c[m,n] (+)= Σ_k op(a)[m,k] · op(b)[k,n]      row-major; transA: a is [K,M]; transB: b is [N,K]
 *
 * Operands are copied into the wasm linear memory, multiplied there and c is copied back: the
 * copies are O(mk + kn + mn) against O(mkn) work, and they keep callers on plain Float32Arrays.
 * Each thread that imports this module gets its own instance and memory, so worker threads that
 * split a product by rows need no locking (and, since no thread splits k, stay deterministic).
 */
import { gemmReference, type GemmShape } from './gemm-reference.js';
import { align, instantiateKernel } from './wasm-module.js';

export type { GemmShape } from './gemm-reference.js';

/**
 * Below this many multiply-adds the reference loop wins: the wasm path costs about 0.6 µs a call
 * (copies, packing, the call itself) and the reference runs ~0.15 GMAC/s, so they cross near 64
 * (measured: 4×4×4 takes 0.6 µs either way, 8×8×8 takes 3.5 µs in the reference and 0.9 in wasm).
 */
const SMALL_MACS = 64;

export function gemm(a: Float32Array, b: Float32Array, c: Float32Array, shape: GemmShape): void {
  checkShape(a, b, c, shape);
  if (shape.m * shape.k * shape.n < SMALL_MACS) gemmReference(a, b, c, shape);
  else runWasm(a, b, c, shape);
}

/**
 * The wasm kernel whatever the size (gemm picks it for all but tiny products); tests and bench call it directly.
 *
 * There is deliberately no batched form for attention heads: one call over a stack of 50×32×50
 * products measured only ~3 % faster than a call per head for up to 24 heads, and 10 % slower for
 * all 384 heads of a batch (the stacks outgrow the cache while being copied in and out).
 */
export function gemmWasm(a: Float32Array, b: Float32Array, c: Float32Array, shape: GemmShape): void {
  checkShape(a, b, c, shape);
  runWasm(a, b, c, shape);
}

function runWasm(a: Float32Array, b: Float32Array, c: Float32Array, shape: GemmShape): void {
  const { m, k, n, transA = false, transB = false, accumulate = false } = shape;
  const kernel = instance();
  const aPtr = kernel.base;
  const bPtr = aPtr + align(m * k * 4);
  const cPtr = bPtr + align(k * n * 4);
  const scratch = cPtr + align(m * n * 4);
  const heap = reserve(kernel, scratch + kernel.exports.scratchBytes(n));
  heap.set(a.subarray(0, m * k), aPtr >>> 2);
  heap.set(b.subarray(0, k * n), bPtr >>> 2);
  if (accumulate) heap.set(c.subarray(0, m * n), cPtr >>> 2);
  kernel.exports.gemm(aPtr, bPtr, cPtr, m, k, n, transA ? 1 : 0, transB ? 1 : 0, accumulate ? 1 : 0, scratch);
  c.set(heap.subarray(cPtr >>> 2, (cPtr >>> 2) + m * n));
}

interface KernelExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  heapBase(): number;
  scratchBytes(n: number): number;
  gemm(
    a: number, b: number, c: number, m: number, k: number, n: number,
    transA: number, transB: number, accumulate: number, scratch: number,
  ): void;
}

interface Kernel {
  exports: KernelExports;
  /** First byte the host may use: everything below belongs to the AssemblyScript runtime. */
  base: number;
  /** A view of the whole memory, rebuilt whenever the memory grows (growing detaches the old one). */
  heap: Float32Array;
}

let loaded: Kernel | undefined;

/** Instantiated on first use, so importing this module costs nothing for code that never multiplies. */
function instance(): Kernel {
  if (loaded) return loaded;
  const exports = instantiateKernel<KernelExports>('gemm', 'GEMM kernel');
  loaded = { exports, base: align(exports.heapBase()), heap: new Float32Array(exports.memory.buffer) };
  return loaded;
}

function reserve(kernel: Kernel, bytes: number): Float32Array {
  const memory = kernel.exports.memory;
  if (memory.buffer.byteLength < bytes) {
    memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
  }
  if (kernel.heap.buffer !== memory.buffer) kernel.heap = new Float32Array(memory.buffer);
  return kernel.heap;
}

function checkShape(a: Float32Array, b: Float32Array, c: Float32Array, { m, k, n }: GemmShape): void {
  if (!isCount(m) || !isCount(k) || !isCount(n)) {
    throw new RangeError(`gemm: m, k and n must be non-negative integers, got m=${m} k=${k} n=${n}`);
  }
  if (a.length < m * k) throw new RangeError(`gemm: a holds ${a.length} floats, needs m·k = ${m * k}`);
  if (b.length < k * n) throw new RangeError(`gemm: b holds ${b.length} floats, needs k·n = ${k * n}`);
  if (c.length < m * n) throw new RangeError(`gemm: c holds ${c.length} floats, needs m·n = ${m * n}`);
}

function isCount(x: number): boolean {
  return Number.isInteger(x) && x >= 0;
}

