import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OUT_FRACTION_BITS } from '../../src/integer/ivit.js';
import { compileUnit, quantizeRows } from '../../src/integer/quantizer-unit.js';
import { dequantizeValue, quantizeValue } from '../../src/quant/quantizers.js';
import type { ActQuant, ThresholdQuant, TwinGeluQuant, TwinSoftmaxQuant, UniformQuant } from '../../src/quant/spec.js';

/** Codes of the float quantizer on the dequantized inputs z·S (twin codes in spec.ts's layout). */
function floatCodes(q: ActQuant, z: Float64Array, scale: (c: number) => number, channels: number): number[] {
  return Array.from(z, (v, i) => quantizeValue(q, v * scale(i % channels), i % channels));
}

/** The unit's operands back in spec.ts's code layout. */
function unitCodes(q: ActQuant, main: Int16Array, high: Int16Array | undefined): number[] {
  if (q.kind === 'twin-softmax') return Array.from(main, (m, i) => ((high as Int16Array)[i] !== 0 ? 2 ** (q.bits - 1) + (high as Int16Array)[i] : m));
  if (q.kind === 'twin-gelu') return Array.from(main, (m, i) => m + (high as Int16Array)[i]);
  return Array.from(main);
}

describe('quantizer units', () => {
  it('a threshold unit after per-channel scales of both signs (LayerNorm γ) equals the float threshold quantizer element for element', () => {
    const thresholds = Float64Array.from({ length: 15 }, (_, i) => -1.4 + 0.2 * i + 0.013 * Math.sin(i));
    const q: ThresholdQuant = { kind: 'threshold', bits: 4, thresholds, step: 0.2, offset: -1.5 };
    const scales = [3e-9, -7e-9, 1.2e-8, -2.5e-9];
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -(2 ** 30), max: 2 ** 30 }), { minLength: 8, maxLength: 8 }), (values) => {
        const z = Float64Array.from(values);
        const { unit } = compileUnit(q, (_t, c) => scales[c], { channels: 4, inTokens: 1, role: 'linear' }, 'test');
        const main = new Int16Array(8);
        quantizeRows(unit, z, 2, 1, main, undefined);
        expect(unitCodes(q, main, undefined)).toEqual(floatCodes(q, z, (c) => scales[c], 4));
      }),
      { numRuns: 300 },
    );
  });

  it('twin-softmax operands on integer probabilities carry exactly the values of PTQ4ViT’s float twin quantizer', () => {
    for (const split of [0, 2, 5, 9]) {
      const q: TwinSoftmaxQuant = { kind: 'twin-softmax', bits: 6, splitExponent: split };
      const z = Float64Array.from({ length: 2 ** OUT_FRACTION_BITS + 1 }, (_, i) => i);
      const { unit } = compileUnit(q, () => 2 ** -OUT_FRACTION_BITS, { channels: z.length, inTokens: 1, role: 'matmul' }, 'p');
      const main = new Int16Array(z.length);
      const high = new Int16Array(z.length);
      quantizeRows(unit, z, 1, 1, main, high);
      // A large-range element whose magnitude rounds to 0 loses its flag in the operand arrays; it
      // multiplies as 0 either way, so compare real values (exact: steps are dyadic here).
      const top = 2 ** (q.bits - 1) - 1;
      const got = Array.from(main, (m, i) => (m * 2 ** -split) / top + high[i] / top);
      const expected = floatCodes(q, z, () => 2 ** -OUT_FRACTION_BITS, z.length).map((code) => dequantizeValue(q, code));
      expect(got).toEqual(expected);
    }
  });

  it('twin-GELU codes equal the float twin quantizer on the dequantized GELU outputs', () => {
    const q: TwinGeluQuant = { kind: 'twin-gelu', bits: 8, negScale: 0.16997 / 128, posShift: 4 };
    const scale = 3.1e-7;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -(2 ** 20), max: 2 ** 26 }), { minLength: 16, maxLength: 16 }), (values) => {
        const z = Float64Array.from(values);
        const { unit } = compileUnit(q, () => scale, { channels: 16, inTokens: 1, role: 'linear' }, 'g');
        const main = new Int16Array(16);
        const high = new Int16Array(16);
        quantizeRows(unit, z, 1, 1, main, high);
        const expected = floatCodes(q, z, () => scale, 16);
        // Float division and the dyadic requantizer may disagree only on an exact tie.
        unitCodes(q, main, high).forEach((code, i) => expect(Math.abs(code - expected[i])).toBeLessThanOrEqual(1));
        expect(unitCodes(q, main, high).filter((code, i) => code !== expected[i]).length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 200 },
    );
  });

  it('the noise adder adds on-grid NoisyQuant noise exactly: codes equal the float quantizer of x + noise', () => {
    const scale = 2 ** -20;
    const noise = Float32Array.from({ length: 8 }, (_, c) => (c - 3.5) * 37 * scale);
    const q: UniformQuant = { kind: 'uniform', bits: 8, signed: true, scale: Float32Array.of(0.01), zeroPoint: 0, addend: { kind: 'noise', preAdd: noise, postAdd: noise.map((v) => -v) } };
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -(2 ** 24), max: 2 ** 24 }), { minLength: 8, maxLength: 8 }), (values) => {
        const z = Float64Array.from(values);
        const { unit } = compileUnit(q, () => scale, { channels: 8, inTokens: 1, role: 'linear' }, 'n');
        const main = new Int16Array(8);
        quantizeRows(unit, z, 1, 1, main, undefined);
        expect(Array.from(main)).toEqual(floatCodes(q, z, () => scale, 8));
      }),
      { numRuns: 300 },
    );
  });
});
