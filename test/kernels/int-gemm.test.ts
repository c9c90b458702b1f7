import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { intGemm, intGemmReference, intGemmWasm, type IntGemmShape } from '../../src/kernels/int-gemm.js';
import { intGemmBigInt } from '../../src/kernels/int-gemm-reference.js';
import { runRegisterArray } from '../../src/hw/register-array.js';
import { DATAFLOWS } from '../../src/hw/arch.js';

/** Deterministic integers in [−limit, limit] (limit ≤ 32768; 32768 itself is stored as −32768 only). */
function randomInts(length: number, limit: number, seed: number): Int16Array {
  const out = new Int16Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = Math.max(-32768, Math.min(32767, (s % (2 * limit + 1)) - limit));
  }
  return out;
}

/**
 * Runs a kernel and the reference on the same operands; returns where their outputs first differ,
 * or 'identical'. A short string rather than the arrays, so shrinking a failing property stays fast.
 */
function compare(shape: IntGemmShape, a: Int16Array, b: Int16Array, kernel = intGemmWasm): string {
  const { m, n } = shape;
  const fast = new Float64Array(m * n).fill(NaN);
  const reference = new Float64Array(m * n);
  kernel(a, b, fast, shape);
  intGemmReference(a, b, reference, shape);
  const i = fast.findIndex((v, j) => !Object.is(v, reference[j]));
  if (i < 0) return 'identical';
  return `c[${Math.floor(i / n)},${i % n}] = ${fast[i]}, reference ${reference[i]}`;
}

const dim = (max: number) => fc.oneof(fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17), fc.integer({ min: 1, max }));
/** Operand magnitudes: 1-bit, 4-bit, 8-bit (signed and unsigned), 12-bit, full 16-bit. */
const limit = fc.constantFrom(1, 7, 127, 255, 2047, 32767, 32768);

