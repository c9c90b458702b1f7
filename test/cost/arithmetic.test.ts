import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { adderEnergyJ, fusionMacsPerCycle, macEnergyJ, multiplierAreaM2, multiplierEnergyJ, peAreaM2, peMacEnergyJ, type PeSpec } from '../../src/cost/arithmetic.js';
import { BITFUSION_FIXED_45, BITFUSION_FUSION_45 } from '../../src/cost/tables.js';

const pJ = 1e-12;
const um2 = 1e-12;

describe('MACs and PEs at 45 nm', () => {
  it('an int8 MAC with a 32-bit accumulator at 45 nm costs the Horowitz 0.2 pJ + 0.1 pJ', () => {
    expect(macEnergyJ(8, 8, 32, 'horowitz')).toBeCloseTo(0.3 * pJ, 18);
    const pe: PeSpec = { kind: 'fixed', actBits: 8, weightBits: 8, accBits: 32 };
    expect(peMacEnergyJ(pe, { actBits: 8, weightBits: 8 }, 'horowitz')).toBeCloseTo(0.3 * pJ, 18);
  });

  it('the Horowitz int32 multiplier and the 8, 16 and 32-bit adders come back exactly', () => {
    expect(multiplierEnergyJ(32, 32, 'horowitz')).toBeCloseTo(3.1 * pJ, 18);
    expect(multiplierAreaM2(32, 32, 'horowitz')).toBeCloseTo(3495 * um2, 18);
    expect(multiplierAreaM2(8, 8, 'horowitz')).toBeCloseTo(282 * um2, 18);
    expect([8, 16, 32].map((b) => adderEnergyJ(b, 'horowitz') / pJ)).toEqual([0.03, 0.05, 0.1].map((x) => expect.closeTo(x, 12)));
  });

  it('multiplier energy grows with b_a·b_w and adder energy with width, in both tables', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 32 }), fc.integer({ min: 1, max: 32 }), fc.integer({ min: 1, max: 31 }), fc.constantFrom('horowitz' as const, 'aladdin' as const), (a, w, b, table) => {
        expect(multiplierEnergyJ(a + 1, w, table)).toBeGreaterThan(multiplierEnergyJ(a, w, table));
        expect(multiplierEnergyJ(a, w, table)).toBeCloseTo(multiplierEnergyJ(w, a, table), 20);
        expect(adderEnergyJ(b + 1, table)).toBeGreaterThan(adderEnergyJ(b, table));
      }),
    );
    // Accelergy's law for Aladdin: quadratic in width, so a 16×16 multiplier is a quarter of a 32×32.
    expect(multiplierEnergyJ(16, 16, 'aladdin') * 4).toBeCloseTo(multiplierEnergyJ(32, 32, 'aladdin'), 18);
  });

  it('the Aladdin table is the pessimistic corner: an int8 MAC costs 3–5× the Horowitz one', () => {
    const ratio = macEnergyJ(8, 8, 32, 'aladdin') / macEnergyJ(8, 8, 32, 'horowitz');
    expect(ratio).toBeGreaterThan(3);
    expect(ratio).toBeLessThan(5);
  });

  it('the BitFusion fixed-PE rows come back exactly at 45 nm for their configurations', () => {
    for (const r of BITFUSION_FIXED_45) {
      const pe: PeSpec = { kind: 'fixed', actBits: r.bits, weightBits: r.bits, accBits: 32 };
      expect(peMacEnergyJ(pe, { actBits: r.bits, weightBits: r.bits }, 'bitfusion')).toBe(r.energyPerCycle.value);
      expect(peAreaM2(pe, 'bitfusion')).toBe(r.area.value);
    }
  });

  it('the BitFusion fusion-unit rows come back exactly at full width, and low precision divides a cycle among (max/b_a)·(max/b_w) MACs', () => {
    for (const r of BITFUSION_FUSION_45) {
      const pe: PeSpec = { kind: 'bitfusion', actBits: r.bits, weightBits: r.bits, accBits: 32 };
      expect(peMacEnergyJ(pe, { actBits: r.bits, weightBits: r.bits }, 'horowitz')).toBe(r.energyPerCycle.value);
      expect(peAreaM2(pe, 'horowitz')).toBe(r.area.value);
    }
    const unit8: PeSpec = { kind: 'bitfusion', actBits: 8, weightBits: 8, accBits: 32 };
    expect(fusionMacsPerCycle(8, 2, 2)).toBe(16);
    expect(fusionMacsPerCycle(8, 4, 8)).toBe(2);
    expect(fusionMacsPerCycle(8, 3, 8)).toBe(2);
    expect(peMacEnergyJ(unit8, { actBits: 2, weightBits: 2 }, 'horowitz')).toBeCloseTo((0.689 * pJ) / 16, 20);
    // A 16-bit operand on an 8-bit unit takes two passes.
    expect(peMacEnergyJ(unit8, { actBits: 16, weightBits: 8 }, 'horowitz')).toBeCloseTo(2 * 0.689 * pJ, 20);
  });

  it('a fixed PE prices narrower MACs at its native width and wider ones as ceil(b/native) passes per operand', () => {
    const pe: PeSpec = { kind: 'fixed', actBits: 8, weightBits: 8, accBits: 32 };
    const one = peMacEnergyJ(pe, { actBits: 8, weightBits: 8 }, 'horowitz');
    expect(peMacEnergyJ(pe, { actBits: 4, weightBits: 4 }, 'horowitz')).toBe(one);
    expect(peMacEnergyJ(pe, { actBits: 16, weightBits: 16 }, 'horowitz')).toBeCloseTo(4 * one, 20);
    expect(peMacEnergyJ(pe, { actBits: 9, weightBits: 8 }, 'horowitz')).toBeCloseTo(2 * one, 20);
  });
});
