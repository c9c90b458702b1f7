import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { iExp, iExpConstants, iGelu, iGeluConstants, iSoftmaxConstants, iSoftmaxRow } from '../../src/integer/ibert.js';
import {
  iLayerNormRow, integerSqrt, layerNormStep, OUT_FRACTION_BITS, shiftExp, shiftExpConstants, shiftExpOne, shiftGelu, shiftGeluConstants, shiftmaxConstants, shiftmaxRow,
} from '../../src/integer/ivit.js';
import { IBERT_NONLINEARS, IVIT_NONLINEARS } from '../../src/integer/nonlinear-float.js';
import { normalCdf } from '../../src/model/layers/gelu.js';

const gelu = (x: number): number => x * normalCdf(x);

describe('I-ViT integer kernels', () => {
  it('ShiftExp stays within I-ViT’s approximation error of e^x (under 10 % relative down to e^−8)', () => {
    for (const scale of [1e-4, 3e-3, 0.05, 0.4]) {
      const c = shiftExpConstants(scale, 1, 15);
      const one = shiftExpOne(c);
      for (let q = 0; q * scale > -8; q -= Math.max(1, Math.floor(0.01 / scale))) {
        const approx = shiftExp(q, c) / one;
        expect(Math.abs(approx - Math.exp(q * scale)) / Math.exp(q * scale)).toBeLessThan(0.1);
      }
    }
  });

  it('Shiftmax rows sum to 1 within a few steps of 2^−15 and follow the float softmax', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -20000, max: 20000 }), { minLength: 17, maxLength: 17 }), fc.double({ min: 1e-4, max: 1e-3, noNaN: true }), (row, scale) => {
        const scores = Float64Array.from(row);
        const out = new Float64Array(17);
        shiftmaxRow(scores, 0, 17, out, 0, shiftmaxConstants(scale, 17), new Float64Array(17));
        const sum = out.reduce((a, b) => a + b, 0);
        expect(Math.abs(sum - 2 ** OUT_FRACTION_BITS)).toBeLessThanOrEqual(17);
        const max = Math.max(...row);
        const exps = row.map((v) => Math.exp((v - max) * scale));
        const total = exps.reduce((a, b) => a + b, 0);
        exps.forEach((e, j) => expect(Math.abs(out[j] / 2 ** OUT_FRACTION_BITS - e / total)).toBeLessThan(0.08));
        // The float-domain mirror computes the same approximation.
        const mirror = Float32Array.from(row, (v) => v * scale);
        IVIT_NONLINEARS.softmaxRows(mirror, 1, 17);
        mirror.forEach((p, j) => expect(Math.abs(p - out[j] / 2 ** OUT_FRACTION_BITS)).toBeLessThan(2e-3));
      }),
      { numRuns: 100 },
    );
  });

  it('ShiftGELU follows x·σ(1.702x) and stays within 0.03 of the exact GELU', () => {
    const scale = 8 / 32767;
    const c = shiftGeluConstants(scale);
    for (let q = -32767; q <= 32767; q += 97) {
      const x = q * scale;
      const approx = shiftGelu(q, c) * scale * 2 ** -OUT_FRACTION_BITS;
      expect(Math.abs(approx - gelu(x))).toBeLessThan(0.03);
      const mirror = new Float32Array(1);
      IVIT_NONLINEARS.gelu(Float32Array.of(x), mirror, 1);
      expect(Math.abs(approx - mirror[0])).toBeLessThan(2e-3 * Math.max(1, Math.abs(x)));
    }
  });

  it('I-LayerNorm of a 16-bit row matches the float normalisation to 1e-4', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -32768, max: 32767 }), { minLength: 64, maxLength: 64 }), (row) => {
        const x = Int32Array.from(row);
        const out = new Float64Array(64);
        iLayerNormRow(x, 0, 64, out);
        const mean = row.reduce((a, b) => a + b, 0) / 64;
        const std = Math.sqrt(row.reduce((a, b) => a + (b - mean) ** 2, 0) / 64);
        if (std < 4) return;
        out.forEach((y, i) => expect(Math.abs(y * layerNormStep(64) - (row[i] - mean) / std)).toBeLessThan(1e-3));
      }),
      { numRuns: 200 },
    );
  });

  it('the integer square root is exact (the fixed point of Newton’s iteration)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (v) => {
        const k = integerSqrt(v);
        expect(BigInt(k) * BigInt(k) <= BigInt(v)).toBe(true);
        expect(BigInt(k + 1) * BigInt(k + 1) > BigInt(v)).toBe(true);
      }),
    );
  });
});

describe('I-BERT integer kernels', () => {
  it('i-exp is within 1 % of e^x', () => {
    const scale = 2e-3;
    const c = iExpConstants(scale);
    for (let q = 0; q * scale > -6; q -= 7) {
      expect(Math.abs(iExp(q, c) / c.cInt - Math.exp(q * scale)) / Math.exp(q * scale)).toBeLessThan(1e-2);
    }
  });

  it('the I-BERT softmax follows the float softmax within 0.5 % of a probability', () => {
    const row = Float64Array.from({ length: 17 }, (_, j) => (j * 977) % 3001);
    const out = new Float64Array(17);
    const scale = 1e-3;
    iSoftmaxRow(row, 0, 17, out, 0, iSoftmaxConstants(scale, 17), new Float64Array(17));
    const exps = Array.from(row, (v) => Math.exp((v - 3000) * scale));
    const total = exps.reduce((a, b) => a + b, 0);
    exps.forEach((e, j) => expect(Math.abs(out[j] / 2 ** OUT_FRACTION_BITS - e / total)).toBeLessThan(5e-3));
    const mirror = Float32Array.from(row, (v) => v * scale);
    IBERT_NONLINEARS.softmaxRows(mirror, 1, 17);
    mirror.forEach((p, j) => expect(Math.abs(p - out[j] / 2 ** OUT_FRACTION_BITS)).toBeLessThan(1e-3));
  });

  it('i-GELU stays within 0.02 of the exact GELU', () => {
    const scale = 8 / 32767;
    const c = iGeluConstants(scale);
    for (let q = -32767; q <= 32767; q += 101) {
      expect(Math.abs(iGelu(q, c) * scale * c.outScale - gelu(q * scale))).toBeLessThan(0.02);
    }
  });
});
