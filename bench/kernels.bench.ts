/**
 * Float GEMM throughput, single thread, in GMAC/s (10⁹ multiply-adds per second):
 *   naive      the plain JavaScript triple loop with a float64 accumulator (the baseline of the issue)
 *   reference  gemmReference: the same loop rounding to float32 at each step (what tests compare to)
 *   wasm       gemmWasm: the WebAssembly SIMD kernel, including copying operands in and c out
 *   gemm       gemm: what model code calls (wasm, or the reference for products too small to pay)
 * Shapes are the ones a ViT with batch 64 × 50 tokens trains on. Each number is the best of several
 * timed batches, because the machine is shared and the noise is one-sided: interference only slows.
 */
import { gemm, gemmWasm } from '../src/kernels/gemm.js';
import { gemmReference, type GemmShape } from '../src/kernels/gemm-reference.js';
import { bestSecondsPerCall, perMatrix } from './timing.js';

type Kernel = (a: Float32Array, b: Float32Array, c: Float32Array, shape: GemmShape) => void;

interface Case {
  name: string;
  shape: GemmShape;
  /** independent products timed together (attention: one per image·head), each its own call. */
  count?: number;
}

const TOKENS = 64 * 50;

const CASES: Case[] = [
  { name: 'fwd y = x·Wᵀ  (fc 256→256)', shape: { m: TOKENS, k: 256, n: 256, transB: true } },
  { name: 'fwd y = x·Wᵀ  (fc 192→192)', shape: { m: TOKENS, k: 192, n: 192, transB: true } },
  { name: 'fwd y = x·Wᵀ  (fc 64→128)', shape: { m: TOKENS, k: 64, n: 128, transB: true } },
  { name: 'fwd y = x·Wᵀ  (head 192→10)', shape: { m: TOKENS, k: 192, n: 10, transB: true } },
  { name: 'bwd dx = dy·W (fc 256→256)', shape: { m: TOKENS, k: 256, n: 256 } },
  { name: 'bwd dx = dy·W (fc 128→64)', shape: { m: TOKENS, k: 128, n: 64 } },
  { name: 'bwd dW += dyᵀ·x (fc 256→256)', shape: { m: 256, k: TOKENS, n: 256, transA: true, accumulate: true } },
  { name: 'bwd dW += dyᵀ·x (fc 192→64)', shape: { m: 64, k: TOKENS, n: 192, transA: true, accumulate: true } },
  { name: 'attn scores = q·kᵀ (T 50, d 32)', shape: { m: 50, k: 32, n: 50, transB: true } },
  { name: 'attn out = P·V   (T 50, d 32)', shape: { m: 50, k: 50, n: 32 } },
  { name: 'attn scores = q·kᵀ (T 50, d 16)', shape: { m: 50, k: 16, n: 50, transB: true } },
  { name: 'attn scores, 64 images × 6 heads', shape: { m: 50, k: 32, n: 50, transB: true }, count: 384 },
  { name: 'attn P·V, 64 images × 6 heads', shape: { m: 50, k: 50, n: 32 }, count: 384 },
  { name: 'square 512³', shape: { m: 512, k: 512, n: 512 } },
];

export async function run(): Promise<void> {
  console.log('single thread; GMAC/s per core: best of several batches, each timed by min(wall, process CPU time)');
  console.log(`${'shape'.padEnd(34)} ${'m×k×n'.padEnd(14)} ${'naive'.padStart(7)} ${'ref'.padStart(7)} ${'wasm'.padStart(7)} ${'gemm'.padStart(7)}  wasm/naive`);
  for (const { name, shape, count = 1 } of CASES) {
    const naive = gmacs(perMatrix(naiveLoop, count), shape, count, 2);
    const reference = gmacs(perMatrix(gemmReference, count), shape, count, 2);
    const wasm = gmacs(perMatrix(gemmWasm, count), shape, count, 7);
    const dispatched = gmacs(perMatrix(gemm, count), shape, count, 7);
    const dims = `${count > 1 ? `${count}×` : ''}${shape.m}×${shape.k}×${shape.n}`;
    console.log(
      `${name.padEnd(34)} ${dims.padEnd(14)} ${fmt(naive)} ${fmt(reference)} ${fmt(wasm)} ${fmt(dispatched)}  ${(wasm / naive).toFixed(0).padStart(5)}×`,
    );
  }
}

/** The loop anyone would write first: no tiling, float64 accumulator, strides hoisted out of it. */
function naiveLoop(a: Float32Array, b: Float32Array, c: Float32Array, shape: GemmShape): void {
  const { m, k, n, transA = false, transB = false, accumulate = false } = shape;
  const aRow = transA ? 1 : k, aCol = transA ? m : 1;
  const bRow = transB ? 1 : n, bCol = transB ? k : 1;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = accumulate ? c[i * n + j] : 0;
      for (let p = 0; p < k; p++) acc += a[i * aRow + p * aCol] * b[p * bRow + j * bCol];
      c[i * n + j] = acc;
    }
  }
}

/**
 * Best throughput over `batches` timed batches; a batch repeats the call until it lasts ≥ 30 ms,
 * so microsecond-sized attention products are timed over many calls, not one.
 *
 * A batch's time is the smaller of wall time and this process's CPU time. On the shared 2-core
 * machine the scheduler takes this thread off the core for whole slices, which wall time counts
 * and CPU time does not; CPU time in turn counts V8's background threads, which wall time does not.
 * The smaller of the two is this thread's own busy time in either case, i.e. throughput per core.
 */
function gmacs(kernel: Kernel, shape: GemmShape, count: number, batches: number): number {
  const { m, k, n } = shape;
  const a = filled(count * m * k), b = filled(count * k * n), c = filled(count * m * n);
  return (count * m * k * n) / bestSecondsPerCall(() => kernel(a, b, c, shape), batches) / 1e9;
}


function filled(length: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.sin(i) * 0.5;
  return out;
}

function fmt(x: number): string {
  return (x >= 10 ? x.toFixed(1) : x.toFixed(2)).padStart(7);
}