describe('exact integer gemm (wasm SIMD)', () => {
  it('equals the reference exactly on random shapes, magnitudes and all trans combinations', () => {
    fc.assert(
      fc.property(
        dim(70), dim(70), dim(70), fc.boolean(), fc.boolean(), limit, limit, fc.integer({ min: 1, max: 2 ** 30 }),
        (m, k, n, transA, transB, limitA, limitB, seed) => {
          const a = randomInts(m * k, limitA, seed), b = randomInts(k * n, limitB, seed + 1);
          expect(compare({ m, k, n, transA, transB }, a, b)).toBe('identical');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('intGemm (size-dispatched) equals the reference exactly on the tiny ViT shapes', () => {
    const shapes: IntGemmShape[] = [
      { m: 34, k: 64, n: 192, transB: true }, // qkv, 2 images
      { m: 34, k: 128, n: 64, transB: true }, // fc2
      { m: 17, k: 16, n: 17, transB: true },  // Q·Kᵀ
      { m: 17, k: 17, n: 16 },                // P·V
      { m: 3, k: 64, n: 10, transB: true },   // head
      { m: 2, k: 3, n: 2 },                   // below the wasm threshold
    ];
    shapes.forEach((shape, i) => {
      const a = randomInts(shape.m * shape.k, 127, 10 + i), b = randomInts(shape.k * shape.n, 127, 20 + i);
      expect(compare(shape, a, b, intGemm)).toBe('identical');
    });
  });

  it('equals the reference exactly across several k blocks, whole pairs or an odd k left over', () => {
    for (const k of [512, 513, 1100, 1151]) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const shape = { m: 9, k, n: 13, transA, transB };
          expect(compare(shape, randomInts(9 * k, 127, k), randomInts(k * 13, 127, k + 1))).toBe('identical');
        }
      }
    }
  });

  it('equals the reference exactly with wide operands (16 × 12 and 16 × 16 bits) across several k blocks', () => {
    for (const [limitA, limitB] of [[32767, 2047], [32767, 32767], [32768, 32767], [32768, 32768]]) {
      for (const transB of [false, true]) {
        const shape = { m: 6, k: 1100, n: 21, transB };
        const a = randomInts(6 * 1100, limitA, limitB), b = randomInts(1100 * 21, limitB, limitA);
        expect(compare(shape, a, b)).toBe('identical');
      }
    }
  });

  it('is exact where a plain i32 accumulator overflows: every operand at −32768 (products of 2^30)', () => {
    for (const k of [1, 2, 3, 8, 33]) {
      const shape = { m: 5, k, n: 9 };
      const a = new Int16Array(5 * k).fill(-32768), b = new Int16Array(k * 9).fill(-32768);
      const c = new Float64Array(5 * 9);
      intGemmWasm(a, b, c, shape);
      expect(Array.from(new Set(c))).toEqual([k * 2 ** 30]);
      // The i32 sum the kernel's lanes would hold without k blocks is wrong from k = 2 on.
      let wrapped = 0;
      for (let p = 0; p < k; p++) wrapped = (wrapped + 2 ** 30) | 0;
      if (k >= 2) expect(wrapped).not.toBe(k * 2 ** 30);
    }
  });

  it('sizes its k blocks by the largest magnitude wherever it sits (each SIMD lane of the scan, and the tail)', () => {
    // Extremes at every 8th position only (lane 8: only the last, past the vectors): if the scan
    // missed them, the block would be sized for |a| = 1 and the products of 2^30 would wrap i32.
    const k = 67;
    for (let lane = 0; lane <= 8; lane++) {
      for (const operand of ['a', 'b'] as const) {
        const extreme = (i: number) => (lane === 8 ? i >= 64 : i % 8 === lane);
        const sparse = new Int16Array(k).map((_, i) => (extreme(i) ? -32768 : 1));
        const full = new Int16Array(k).fill(-32768);
        const [a, b] = operand === 'a' ? [sparse, full] : [full, sparse];
        expect(compare({ m: 1, k, n: 1 }, a, b)).toBe('identical');
      }
    }
  });

  it('is exact at the 16-bit extremes mixed in sign, where one dot pair alone reaches 2^31', () => {
    const k = 41;
    const a = new Int16Array(3 * k), b = new Int16Array(k * 10);
    for (let i = 0; i < a.length; i++) a[i] = i % 3 === 0 ? 32767 : -32768;
    for (let i = 0; i < b.length; i++) b[i] = i % 5 === 0 ? 32767 : -32768;
    for (const transB of [false, true]) {
      expect(compare({ m: 3, k, n: 10, transB }, a, b)).toBe('identical');
    }
  });

  it('sums in BigInt once k·max|a|·max|b| reaches 2^53, where a float64 running sum would round', () => {
    // 2^23 products of 2^30 reach exactly 2^53; + 1 is lost by a float64 running sum; the last
    // product brings the true sum back below 2^53 to an odd integer that float64 can hold.
    const k = 2 ** 23 + 2;
    const a = new Int16Array(k).fill(-32768), b = new Int16Array(k).fill(-32768);
    a[k - 2] = 1; b[k - 2] = 1;
    a[k - 1] = -32768; b[k - 1] = 32767;
    const exact = Number(2n ** 53n + 1n - 2n ** 30n + 2n ** 15n);
    const c = new Float64Array(1);
    intGemm(a, b, c, { m: 1, k, n: 1 });
    expect(c[0]).toBe(exact);
    let float = 0;
    for (let p = 0; p < k; p++) float += a[p] * b[p];
    expect(float).not.toBe(exact);
  });

  it('the BigInt path equals the float64 loop where both are exact', () => {
    const shape = { m: 4, k: 7, n: 5, transA: true, transB: true };
    const a = randomInts(28, 32768, 3), b = randomInts(35, 32768, 4);
    expect(compare(shape, a, b, intGemmBigInt)).toBe('identical');
  });

  it('writes zeros for k = 0 and accepts empty m or n', () => {
    const c = new Float64Array(6).fill(7);
    intGemmWasm(new Int16Array(0), new Int16Array(0), c, { m: 2, k: 0, n: 3 });
    expect(Array.from(c)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(() => intGemmWasm(new Int16Array(0), new Int16Array(6), new Float64Array(0), { m: 0, k: 2, n: 3 })).not.toThrow();
  });

  it('grows the wasm memory for operands beyond its initial 16 MiB and keeps working after', () => {
    const shape = { m: 3000, k: 1500, n: 3, transA: true };
    expect(compare(shape, randomInts(3000 * 1500, 127, 5), randomInts(1500 * 3, 127, 6))).toBe('identical');
    expect(compare({ m: 20, k: 30, n: 40 }, randomInts(600, 127, 7), randomInts(1200, 127, 8))).toBe('identical');
  });

  it('rejects operands shorter than the shape', () => {
    expect(() => intGemm(new Int16Array(5), new Int16Array(6), new Float64Array(4), { m: 2, k: 3, n: 2 })).toThrow(/a holds 5/);
    expect(() => intGemm(new Int16Array(6), new Int16Array(6), new Float64Array(4), { m: 2, k: 3, n: 2.5 })).toThrow(/integers/);
  });
});

describe('exact integer gemm against the register-level systolic array', () => {
  it('equals runRegisterArray on small shapes for every dataflow', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.constantFrom(...DATAFLOWS),
        limit, fc.integer({ min: 1, max: 2 ** 30 }),
        (m, k, n, rows, cols, dataflow, magnitude, seed) => {
          const a = randomInts(m * k, magnitude, seed), w = randomInts(k * n, magnitude, seed + 1);
          const c = new Float64Array(m * n);
          intGemmWasm(a, w, c, { m, k, n });
          const { out } = runRegisterArray({ m, k, n }, a, w, { rows, cols, dataflow });
          expect(Array.from(c)).toEqual(Array.from(out));
        },
      ),
      { numRuns: 150 },
    );
  });
});
