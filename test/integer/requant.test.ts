import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_SHIFT, dyadic, dyadicCommon, dyadicTable, dyadicValue, requantize, requantizeAt, requantizeBig, requantizeSum, requantizeSumAt, roundShiftBig } from '../../src/integer/requant.js';

const ratio = fc.double({ min: 1e-12, max: 1e4, noNaN: true }).chain((r) => fc.constantFrom(r, -r));

describe('dyadic requantization', () => {
  it('the 31-bit mantissa is within 2^-30 of the real ratio, and past the shift limit within half its last step', () => {
    fc.assert(
      fc.property(ratio, (r) => {
        const d = dyadic(r);
        expect(Math.abs(d.m)).toBeLessThan(2 ** 31);
        expect(d.e).toBeLessThanOrEqual(MAX_SHIFT);
        // A full 31-bit mantissa needs a shift of up to 31 − log2|r|; below 2^−37 the shift is capped and
        // the mantissa loses low bits (requant.ts), so the error is bounded by half a step of 2^−MAX_SHIFT.
        const bound = Math.abs(r) >= 2 ** -37 ? 2 ** -30 * Math.abs(r) : 2 ** -30 * Math.abs(r) + 2 ** -(MAX_SHIFT + 1);
        expect(Math.abs(dyadicValue(d) - r)).toBeLessThanOrEqual(bound);
      }),
      { numRuns: 5000 },
    );
    // The case a random run once found: 1.18e-12 is below the shift limit.
    const tiny = 1.1825324632169134e-12;
    expect(Math.abs(dyadicValue(dyadic(tiny)) - tiny)).toBeLessThanOrEqual(2 ** -30 * tiny + 2 ** -(MAX_SHIFT + 1));
  });

  it('the split-product fast path equals the BigInt product, rounding half toward +infinity, for |z| < 2^37', () => {
    fc.assert(
      fc.property(ratio, fc.integer({ min: -(2 ** 31), max: 2 ** 31 }), fc.double({ min: -(2 ** 37) + 1, max: 2 ** 37 - 1, noNaN: true }), (r, z, big) => {
        const d = dyadic(r);
        expect(requantize(z, d)).toBe(requantizeBig(z, d));
        const zb = Math.trunc(big);
        expect(requantize(zb, d)).toBe(requantizeBig(zb, d));
        const table = dyadicTable([d]);
        expect(requantizeAt(zb, table, 0)).toBe(requantizeBig(zb, d));
      }),
      { numRuns: 2000 },
    );
  });

  it('ties round toward +infinity: 5/2 → 3 and −5/2 → −2', () => {
    const half = dyadic(0.5);
    expect(requantize(5, half)).toBe(3);
    expect(requantize(-5, half)).toBe(-2);
    expect(roundShiftBig(-5n, 1)).toBe(-2n);
  });

  it('a sum of two products on one shift is rounded once, exactly as in BigInt', () => {
    fc.assert(
      fc.property(ratio, ratio, fc.integer({ min: -(2 ** 31), max: 2 ** 31 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 }), (r1, r2, z1, z2) => {
        const [d1, d2] = dyadicCommon([r1, r2]);
        const expected = Number(roundShiftBig(BigInt(z1) * BigInt(d1.m) + BigInt(z2) * BigInt(d2.m), d1.e));
        expect(requantizeSum(z1, d1, z2, d2)).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('values past the fast path (|z| ≥ 2^37) still requantize exactly', () => {
    const d = dyadic(0.3);
    const z = 2 ** 45 + 12345;
    expect(requantize(z, d)).toBe(Number(roundShiftBig(BigInt(z) * BigInt(d.m), d.e)));
  });

  it('the float shortcut of the tables gives the exact result next to rounding boundaries too', () => {
    fc.assert(
      fc.property(ratio, fc.integer({ min: -30000, max: 30000 }), fc.integer({ min: -2, max: 2 }), (r, k, delta) => {
        const d = dyadic(r);
        const table = dyadicTable([d]);
        // z right at, just below and just above the value whose product is the tie k + 1/2.
        const z = Math.floor(((k + 0.5) * 2 ** d.e) / d.m) + delta;
        if (!Number.isSafeInteger(z) || Math.abs(z) >= 2 ** 37) return;
        expect(requantizeAt(z, table, 0)).toBe(requantizeBig(z, d));
      }),
      { numRuns: 3000 },
    );
    const half = dyadicTable([dyadic(0.5)]);
    for (let z = -9; z <= 9; z++) expect(requantizeAt(z, half, 0)).toBe(Math.floor(z / 2 + 0.5));
  });

  it('the float shortcut of a sum of two products is exact next to rounding boundaries too', () => {
    fc.assert(
      fc.property(ratio, ratio, fc.integer({ min: -(2 ** 20), max: 2 ** 20 }), fc.integer({ min: -30000, max: 30000 }), fc.integer({ min: -2, max: 2 }), (r1, r2, z1, k, delta) => {
        const [d1, d2] = dyadicCommon([r1, r2]);
        if (d2.m === 0) return;
        // z2 chosen so that the sum lands at or next to the tie k + 1/2.
        const z2 = Math.floor(((k + 0.5) * 2 ** d1.e - z1 * d1.m) / d2.m) + delta;
        if (!Number.isSafeInteger(z2) || Math.abs(z2) >= 2 ** 36) return;
        const expected = Number(roundShiftBig(BigInt(z1) * BigInt(d1.m) + BigInt(z2) * BigInt(d2.m), d1.e));
        expect(requantizeSumAt(z1, dyadicTable([d1]), z2, dyadicTable([d2]), 0)).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });
});
