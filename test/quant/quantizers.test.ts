import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  countAbove, dequantizeArray, dequantizeValue, dequantizeWeight, fakeQuantArray, fakeQuantValue, initialStep, percentileRange,
  quantizeArray, quantizeValue, stepGrid, uniformFromRange, weightMinMax,
} from '../../src/quant/quantizers.js';
import type { ActQuant, ThresholdQuant, TwinGeluQuant, TwinSoftmaxQuant, UniformQuant } from '../../src/quant/spec.js';

const f32 = Math.fround;
const bitsArb = fc.integer({ min: 2, max: 16 });
const scaleArb = fc.double({ min: 1e-4, max: 10, noNaN: true }).map(f32);

describe('uniform quantizer', () => {
  it('dequant(quant(x)) is within scale/2 of x for every x inside the representable range', () => {
    fc.assert(fc.property(bitsArb, fc.boolean(), scaleArb, fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 65535 }), (bits, signed, s, u, z) => {
      const lo = signed ? -(2 ** (bits - 1)) : 0;
      const hi = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
      const zeroPoint = signed ? 0 : z % (hi + 1);
      const q: UniformQuant = { kind: 'uniform', bits, signed, scale: Float32Array.of(s), zeroPoint };
      const x = s * (lo - zeroPoint + u * (hi - lo));
      const code = quantizeValue(q, x);
      expect(code).toBeGreaterThanOrEqual(lo);
      expect(code).toBeLessThanOrEqual(hi);
      expect(Math.abs(dequantizeValue(q, code) - x)).toBeLessThanOrEqual(s / 2 + 1e-9 * s * 2 ** bits);
    }));
  });

  it('clamps outside the range and rounds ties toward +infinity', () => {
    const q: UniformQuant = { kind: 'uniform', bits: 4, signed: true, scale: Float32Array.of(0.5), zeroPoint: 0 };
    expect(quantizeValue(q, 100)).toBe(7);
    expect(quantizeValue(q, -100)).toBe(-8);
    expect(quantizeValue(q, 0.25)).toBe(1);
    expect(quantizeValue(q, -0.25)).toBe(0);
    expect(quantizeValue(q, -0.75)).toBe(-1);
  });

  it('uses the scale of the row token for per-token quantizers and adds preAdd per channel before quantizing', () => {
    const q: UniformQuant = {
      kind: 'uniform', bits: 8, signed: true, scale: Float32Array.of(0.5, 0.25), zeroPoint: 0,
      addend: { kind: 'noise', preAdd: Float32Array.of(0, 1, 0), postAdd: Float32Array.of(0, -1, 0) },
    };
    // rows are tokens 0, 1, 0, 1 (two images of two tokens); channel 1 gets +1 before quantizing.
    const x = Float32Array.of(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    const codes = quantizeArray(q, x, 4, 3);
    expect([...codes]).toEqual([2, 4, 2, 4, 8, 4, 2, 4, 2, 4, 8, 4]);
    expect([...dequantizeArray(q, codes, 4, 3)]).toEqual([1, 2, 1, 1, 2, 1, 1, 2, 1, 1, 2, 1]);
  });

  it('fakeQuantArray equals the element-wise definition, on the fast path and the general one', () => {
    fc.assert(fc.property(bitsArb, fc.boolean(), scaleArb, fc.array(fc.double({ min: -50, max: 50, noNaN: true }), { minLength: 6, maxLength: 6 }), (bits, signed, s, values) => {
      const x = Float32Array.from(values);
      const plain: UniformQuant = { kind: 'uniform', bits, signed, scale: Float32Array.of(s), zeroPoint: signed ? 0 : 3 };
      const fast = fakeQuantArray(plain, x, 2, 3);
      x.forEach((v, i) => expect(fast[i]).toBe(f32(fakeQuantValue(plain, v))));
      const perToken: UniformQuant = { ...plain, scale: Float32Array.of(s, 2 * s) };
      const general = fakeQuantArray(perToken, x, 2, 3);
      x.forEach((v, i) => expect(general[i]).toBe(f32(fakeQuantValue(perToken, v, i % 3, Math.floor(i / 3)))));
    }));
  });
});

describe('twin-uniform quantizers', () => {
  it('twin-softmax: codes below 2^(b-1) use the small step 2^-i/(2^(b-1)-1), the others 2^i times larger', () => {
    fc.assert(fc.property(fc.integer({ min: 3, max: 10 }), fc.integer({ min: 0, max: 19 }), fc.double({ min: 0, max: 1, noNaN: true }), (bits, i, p) => {
      const q: TwinSoftmaxQuant = { kind: 'twin-softmax', bits, splitExponent: i };
      const half = 2 ** (bits - 1);
      const small = 2 ** -i / (half - 1);
      const code = quantizeValue(q, p);
      expect(code).toBeGreaterThanOrEqual(0);
      expect(code).toBeLessThan(2 * half);
      const step = code < half ? small : small * 2 ** i;
      expect(step / small).toBe(code < half ? 1 : 2 ** i);
      expect(code < half).toBe(p <= 2 ** -i);
      expect(Math.abs(dequantizeValue(q, code) - p)).toBeLessThanOrEqual(step / 2 + 1e-12);
    }));
  });

  it('twin-gelu: the sign bit picks the range and the positive step is negScale·2^posShift', () => {
    fc.assert(fc.property(fc.integer({ min: 3, max: 10 }), fc.integer({ min: 0, max: 8 }), fc.double({ min: -0.17, max: 6, noNaN: true }), (bits, shift, x) => {
      const half = 2 ** (bits - 1);
      const q: TwinGeluQuant = { kind: 'twin-gelu', bits, negScale: 0.16997 / half, posShift: shift };
      const code = quantizeValue(q, x);
      expect(code).toBeGreaterThanOrEqual(-half);
      expect(code).toBeLessThan(half);
      const posStep = q.negScale * 2 ** shift;
      expect(dequantizeValue(q, 1) / dequantizeValue(q, -1)).toBeCloseTo(-(2 ** shift), 12);
      const inside = x < 0 || x <= (half - 1) * posStep;
      if (inside) expect(Math.abs(dequantizeValue(q, code) - x)).toBeLessThanOrEqual((x < 0 ? q.negScale : posStep) / 2 + 1e-12);
      if (x < 0) expect(code).toBeLessThanOrEqual(0);
      else expect(code).toBeGreaterThanOrEqual(0);
    }));
  });
});

