import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { gemm, gemmWasm } from '../../src/kernels/gemm.js';
import { gemmReference, type GemmShape } from '../../src/kernels/gemm-reference.js';

/** Deterministic operands in [-1, 1) with full float32 mantissas, so every rounding step matters. */
function randomFloats(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/**
 * Runs both kernels on the same operands; returns where their outputs first differ in bits, or
 * 'identical'. A short string rather than the arrays: a failing property is shrunk hundreds of
 * times, and diffing whole arrays each time would take minutes.
 */
function compareKernels(shape: GemmShape, seed: number, fastKernel = gemmWasm): string {
  const { m, k, n } = shape;
  const a = randomFloats(m * k, seed);
  const b = randomFloats(k * n, seed + 1);
  const c0 = randomFloats(m * n, seed + 2);
  const fast = c0.slice();
  const reference = c0.slice();
  fastKernel(a, b, fast, shape);
  gemmReference(a, b, reference, shape);
  const fastBits = new Uint32Array(fast.buffer);
  const referenceBits = new Uint32Array(reference.buffer);
  const i = fastBits.findIndex((bits, j) => bits !== referenceBits[j]);
  if (i < 0) return 'identical';
  return `c[${Math.floor(i / n)},${i % n}] = ${fast[i]}, reference ${reference[i]}`;
}

const dim = (max: number) => fc.oneof(fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17), fc.integer({ min: 1, max }));

describe('wasm SIMD gemm', () => {
  it('equals the reference bit for bit on random shapes, all trans combinations, with and without accumulate', () => {
    fc.assert(
      fc.property(
        dim(70), dim(70), dim(70), fc.boolean(), fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 2 ** 30 }),
        (m, k, n, transA, transB, accumulate, seed) => {
          expect(compareKernels({ m, k, n, transA, transB, accumulate }, seed)).toBe('identical');
        },
      ),
      { numRuns: 400 },
    );
  });

  it('equals the reference bit for bit across several k blocks (k beyond the kernel block of 256)', () => {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const accumulate of [false, true]) {
          expect(compareKernels({ m: 13, k: 600, n: 21, transA, transB, accumulate }, 7)).toBe('identical');
        }
      }
    }
  });

  it('gemm (size-dispatched) equals the reference bit for bit on the model shapes (forward, backward, attention)', () => {
    const shapes: GemmShape[] = [
      { m: 200, k: 192, n: 192, transB: true },            // y = x·Wᵀ
      { m: 200, k: 192, n: 10, transB: true },             // classifier head
      { m: 200, k: 64, n: 192 },                           // dx = dy·W
      { m: 64, k: 200, n: 192, transA: true, accumulate: true }, // dW += dyᵀ·x
      { m: 50, k: 32, n: 50, transB: true },               // scores = q·kᵀ
      { m: 50, k: 50, n: 32 },                             // P·V
    ];
    shapes.forEach((shape, i) => {
      expect(compareKernels(shape, 100 + i, gemm)).toBe('identical');
    });
  });

  it('grows the wasm memory for operands beyond its initial 16 MiB and keeps working after', () => {
    expect(compareKernels({ m: 4500, k: 1000, n: 3, transA: true }, 11)).toBe('identical');
    expect(compareKernels({ m: 9, k: 10, n: 11, transB: true, accumulate: true }, 12)).toBe('identical');
  });

  it('overwrites c with zeros when k is 0, and leaves it alone when accumulating', () => {
    const c = new Float32Array([1, 2, 3, 4, 5, 6]);
    gemmWasm(new Float32Array(0), new Float32Array(0), c, { m: 2, k: 0, n: 3, accumulate: true });
    expect(Array.from(c)).toEqual([1, 2, 3, 4, 5, 6]);
    const big = randomFloats(64 * 70, 3);
    gemmWasm(new Float32Array(0), new Float32Array(0), big, { m: 64, k: 0, n: 70 });
    expect(big.every((v) => Object.is(v, 0))).toBe(true);
  });

  it('rejects operands shorter than the shape says', () => {
    expect(() => gemmWasm(new Float32Array(5), new Float32Array(6), new Float32Array(4), { m: 2, k: 3, n: 2 })).toThrow(/a holds 5 floats/);
  });
});
