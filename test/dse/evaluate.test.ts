import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { designComponents, designTechnology, priceSimulation } from '../../src/cost/simulation.js';
import { evaluator, INVALID_DESIGN } from '../../src/dse/evaluate.js';
import { designFromPoint } from '../../src/dse/output-dir.js';
import { gridGenes, gridSize, paramsOf } from '../../src/dse/sample.js';
import { expandAxes, parseSweep } from '../../src/dse/spec.js';
import { simulateTrace } from '../../src/hw/simulate.js';

const SPEC = parseSweep(
  {
    name: 'cache-check',
    base: 'edge-16x16',
    workload: 'vit-fashion-mnist',
    axes: [
      { name: 'array.cols', values: [8, 16] },
      { name: 'quant.method', values: ['uniform', 'noisyquant', 'n2uq'] },
      { name: 'quant.abits', values: [8, 4] },
      { name: 'technology', values: ['28 nm', '7 nm'] },
      { name: 'dram.type', values: ['LPDDR4', 'DDR3', 'GDDR5', 'HBM2', 'HMC'] },
    ],
  },
  join('sweeps', 'cache-check.json'),
);

describe('evaluating a sweep point', () => {
  it('with its caches gives the bits of simulating and pricing every point from scratch', async () => {
    const evaluate = evaluator(SPEC);
    const axes = expandAxes(SPEC);
    for (let g = 0; g < gridSize(axes); g++) {
      const params = paramsOf(axes, gridGenes(axes, g));
      const point = await evaluate(g, params);
      const { arch, trace } = designFromPoint(SPEC, params);
      const sim = simulateTrace(arch, trace);
      designComponents(arch);
      const cost = priceSimulation(sim, arch, designTechnology(arch));
      expect(point.metrics.energyJ).toBe(cost.energyPerInferenceJ);
      expect(point.metrics.areaMm2).toBe(cost.area.totalM2 * 1e6);
      expect(point.metrics.cycles).toBe(sim.totals.cycles);
      expect(point.breakdown.energyJ.dram).toBe(cost.energy.components.find((c) => c.component === 'dram')?.dynamicJ);
    }
  });

  it('brings a method its hardware: NoisyQuant a noise adder, N2UQ a threshold unit wide enough for its levels', () => {
    const noisy = designFromPoint(SPEC, { 'quant.method': 'noisyquant' });
    expect(noisy.arch.noise.lanes).toBe(16);
    expect(noisy.trace.ops.find((o) => o.name === 'blocks.0.mlp.fc2')).toMatchObject({ actQuant: { kind: 'noisy' } });
    const n2uq = designFromPoint(SPEC, { 'quant.method': 'n2uq', 'quant.abits': 8, 'array.cols': 8 });
    expect(n2uq.arch.threshold).toMatchObject({ lanes: 8, maxBits: 8 });
    expect(n2uq.trace.ops.find((o) => o.name === 'blocks.0.attn.qkv')).toMatchObject({ actQuant: { kind: 'threshold', levels: 256 } });
  });

  it('keeps a combination the simulator refuses as an infeasible point with the refusal', async () => {
    const spec = parseSweep(
      { name: 'bad-combination', base: 'edge-16x16', workload: 'vit-fashion-mnist', axes: [{ name: 'pe.kind', values: ['fixed', 'bitfusion'] }, { name: 'pe.weightBits', values: [8, 4] }] },
      'sweeps/bad-combination.json',
    );
    const point = await evaluator(spec)(3, { 'pe.kind': 'bitfusion', 'pe.weightBits': 4 });
    expect(point.feasible).toBe(false);
    expect(point.violated).toEqual([INVALID_DESIGN]);
    expect(point.error).toMatch(/pe\.weightBits must equal pe\.actBits \(8\) for a bitfusion PE, got 4/);
  });
});