describe('threshold quantizer', () => {
  it('the code counts the thresholds strictly below x, and dequantizes to offset + step·code', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 5 }), fc.double({ min: -3, max: 3, noNaN: true }), fc.integer({ min: 1, max: 1000 }), (bits, x, seed) => {
      const n = 2 ** bits - 1;
      const thresholds = new Float64Array(n);
      let at = -2;
      for (let i = 0; i < n; i++) {
        at += 0.05 + ((seed * (i + 7)) % 13) / 40;
        thresholds[i] = at;
      }
      const q: ThresholdQuant = { kind: 'threshold', bits, thresholds, step: 0.3, offset: -1 };
      const code = quantizeValue(q, x);
      expect(code).toBe(thresholds.filter((t) => x > t).length);
      expect(dequantizeValue(q, code)).toBeCloseTo(-1 + 0.3 * code, 12);
    }));
    expect(countAbove(Float64Array.of(0, 1, 2), 1)).toBe(1);
  });
});

describe('weights and scale choice', () => {
  it('symmetric per-channel min-max weights reproduce every weight within half its channel scale, and the extreme one exactly', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 8 }), fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 12, maxLength: 12 }), (bits, values) => {
      const w = Float32Array.from(values);
      const q = weightMinMax(w, [3, 4], bits, true, 'channel');
      const back = dequantizeWeight(q);
      for (let o = 0; o < 3; o++) {
        for (let i = 0; i < 4; i++) expect(Math.abs(back[o * 4 + i] - w[o * 4 + i])).toBeLessThanOrEqual(q.scales[o] / 2 + 1e-6);
      }
      expect(q.codes.every((c) => c >= -(2 ** (bits - 1)) && c < 2 ** (bits - 1))).toBe(true);
    }));
  });

  it('asymmetric per-tensor weights use signed codes with a zero point and cover [min, max]', () => {
    const w = Float32Array.of(0.1, 0.5, 0.9, 1.3);
    const q = weightMinMax(w, [2, 2], 4, false, 'tensor');
    expect(q.zeroPoints).toBeDefined();
    const back = dequantizeWeight(q);
    w.forEach((v, i) => expect(Math.abs(back[i] - v)).toBeLessThanOrEqual(q.scales[0] / 2 + 1e-7));
  });

  it('uniformFromRange picks unsigned codes for non-negative data and a zero point for asymmetric ranges', () => {
    const p = uniformFromRange(0, 1, 8, true, true);
    expect([p.signed, p.zeroPoint, p.scale[0]]).toEqual([false, 0, f32(1 / 255)]);
    const a = uniformFromRange(-1, 3, 8, false);
    expect(a.signed).toBe(false);
    expect(dequantizeValue(a, quantizeValue(a, -1))).toBeCloseTo(-1, 2);
    expect(dequantizeValue(a, quantizeValue(a, 3))).toBeCloseTo(3, 2);
  });

  it('the grid is Δ0·(α + i(β−α)/n) with Δ0 = max|x|/(2^(b−1) − 0.5)', () => {
    expect(initialStep(7.5, 4, true)).toBe(1);
    const grid = stepGrid(2, 0.5, 1.2, 100);
    expect(grid).toHaveLength(101);
    expect(grid[0]).toBe(1);
    expect(grid[100]).toBeCloseTo(2.4, 12);
  });

  it('percentile ranges drop the tails and keep everything at 100', () => {
    const x = Float32Array.from({ length: 1001 }, (_, i) => i - 500);
    expect(percentileRange(x, 100, true)).toEqual({ min: -500, max: 500 });
    expect(percentileRange(x, 90, false)).toEqual({ min: -400, max: 400 });
  });

  it('uniform and twin quantizers map their own dequantized values to themselves (fake-quant is idempotent)', () => {
    const kinds: ActQuant[] = [
      { kind: 'uniform', bits: 5, signed: true, scale: Float32Array.of(0.1), zeroPoint: 0 },
      { kind: 'twin-softmax', bits: 6, splitExponent: 4 },
      { kind: 'twin-gelu', bits: 6, negScale: 0.16997 / 32, posShift: 3 },
    ];
    fc.assert(fc.property(fc.double({ min: -1, max: 1, noNaN: true }), (x) => {
      for (const q of kinds) {
        const once = fakeQuantValue(q, x);
        expect(fakeQuantValue(q, once), q.kind).toBeCloseTo(once, 12);
      }
    }));
  });
});
