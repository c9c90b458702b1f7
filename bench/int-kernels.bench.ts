/**
 * Exact integer GEMM throughput, single thread, in GMAC/s (10⁹ multiply-adds per second):
 *   naive   the plain JavaScript triple loop over Int16Arrays with a number accumulator (the baseline)
 *   wasm    intGemmWasm: the WebAssembly SIMD kernel (i32x4.dot_i16x8_s), including the magnitude
 *           scan, copying operands in and c out
 *   intGemm what the integer engine calls (wasm, or the reference loop for products too small to pay)
 * Operands are 8-bit (|v| ≤ 127) unless the row says 16-bit (|v| ≤ 32767, or −32768 on both sides:
 * the kernel widens every dot to i64 lanes, see src/kernels/assembly/int-gemm.ts).
 * Shapes: the shipped tiny ViT at batch 50 (850 tokens = 50 images × 17), its attention per
 * (image, head), its head, and a DeiT-S-like qkv. Each number is the best of several timed
 * batches, because the machine is shared and the noise is one-sided: interference only slows.
 */
import { cpus } from 'node:os';
import { intGemm, intGemmWasm, type IntGemmShape } from '../src/kernels/int-gemm.js';
import { bestSecondsPerCall, perMatrix } from './timing.js';

type Kernel = (a: Int16Array, b: Int16Array, c: Float64Array, shape: IntGemmShape) => void;

interface Case {
  name: string;
  shape: IntGemmShape;
  /** largest operand magnitude */
  limit?: number;
  /** independent products timed together (attention: one per image·head), each its own call. */
  count?: number;
}

const CASES: Case[] = [
  { name: 'qkv   x·Wᵀ (64→192)', shape: { m: 850, k: 64, n: 192, transB: true } },
  { name: 'proj  x·Wᵀ (64→64)', shape: { m: 850, k: 64, n: 64, transB: true } },
  { name: 'fc1   x·Wᵀ (64→128)', shape: { m: 850, k: 64, n: 128, transB: true } },
  { name: 'fc2   x·Wᵀ (128→64)', shape: { m: 850, k: 128, n: 64, transB: true } },
  { name: 'attn  Q·Kᵀ (T 17, d 16)', shape: { m: 17, k: 16, n: 17, transB: true } },
  { name: 'attn  P·V  (T 17, d 16)', shape: { m: 17, k: 17, n: 16 } },
  { name: 'attn  Q·Kᵀ, 50 images × 4 heads', shape: { m: 17, k: 16, n: 17, transB: true }, count: 200 },
  { name: 'attn  P·V, 50 images × 4 heads', shape: { m: 17, k: 17, n: 16 }, count: 200 },
  { name: 'head  x·Wᵀ (64→10)', shape: { m: 50, k: 64, n: 10, transB: true } },
  { name: 'DeiT-S qkv x·Wᵀ (384→1152)', shape: { m: 197, k: 384, n: 1152, transB: true } },
  { name: 'fc2 16-bit operands', shape: { m: 850, k: 128, n: 64, transB: true }, limit: 32767 },
  { name: 'fc2 16-bit, −32768 in both', shape: { m: 850, k: 128, n: 64, transB: true }, limit: 32768 },
];

export async function run(): Promise<void> {
  console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}`);
  console.log('single thread; GMAC/s per core: best of several batches, each timed by min(wall, process CPU time)');
  console.log(`${'shape'.padEnd(34)} ${'m×k×n'.padEnd(14)} ${'naive'.padStart(7)} ${'wasm'.padStart(7)} ${'intGemm'.padStart(7)}  wasm/naive`);
  for (const { name, shape, limit = 127, count = 1 } of CASES) {
    const naive = gmacs(perMatrix(naiveLoop, count), shape, limit, count, 2);
    const wasm = gmacs(perMatrix(intGemmWasm, count), shape, limit, count, 7);
    const dispatched = gmacs(perMatrix(intGemm, count), shape, limit, count, 7);
    const dims = `${count > 1 ? `${count}×` : ''}${shape.m}×${shape.k}×${shape.n}`;
    console.log(
      `${name.padEnd(34)} ${dims.padEnd(14)} ${fmt(naive)} ${fmt(wasm)} ${fmt(dispatched)}  ${(wasm / naive).toFixed(0).padStart(5)}×`,
    );
  }
}

/** The loop anyone would write first: no tiling, number accumulator, strides hoisted out of it. */
function naiveLoop(a: Int16Array, b: Int16Array, c: Float64Array, shape: IntGemmShape): void {
  const { m, k, n, transA = false, transB = false } = shape;
  const aRow = transA ? 1 : k, aCol = transA ? m : 1;
  const bRow = transB ? 1 : n, bCol = transB ? k : 1;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc += a[i * aRow + p * aCol] * b[p * bRow + j * bCol];
      c[i * n + j] = acc;
    }
  }
}

/**
 * Best throughput over `batches` timed batches; a batch repeats the call until it lasts ≥ 30 ms.
 * A batch's time is the smaller of wall time and this process's CPU time (see bench/kernels.bench.ts).
 */
function gmacs(kernel: Kernel, shape: IntGemmShape, limit: number, count: number, batches: number): number {
  const { m, k, n } = shape;
  const a = filled(count * m * k, limit, 1), b = filled(count * k * n, limit, 2), c = new Float64Array(count * m * n);
  return (count * m * k * n) / bestSecondsPerCall(() => kernel(a, b, c, shape), batches) / 1e9;
}


/** Integers spread over [−limit, limit] (clamped to i16), with both extremes present. */
function filled(length: number, limit: number, phase: number): Int16Array {
  const out = new Int16Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(Math.sin(i * 0.7 + phase) * limit)));
  return out;
}

function fmt(x: number): string {
  return (x >= 10 ? x.toFixed(1) : x.toFixed(2)).padStart(7);
}
