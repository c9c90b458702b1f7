import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluator } from '../../src/dse/evaluate.js';
import { measuredAccuracy } from '../../src/dse/measured.js';
import { readResults } from '../../src/dse/output-dir.js';
import { runSweep, sweepPoints } from '../../src/dse/run.js';
import { gridGenes, gridSize, paramsOf } from '../../src/dse/sample.js';
import { expandAxes, loadSweep, SWEEPS_DIR } from '../../src/dse/spec.js';

const DIR = mkdtempSync(join(tmpdir(), 'vitsim-examples-'));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));
const EXAMPLES = readdirSync(SWEEPS_DIR).filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json')).sort();

describe('the shipped example sweeps', () => {
  it.each(EXAMPLES)('%s: its first and last grid points evaluate to valid designs', async (name) => {
    const spec = loadSweep(join(SWEEPS_DIR, name));
    // The measured example's engine is other code; a stand-in measures here.
    const accuracy = spec.accuracy.source === 'measured' ? { accuracy: measuredAccuracy(spec, spec.accuracy, undefined, async (q) => 60 + q.wbits) } : {};
    const evaluate = evaluator(spec, accuracy);
    const axes = expandAxes(spec);
    for (const g of [0, gridSize(axes) - 1]) {
      const point = await evaluate(g, paramsOf(axes, gridGenes(axes, g)));
      expect(point.error).toBeUndefined();
      expect(point.metrics.latencyS).toBeGreaterThan(0);
      expect(point.metrics.energyJ).toBeGreaterThan(0);
      expect(point.metrics.areaMm2).toBeGreaterThan(0);
      if (spec.accuracy.source !== 'none') expect(point.metrics.accuracySource).not.toBeNull();
    }
  });

  it('deit-b-mixed-precision runs whole: narrower budgets cost less energy on BitFusion PEs, at the cited accuracy', async () => {
    const file = join(SWEEPS_DIR, 'deit-b-mixed-precision.json');
    const spec = loadSweep(file);
    await runSweep(spec, { out: join(DIR, 'mp'), specFile: file, workers: 1, resume: false });
    const { points } = readResults(join(DIR, 'mp'));
    expect(points).toHaveLength(sweepPoints(spec));
    const at = (kind: string, budget: number): number =>
      points.find((p) => p.params['pe.kind'] === kind && p.params['quant.budget'] === budget && p.params['array.dataflow'] === 'ws' && p.params.technology === '28 nm')?.metrics.energyJ ?? NaN;
    expect(at('bitfusion', 4)).toBeLessThan(at('bitfusion', 8));
    expect(points.filter((p) => p.params['quant.budget'] === 4).every((p) => p.metrics.accuracy === 75.94)).toBe(true);
  });
});
