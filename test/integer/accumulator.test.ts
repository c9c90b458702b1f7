import { describe, expect, it } from 'vitest';
import { accumulate, accumulateWide, AccumulatorOverflow, OverflowCounter } from '../../src/integer/accumulator.js';
import { createRng } from '../../src/model/random.js';

function exactSums(a: Int16Array, b: Int16Array, m: number, k: number, n: number): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0n;
      for (let p = 0; p < k; p++) s += BigInt(a[i * k + p]) * BigInt(b[p * n + j]);
      out.push(s);
    }
  }
  return out;
}

describe('accumulator', () => {
  it('keeps sums beyond 2^53 exact (k = 2^23 + 8 at full 16-bit operands)', () => {
    const k = 2 ** 23 + 8;
    const a = new Int16Array(2 * k).fill(-32768);
    const b = new Int16Array(k).fill(-32768);
    // Row 1 differs by one in one place, which a float64 sum of this size cannot see.
    a[k + 7] = -32767;
    const wide = accumulateWide(a, b, { m: 2, k, n: 1 });
    const total = 2n ** 30n * BigInt(k);
    expect(total).toBeGreaterThan(2n ** 53n);
    expect(wide[0]).toBe(total);
    expect(wide[1]).toBe(total - 32768n);
  });

  it('saturates results past its width and counts them, without wrapping', () => {
    const rng = createRng(3);
    const m = 3, k = 40, n = 5;
    const a = Int16Array.from({ length: m * k }, () => Math.floor(rng.nextFloat() * 65536) - 32768);
    const b = Int16Array.from({ length: k * n }, () => Math.floor(rng.nextFloat() * 65536) - 32768);
    const c = new Float64Array(m * n);
    const counter = new OverflowCounter();
    accumulate(a, b, c, { m, k, n }, { bits: 24, overflow: 'saturate' }, counter, 'test');
    const exact = exactSums(a, b, m, k, n);
    let over = 0;
    exact.forEach((v, i) => {
      const expected = v > 2n ** 23n - 1n ? 2 ** 23 - 1 : v < -(2n ** 23n) ? -(2 ** 23) : Number(v);
      if (v > 2n ** 23n - 1n || v < -(2n ** 23n)) over++;
      expect(c[i]).toBe(expected);
    });
    expect(over).toBeGreaterThan(0);
    expect(counter.total).toBe(over);
    expect(counter.perOp.get('test')).toBe(over);
  });

  it("throws in 'error' mode instead of saturating", () => {
    const a = Int16Array.of(32767, 32767);
    const b = Int16Array.of(32767, 32767);
    expect(() => accumulate(a, b, new Float64Array(1), { m: 1, k: 2, n: 1 }, { bits: 24, overflow: 'error' }, new OverflowCounter(), 'fc1')).toThrow(AccumulatorOverflow);
  });

  it('a huge-k product that overflows a 32-bit accumulator saturates to exactly 2^31 − 1', () => {
    const k = 2 ** 23 + 8;
    const a = new Int16Array(k).fill(32767);
    const b = new Int16Array(k).fill(32767);
    const c = new Float64Array(1);
    const counter = new OverflowCounter();
    accumulate(a, b, c, { m: 1, k, n: 1 }, { bits: 32, overflow: 'saturate' }, counter, 'wide');
    expect(c[0]).toBe(2 ** 31 - 1);
    expect(counter.total).toBe(1);
  });

  it('adds a per-token bias before saturating', () => {
    const a = Int16Array.of(1, 2, 3, 4);
    const b = Int16Array.of(1, 1);
    const c = new Float64Array(2);
    accumulate(a, b, c, { m: 2, k: 2, n: 1 }, { bits: 32, overflow: 'saturate' }, new OverflowCounter(), 'x', Float64Array.of(10, 20), 2);
    expect([...c]).toEqual([13, 27]);
  });
});
