import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gridGenes, gridSize, paramsOf, floydSample } from '../../src/dse/sample.js';
import { expandAxes, loadSweep, parseSweep, SWEEPS_DIR } from '../../src/dse/spec.js';
import { refusal } from '../refusal.js';

const FILE = 'sweeps/t.json';

/** A small valid sweep; `change` edits it before it is checked. */
function spec(change: (s: Record<string, unknown>) => void = () => {}): Record<string, unknown> {
  const s: Record<string, unknown> = {
    name: 't',
    base: 'edge-16x16',
    workload: 'vit-fashion-mnist',
    axes: [
      { name: 'array.rows', values: [8, 16] },
      { name: 'sram.ifmap', geometric: { from: '16 KiB', to: '64 KiB', factor: 2 } },
    ],
    constraints: [{ metric: 'areaMm2', max: 5 }],
    objectives: [{ metric: 'energyJ', goal: 'min' }],
  };
  change(s);
  return s;
}

const refuse = (change: (s: Record<string, unknown>) => void): string => refusal(() => parseSweep(spec(change), FILE));

describe('sweep spec', () => {
  it('expands values, ranges and geometric ranges of sizes into the values a run applies', () => {
    const s = parseSweep(spec((x) => (x.axes as unknown[]).push({ name: 'clock', geometric: { from: '250 MHz', to: '1 GHz', factor: 2 } }, { name: 'array.cols', range: { from: 8, to: 24, step: 8 } })), FILE);
    expect(expandAxes(s)).toEqual([
      { name: 'array.rows', values: [8, 16] },
      { name: 'sram.ifmap', values: ['16 KiB', '32 KiB', '64 KiB'] },
      { name: 'clock', values: ['250 MHz', '500 MHz', '1 GHz'] },
      { name: 'array.cols', values: [8, 16, 24] },
    ]);
    expect(s.constraints[0].name).toBe('areaMm2 <= 5');
  });

  it('orders a grid like nested loops in spec order, the last axis fastest', () => {
    const axes = [
      { name: 'a', values: [1, 2] },
      { name: 'b', values: ['x', 'y', 'z'] },
    ];
    expect(gridSize(axes)).toBe(6);
    expect([0, 1, 2, 3, 4, 5].map((g) => paramsOf(axes, gridGenes(axes, g)))).toEqual([
      { a: 1, b: 'x' }, { a: 1, b: 'y' }, { a: 1, b: 'z' }, { a: 2, b: 'x' }, { a: 2, b: 'y' }, { a: 2, b: 'z' },
    ]);
  });

  it('draws distinct random points from the seed, the same ones every time', () => {
    const a = floydSample(1000, 300, 7);
    expect(new Set(a).size).toBe(300);
    expect(a.every((g) => g >= 0 && g < 1000)).toBe(true);
    expect(floydSample(1000, 300, 7)).toEqual(a);
    expect(floydSample(1000, 300, 8)).not.toEqual(a);
  });

  it('refuses an unknown axis, naming the known ones', () => {
    expect(refuse((s) => (s.axes as unknown[]).push({ name: 'array.depth', values: [1] }))).toMatch(/^sweeps\/t\.json: axes\[2\]\.name is not a known axis, got "array\.depth" \(axes: array\.rows, /);
  });

  it('refuses, for measured accuracy, a method that cannot be calibrated on the spot (QAT, literature-only)', () => {
    const measured = (s: Record<string, unknown>): void => {
      s.accuracy = { source: 'measured', images: 50 };
    };
    expect(refuse((s) => {
      measured(s);
      (s.axes as unknown[]).push({ name: 'quant.method', values: ['uniform', 'n2uq'] });
    })).toBe('sweeps/t.json: axes[2].values[1] (quant.method) must be one of uniform, ptq4vit, noisyquant, liu2021 for measured accuracy (post-training methods; QAT models come from vitsim qat), got "n2uq"');
    expect(refuse((s) => {
      measured(s);
      s.quant = { method: 'ofq' };
    })).toBe('sweeps/t.json: quant.method must be one of uniform, ptq4vit, noisyquant, liu2021 for measured accuracy (post-training methods; QAT models come from vitsim qat), got "ofq"');
    expect(() => parseSweep(spec((s) => {
      measured(s);
      (s.axes as unknown[]).push({ name: 'quant.method', values: ['uniform', 'ptq4vit'] });
    }), FILE)).not.toThrow();
  });

  it('refuses empty ranges', () => {
    expect(refuse((s) => (s.axes = [{ name: 'array.rows', values: [] }]))).toBe('sweeps/t.json: axes[0] (array.rows) has an empty range: no values');
    expect(refuse((s) => (s.axes = [{ name: 'array.rows', range: { from: 32, to: 16 } }]))).toBe('sweeps/t.json: axes[0] (array.rows) has an empty range: no values');
    expect(refuse((s) => (s.axes = [{ name: 'sram.ifmap', geometric: { from: '1 MiB', to: '64 KiB', factor: 2 } }]))).toBe('sweeps/t.json: axes[0] (sram.ifmap) has an empty range: no values');
    expect(refuse((s) => (s.axes = []))).toMatch(/^sweeps\/t\.json: axes must NOT have fewer than 1 items/);
  });

  it('refuses malformed values with the field and what was expected', () => {
    expect(refuse((s) => (s.axes = [{ name: 'array.rows', values: [16, -4] }]))).toBe('sweeps/t.json: axes[0].values[1] (array.rows) must be an integer from 1 to 65536, got -4');
    expect(refuse((s) => (s.axes = [{ name: 'sram.ifmap', values: ['12 parsecs'] }]))).toBe('sweeps/t.json: axes[0].values[0] (sram.ifmap) must be a size such as "256 KiB", got "12 parsecs"');
    expect(refuse((s) => (s.axes = [{ name: 'array.dataflow', values: ['rs'] }]))).toBe('sweeps/t.json: axes[0].values[0] (array.dataflow) must be one of "os", "ws", "is", got "rs"');
    expect(refuse((s) => (s.axes = [{ name: 'array.rows', values: [8, 8] }]))).toBe('sweeps/t.json: axes[0] (array.rows) lists a value twice');
    expect(refuse((s) => (s.axes = [{ name: 'technology', values: ['3 nm'] }]))).toMatch(/^sweeps\/t\.json: axes\[0\] \(technology\) value "3 nm": /);
    expect(refuse((s) => (s.axes = [{ name: 'array.rows', values: [8], range: { from: 1, to: 2 } }]))).toBe('sweeps/t.json: axes[0] must give exactly one of values, range, geometric (array.rows)');
    expect(refuse((s) => (s.axes = [{ name: 'quant.bits', values: [8] }, { name: 'quant.wbits', values: [4] }]))).toBe('sweeps/t.json: axes quant.bits and quant.wbits both set the same widths; keep one');
    expect(refuse((s) => (s.axes = [{ name: 'array.rows', values: [8] }, { name: 'array.rows', values: [16] }]))).toBe('sweeps/t.json: axes[1] varies array.rows a second time');
  });

  it('refuses constraints that no point can meet', () => {
    expect(refuse((s) => (s.constraints = [{ metric: 'powerW', max: 1 }]))).toMatch(/^sweeps\/t\.json: constraints\[0\]\.metric is not a known metric, got "powerW" \(metrics: latencyS, /);
    expect(refuse((s) => (s.constraints = [{ metric: 'areaMm2', min: 10, max: 5 }]))).toBe('sweeps/t.json: constraints[0] can never be met: min 10 is above max 5');
    expect(refuse((s) => (s.constraints = [{ metric: 'areaMm2', max: 0 }]))).toBe('sweeps/t.json: constraints[0] can never be met: areaMm2 lies in (0, ∞), the constraint asks for areaMm2 <= 0');
    expect(refuse((s) => ((s.constraints = [{ metric: 'accuracy', min: 101 }]), (s.accuracy = { source: 'literature' })))).toBe(
      'sweeps/t.json: constraints[0] can never be met: accuracy lies in [0, 100], the constraint asks for accuracy >= 101',
    );
    expect(refuse((s) => (s.constraints = [{ metric: 'accuracy', min: 70 }]))).toBe('sweeps/t.json: constraint "accuracy >= 70" can never be met: accuracy.source is none, so no point has an accuracy');
    expect(refuse((s) => (s.constraints = [{ metric: 'latencyS', max: 0.001 }, { metric: 'latencyS', min: 0.01 }]))).toBe(
      'sweeps/t.json: constraints "latencyS <= 0.001" and "latencyS >= 0.01" can never be met together',
    );
    expect(refuse((s) => (s.constraints = [{ metric: 'cycles' }]))).toBe('sweeps/t.json: constraints[0] must give min or max (cycles)');
  });

  it('refuses sampling plans that cannot run', () => {
    expect(refuse((s) => (s.sampling = { kind: 'random', points: 7, seed: 1 }))).toBe('sweeps/t.json: sampling.points asks for 7 distinct points, but the grid has only 6');
    expect(refuse((s) => (s.sampling = { kind: 'nsga2', population: 8 }))).toBe('sweeps/t.json: sampling.generations is required for sampling nsga2');
    expect(refuse((s) => ((s.sampling = { kind: 'nsga2', population: 8, generations: 2 }), (s.objectives = [])))).toBe('sweeps/t.json: sampling nsga2 needs at least one objective to optimise');
    expect(refuse((s) => (s.sampling = { kind: 'grid', seed: 3 }))).toBe('sweeps/t.json: sampling.seed does not apply to sampling grid');
  });

  it('refuses unknown fields and a missing base through the schema, in one line', () => {
    expect(refuse((s) => (s.axis = []))).toBe('sweeps/t.json: axis is not a known field');
    expect(refuse((s) => delete s.base)).toBe('sweeps/t.json: base is required but missing');
    expect(refuse((s) => (s.base = 'tpu-v9'))).toMatch(/^sweeps\/t\.json: the base design: base "tpu-v9" is neither an arch file nor a preset \(presets: bitfusion-16x32, /);
  });

  it('reads every shipped example sweep', () => {
    const examples = readdirSync(SWEEPS_DIR).filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json'));
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const f of examples) expect(loadSweep(join(SWEEPS_DIR, f)).axes.length).toBeGreaterThan(0);
  });
});
