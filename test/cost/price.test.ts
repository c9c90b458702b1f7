import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/config/errors.js';
import { areaReport, energyReport } from '../../src/cost/format.js';
import { DRAM, NOISE_ADDER, PE_ARRAY, priceArea, priceEnergy, sramComponentName, THRESHOLD_UNIT, VECTOR_UNIT, type ActionCounts, type Components } from '../../src/cost/price.js';
import { sramCost } from '../../src/cost/sram.js';
import { technology } from '../../src/cost/technology.js';

/** A 16×16 int8 design in the spirit of arch/edge-16x16.json, with every unit present. */
const components: Components = {
  clockHz: 500e6,
  pe: { count: 256, kind: 'fixed', actBits: 8, weightBits: 8, accBits: 32, zeroGating: false },
  srams: [
    { name: 'ifmap', bytes: 32768, portBits: 64 },
    { name: 'filter', bytes: 32768, portBits: 64 },
    { name: 'ofmap', bytes: 32768, portBits: 128 },
  ],
  dram: { type: 'LPDDR4' },
  vector: { lanes: 16, bits: 16 },
  threshold: { comparators: 16 * 15, bits: 16 },
  noise: { adders: 16, bits: 16, tableEntries: 384, entryBits: 8 },
};

const actions: ActionCounts = {
  cycles: 1_000_000,
  macs: [{ actBits: 8, weightBits: 8, accBits: 32, count: 200_000_000, zeroOperandFraction: 0.4 }],
  sram: [
    { buffer: 'ifmap', portBits: 64, reads: 3_000_000, writes: 1_000_000 },
    { buffer: 'filter', portBits: 64, reads: 2_000_000, writes: 500_000 },
    { buffer: 'ofmap', portBits: 128, reads: 100_000, writes: 400_000 },
  ],
  dram: { readBytes: 4_000_000, writeBytes: 1_000_000 },
  comparisons: [{ bits: 16, count: 5_000_000 }],
  noise: [{ bits: 16, additions: 300_000, tableReads: 300_000 }],
  vector: [
    { kind: 'add', bits: 16, count: 1_000_000 },
    { kind: 'multiply', bits: 16, count: 500_000 },
    { kind: 'divide', bits: 16, count: 10_000 },
  ],
};

const byName = <T extends { component: string }>(xs: T[], name: string): T => xs.find((x) => x.component === name)!;

