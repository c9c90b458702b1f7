import { describe, expect, it } from 'vitest';
import { actionCounts, designComponents, designTechnology, priceSimulation, SRAM_PORT_BITS } from '../../src/cost/simulation.js';
import { DRAM, NOISE_ADDER, PE_ARRAY, THRESHOLD_UNIT, TWIN_UNIFORM, VECTOR_UNIT } from '../../src/cost/price.js';
import { loadArch } from '../../src/hw/arch-file.js';
import type { Accelerator } from '../../src/hw/arch.js';
import { simulateTrace } from '../../src/hw/simulate.js';
import { uniformBits } from '../../src/trace/bits.js';
import { buildTrace } from '../../src/trace/build.js';
import type { GemmOp } from '../../src/trace/ops.js';
import { loadWorkload } from '../../src/trace/workload.js';
import { refusal } from '../refusal.js';

const deitT = buildTrace(loadWorkload('deit-t'), { bits: uniformBits(8, 8) });


describe('pricing a simulation', () => {
  const arch = loadArch('mid-32x32');
  const sim = simulateTrace(arch, deitT);

  it('the design becomes components: PEs, three 64-bit-ported SRAMs, DRAM type, units (absent ones with nothing)', () => {
    const c = designComponents(arch);
    expect(c.pe).toEqual({ count: 1024, kind: 'fixed', actBits: 8, weightBits: 8, accBits: 32, zeroGating: false });
    expect(c.srams).toEqual([
      { name: 'ifmap', bytes: 131072, portBits: 64 },
      { name: 'filter', bytes: 131072, portBits: 64 },
      { name: 'ofmap', bytes: 65536, portBits: 64 },
    ]);
    expect(c.vector).toEqual({ lanes: 32, bits: 32 });
    expect(c.threshold.comparators).toBe(0);
    expect(c.noise).toMatchObject({ adders: 0, tableEntries: 0 });
    expect(c.twinUniform).toBeUndefined();
    const bf = designComponents(loadArch('bitfusion-16x32'));
    expect(bf.threshold).toEqual({ comparators: 32 * 15, bits: 32 });
    expect(bf.twinUniform).toEqual({ shifters: 16, bits: 8 });
  });

  it('SRAM words become 64-bit port accesses: the bits moved are kept', () => {
    const a = actionCounts(sim.totals.actions, sim.totals.cycles);
    for (const buffer of ['ifmap', 'filter', 'ofmap']) {
      const bits = sim.totals.actions.sram.filter((s) => s.buffer === buffer).reduce((s, x) => s + x.reads * x.wordBits, 0);
      expect(a.sram.find((s) => s.buffer === buffer)!.reads * SRAM_PORT_BITS).toBeCloseTo(bits, 0);
    }
  });

  it('per-op energies sum to the energy of the whole run, and energy per inference is the total over the batch', () => {
    const cost = priceSimulation(sim, arch, designTechnology(arch));
    const sum = cost.perOpJ.reduce((s, j) => s + j, 0);
    expect(Math.abs(sum - cost.energy.totalJ) / cost.energy.totalJ).toBeLessThan(1e-9);
    expect(cost.energyPerInferenceJ).toBe(cost.energy.totalJ);
    expect(cost.powerW).toBeCloseTo(cost.energy.totalJ / sim.totals.latencySeconds, 9);
    expect(cost.opsPerJoule).toBeCloseTo((2 * sim.totals.macs) / cost.energy.totalJ, 0);
    const batch4 = buildTrace(loadWorkload('deit-t'), { bits: uniformBits(8, 8), batch: 4 });
    const cost4 = priceSimulation(simulateTrace(arch, batch4), arch, designTechnology(arch));
    expect(cost4.energyPerInferenceJ).toBeCloseTo(cost4.energy.totalJ / 4, 12);
  });

  it('the breakdown names the array, each SRAM, DRAM, vector, threshold and noise units, each with its leakage; area has no DRAM', () => {
    const cost = priceSimulation(sim, arch, designTechnology(arch));
    expect(cost.energy.components.map((c) => c.component)).toEqual([PE_ARRAY, 'sram ifmap', 'sram filter', 'sram ofmap', DRAM, VECTOR_UNIT, THRESHOLD_UNIT, NOISE_ADDER]);
    expect(cost.area.components.map((c) => c.component)).toEqual([PE_ARRAY, 'sram ifmap', 'sram filter', 'sram ofmap', VECTOR_UNIT, THRESHOLD_UNIT, NOISE_ADDER]);
    const bf = loadArch('bitfusion-16x32');
    const bfCost = priceSimulation(simulateTrace(bf, deitT), bf, designTechnology(bf));
    expect(bfCost.area.components.map((c) => c.component)).toContain(TWIN_UNIFORM);
    expect(bfCost.area.components.find((c) => c.component === THRESHOLD_UNIT)!.areaM2).toBeGreaterThan(0);
  });

  it('--tech re-prices the same simulation: 7 nm changes energy and area, never the cycles, and DRAM energy stays', () => {
    const at28 = priceSimulation(sim, arch, designTechnology(arch));
    const at7 = priceSimulation(sim, arch, designTechnology(arch, { nodeMetres: 7e-9 }));
    expect(at7.technology.nodeMetres).toBe(7e-9);
    expect(at7.energy.latencySeconds).toBe(at28.energy.latencySeconds);
    expect(at7.energy.totalJ).toBeLessThan(at28.energy.totalJ);
    expect(at7.area.totalM2).toBeLessThan(at28.area.totalM2);
    const dram = (c: typeof at7): number => c.energy.components.find((x) => x.component === DRAM)!.dynamicJ;
    expect(dram(at7)).toBe(dram(at28));
    // Logic energy follows Stillmaker–Baas: 28 → 7 nm is 0.056 / 0.42 of the 45 nm figure.
    const pe = (c: typeof at7): number => c.energy.components.find((x) => x.component === PE_ARRAY)!.dynamicJ;
    expect(pe(at7) / pe(at28)).toBeCloseTo(0.056 / 0.42, 3);
  });

  it('zero gating turns measured sparsity into lower PE-array energy, and without statistics costs only the zero detect', () => {
    const sparse = {
      ...deitT,
      ops: deitT.ops.map((op) => (op.kind === 'gemm' ? ({ ...op, stats: { a: { zeroFraction: 0.5, meanAbs: 4 } } } as GemmOp) : op)),
    };
    const gated: Accelerator = { ...arch, zeroGating: true };
    const price = (a: Accelerator, t: typeof deitT): number =>
      priceSimulation(simulateTrace(a, t), a, designTechnology(a)).energy.components.find((c) => c.component === PE_ARRAY)!.dynamicJ;
    const dense = price(arch, deitT);
    expect(price(gated, sparse)).toBeLessThan(0.6 * dense);
    expect(price(arch, sparse)).toBe(dense);
    expect(price(gated, deitT)).toBeGreaterThan(dense);
    const cost = priceSimulation(simulateTrace(gated, sparse), gated, designTechnology(gated));
    expect(cost.energy.zeroGating.gatedMacs).toBeCloseTo(0.5 * sim.totals.macs, 0);
  });

  it('an unknown node, a supply outside the fitted range, a DRAM type without an energy figure, and unpriced bricks are refused with one line', () => {
    expect(refusal(() => designTechnology({ ...arch, technologyNodeMetres: 12e-9 }))).toBe(
      'mid-32x32: technology 12 nm is not in the Stillmaker–Baas table; priced nodes are 45, 32, 28, 22, 20, 16, 14, 10, 7 nm',
    );
    expect(refusal(() => designTechnology({ ...arch, volts: 1.3 }))).toBe(
      'mid-32x32: supply 1.3 V is outside 0.6–1.1 V, the range vitsim prices with the Stillmaker–Baas voltage fits',
    );
    expect(refusal(() => designTechnology(arch, { nodeMetres: 65e-9 }))).toMatch(/^mid-32x32: technology 65 nm has an area factor but no energy factor/);
    expect(refusal(() => designComponents({ ...arch, dram: { ...arch.dram, type: 'DDR4' } }))).toBe(
      'mid-32x32: dram.type DDR4 has no energy-per-bit row; priced types are LPDDR4, DDR3, GDDR5, HBM2, HMC',
    );
    const bf = loadArch('bitfusion-16x32');
    expect(refusal(() => designComponents({ ...bf, pe: { ...bf.pe, brickBits: 4 } }))).toBe(
      'bitfusion-16x32: pe.brickBits must be 2 to be priced (BitFusion synthesized 2-bit bricks only), got 4',
    );
  });

  it("the arch file's voltage is used at its own node, and a --tech node is priced at its nominal supply", () => {
    const low: Accelerator = { ...arch, volts: 0.8 };
    expect(designTechnology(low).volts).toBe(0.8);
    expect(designTechnology(low, { nodeMetres: 7e-9 }).volts).toBeUndefined();
    expect(designTechnology(low, { nodeMetres: 7e-9, volts: 0.65 }).volts).toBe(0.65);
  });
});
