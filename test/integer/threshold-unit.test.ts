import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { thresholdCode, thresholdUnit } from '../../src/integer/threshold-unit.js';
import { countAbove, quantizeValue } from '../../src/quant/quantizers.js';
import type { ThresholdQuant } from '../../src/quant/spec.js';

describe('threshold unit', () => {
  it('integer comparators give the float threshold quantizer’s code on the dequantized value, element for element', () => {
    const increasing = fc.array(fc.double({ min: -50, max: 50, noNaN: true }), { minLength: 3, maxLength: 15 }).map((xs) => Float64Array.from(new Set(xs)).sort());
    fc.assert(
      fc.property(
        increasing,
        fc.double({ min: 1e-6, max: 3, noNaN: true }).chain((s) => fc.constantFrom(s, -s)),
        fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 }), { minLength: 1, maxLength: 50 }),
        (thresholds, scale, zs) => {
          const unit = thresholdUnit(thresholds, scale);
          const q: ThresholdQuant = { kind: 'threshold', bits: 4, thresholds, step: 0.5, offset: 0 };
          for (const z of zs) {
            expect(thresholdCode(z, unit)).toBe(countAbove(thresholds, z * scale));
            expect(thresholdCode(z, unit)).toBe(quantizeValue(q, z * scale));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('compares strictly, as N2UQ’s code: a value equal to a threshold stays below it', () => {
    const unit = thresholdUnit(Float64Array.of(1, 2, 3), 0.5);
    expect(thresholdCode(2, unit)).toBe(0); // 2·0.5 = 1, not > 1
    expect(thresholdCode(3, unit)).toBe(1);
    expect(thresholdCode(7, unit)).toBe(3);
  });

  it('a threshold that lands exactly on the integer grid is corrected against the float product', () => {
    // 0.1·3 = 0.30000000000000004 > 0.3 in float64, so z = 3 must already count.
    const unit = thresholdUnit(Float64Array.of(0.3), 0.1);
    expect(thresholdCode(3, unit)).toBe(countAbove(Float64Array.of(0.3), 3 * 0.1));
  });
});