describe('pricing actions and components', () => {
  it('reports every component, and the total is the sum of dynamic and leakage energy', () => {
    const e = priceEnergy(actions, components, technology(45e-9));
    expect(e.components.map((c) => c.component)).toEqual([PE_ARRAY, 'sram ifmap', 'sram filter', 'sram ofmap', DRAM, VECTOR_UNIT, THRESHOLD_UNIT, NOISE_ADDER]);
    expect(e.totalJ).toBeCloseTo(e.components.reduce((s, c) => s + c.dynamicJ + c.leakageJ, 0), 18);
    expect(e.latencySeconds).toBe(2e-3);
    for (const c of e.components) expect(c.dynamicJ).toBeGreaterThan(0);
  });

  it('MACs are priced from the Horowitz rows at 45 nm: 2·10⁸ int8 MACs with 32-bit accumulators cost 2·10⁸ × 0.3 pJ', () => {
    const e = priceEnergy(actions, components, technology(45e-9));
    expect(byName(e.components, PE_ARRAY).dynamicJ).toBeCloseTo(2e8 * 0.3e-12, 12);
  });

  it('SRAM energy is accesses × the CACTI-fitted energy per access, and leakage is leakage power × latency', () => {
    const e = priceEnergy(actions, components, technology(45e-9));
    const c = sramCost({ bytes: 32768, portBits: 64, nodeMetres: 45e-9, flavour: 'hp' });
    const ifmap = byName(e.components, 'sram ifmap');
    expect(ifmap.dynamicJ).toBeCloseTo(3e6 * c.readEnergyJ + 1e6 * c.writeEnergyJ, 15);
    expect(ifmap.leakageJ).toBeCloseTo(c.leakageW * 2e-3, 15);
  });

  it('DRAM energy is bytes × 8 × the type\'s pJ/bit and does not follow the node', () => {
    const at45 = byName(priceEnergy(actions, components, technology(45e-9)).components, DRAM).dynamicJ;
    const at7 = byName(priceEnergy(actions, components, technology(7e-9)).components, DRAM).dynamicJ;
    expect(at45).toBeCloseTo(5e6 * 8 * 8e-12, 15);
    expect(at7).toBe(at45);
  });

  it('re-pricing the same counts at 7 nm multiplies logic energy by 0.056 and logic area by 0.059', () => {
    const e45 = priceEnergy(actions, components, technology(45e-9));
    const e7 = priceEnergy(actions, components, technology(7e-9));
    const a45 = priceArea(components, technology(45e-9));
    const a7 = priceArea(components, technology(7e-9));
    for (const name of [PE_ARRAY, VECTOR_UNIT, THRESHOLD_UNIT, NOISE_ADDER]) {
      expect(byName(e7.components, name).dynamicJ / byName(e45.components, name).dynamicJ).toBeCloseTo(0.056, 12);
      expect(byName(a7.components, name).areaM2 / byName(a45.components, name).areaM2).toBeCloseTo(0.059, 12);
    }
    // SRAM at 7 nm is scaled from CACTI 22 nm, and the notes say so.
    expect(e7.notes.join(' ')).toMatch(/scaled from CACTI 22 nm/);
  });

  it('zero gating turns measured sparsity into less PE energy, and the report shows how much', () => {
    const gated: Components = { ...components, pe: { ...components.pe, zeroGating: true } };
    const off = priceEnergy(actions, components, technology(45e-9));
    const on = priceEnergy(actions, gated, technology(45e-9));
    const pe = (e: typeof on) => byName(e.components, PE_ARRAY).dynamicJ;
    expect(off.zeroGating).toEqual({ enabled: false, macs: 2e8, gatedMacs: 0, savedJ: 0 });
    expect(on.zeroGating.enabled).toBe(true);
    expect(on.zeroGating.gatedMacs).toBeCloseTo(0.4 * 2e8, 3);
    expect(pe(on)).toBeLessThan(pe(off));
    expect(on.zeroGating.savedJ).toBeCloseTo(pe(off) - pe(on), 15);
    // 40% of MACs skip the 0.3 pJ datapath, and every MAC pays a zero detect on both operands.
    expect(on.zeroGating.savedJ / pe(off)).toBeGreaterThan(0.3);
    expect(on.zeroGating.savedJ / pe(off)).toBeLessThan(0.4);
    // Without operand statistics nothing is gated, and the zero detect makes gating cost a little.
    const dense = { ...actions, macs: [{ ...actions.macs[0], zeroOperandFraction: undefined }] };
    expect(priceEnergy(dense, gated, technology(45e-9)).zeroGating.savedJ).toBeLessThan(0);
  });

  it('a lower supply lowers dynamic energy but not area', () => {
    const nominal = priceEnergy(actions, components, technology(16e-9));
    const low = priceEnergy(actions, components, technology(16e-9, { volts: 0.7 }));
    expect(byName(low.components, PE_ARRAY).dynamicJ).toBeLessThan(byName(nominal.components, PE_ARRAY).dynamicJ);
    expect(priceArea(components, technology(16e-9, { volts: 0.7 })).totalM2).toBe(priceArea(components, technology(16e-9)).totalM2);
  });

  it('the area breakdown covers the whole design and its PE array is 256 Horowitz-composed PEs', () => {
    const a = priceArea(components, technology(45e-9));
    expect(a.components.map((c) => c.component)).toEqual([PE_ARRAY, 'sram ifmap', 'sram filter', 'sram ofmap', VECTOR_UNIT, THRESHOLD_UNIT, NOISE_ADDER]);
    expect(a.totalM2).toBeCloseTo(a.components.reduce((s, c) => s + c.areaM2, 0), 18);
    const sram = byName(a.components, sramComponentName('ifmap')).areaM2;
    expect(sram).toBeCloseTo(sramCost({ bytes: 32768, portBits: 64, nodeMetres: 45e-9, flavour: 'hp' }).areaM2, 15);
  });

  it('a DRAM type without an energy row (DDR4) is refused with one line', () => {
    const ddr4: Components = { ...components, dram: { type: 'DDR4' } };
    expect(() => priceEnergy(actions, ddr4, technology(45e-9))).toThrow(UserError);
    expect(() => priceEnergy(actions, ddr4, technology(45e-9))).toThrow(/DDR4 has no energy-per-bit row/);
  });

  it('a design at an unknown node is refused with one line, by both prices', () => {
    expect(() => priceEnergy(actions, components, technology(12e-9))).toThrow(UserError);
    expect(() => priceArea(components, technology(65e-9))).toThrow(UserError);
  });
});

describe('the energy and area reports', () => {
  it('list every component and make the zero-gating saving visible', () => {
    const gated: Components = { ...components, pe: { ...components.pe, zeroGating: true } };
    const text = energyReport(priceEnergy(actions, gated, technology(28e-9))).join('\n');
    for (const c of [PE_ARRAY, 'sram ifmap', DRAM, VECTOR_UNIT, THRESHOLD_UNIT, NOISE_ADDER]) expect(text).toContain(c);
    expect(text).toMatch(/zero gating: 40% of 2\.000e\+8 MACs had a zero operand and were gated, saving [\d.]+ µJ/);
    expect(text).toMatch(/note: technology 28 nm is interpolated/);
    const area = areaReport(priceArea(components, technology(28e-9))).join('\n');
    expect(area).toMatch(/total [\d.]+ mm² at 28 nm/);
  });
});
