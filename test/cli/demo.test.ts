import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { demoCommand } from '../../src/cli/demo.js';
import { designFromPoint, readResults } from '../../src/dse/output-dir.js';
import { loadSweep } from '../../src/dse/spec.js';
import { simulateTrace } from '../../src/hw/simulate.js';

interface ReportedPoint {
  index: number;
  params: Record<string, string | number>;
  metrics: { cycles: number; latencyS: number };
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

describe('vitsim demo', () => {
  const out = mkdtempSync(join(tmpdir(), 'vitsim-demo-'));
  let stdout = '';

  // The whole demo: a 72-point sweep with four quantisations measured by the integer engine, then the report.
  beforeAll(async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout += String(chunk);
      return true;
    });
    try {
      await demoCommand.handler({ out, images: 50, workers: 2, _: [], $0: 'vitsim' });
    } finally {
      write.mockRestore();
    }
  }, 600_000);

  it('evaluates the float model on the same test images the quantized points are measured on', () => {
    const match = /^accuracy {3}float model: (\d+\.\d\d)% top-1 on the first 50 fashion-mnist test images/m.exec(stdout);
    expect(match).not.toBeNull();
    // A trained 10-class model, not chance: the shipped one reaches ~89% on the whole split.
    expect(Number(match![1])).toBeGreaterThan(70);
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain(`classifies ${match![1]}% of the same images`);
  });

  it('runs the sweep it writes beside the report, every point with a measured accuracy', () => {
    const spec = loadSweep(join(out, 'demo-sweep.json'));
    expect(spec.accuracy).toMatchObject({ source: 'measured', images: 50 });
    const { points } = readResults(join(out, 'sweep'));
    expect(points).toHaveLength(72);
    for (const p of points) expect(p.metrics.accuracySource).toMatch(/^measured: integer engine, uniform W(\d)A\1, 50 test images/);
    // One measurement per quantisation, whatever the array: the same bits give the same accuracy.
    for (const bits of [8, 6, 4, 3]) expect(new Set(points.filter((p) => p.params['quant.bits'] === bits).map((p) => p.metrics.accuracy)).size).toBe(1);
    expect(points.find((p) => p.params['quant.bits'] === 8)!.metrics.accuracy).toBeGreaterThan(70);
  });

  it('reports every point, and each equals re-simulating its design from the sweep file', () => {
    // One header line and one line per point (no field holds a newline).
    expect(readFileSync(join(out, 'points.csv'), 'utf8').trim().split('\n')).toHaveLength(1 + 72);
    const { points } = readJson<{ points: ReportedPoint[] }>(join(out, 'points.json'));
    expect(points).toHaveLength(72);
    const spec = loadSweep(join(out, 'demo-sweep.json'));
    for (const p of [points[0], points[37], points[71]]) {
      const { arch, trace } = designFromPoint(spec, p.params);
      const sim = simulateTrace(arch, trace);
      expect(arch.array).toMatchObject({ rows: p.params['array.rows'], cols: p.params['array.cols'], dataflow: p.params['array.dataflow'] });
      expect(p.metrics.cycles).toBe(sim.totals.cycles);
      expect(p.metrics.latencyS).toBe(sim.totals.latencySeconds);
    }
  });

  it('prints the front it writes, and draws all six charts into a self-contained page', () => {
    const { front } = readJson<{ front: ReportedPoint[] }>(join(out, 'front.json'));
    const printed = [...stdout.matchAll(/^ {2}#(\d+)/gm)].map((m) => Number(m[1]));
    expect(printed).toEqual(front.map((p) => p.index));
    expect(front.length).toBeGreaterThan(1);
    for (const chart of ['latency-by-layer', 'roofline', 'energy-breakdown', 'area-breakdown', 'accuracy-vs-energy', 'bits-vs-accuracy-energy']) {
      for (const ext of ['png', 'svg', 'pdf']) expect(existsSync(join(out, 'charts', `${chart}.${ext}`)), `${chart}.${ext}`).toBe(true);
    }
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html.match(/<img src="data:image\/png;base64,/g)).toHaveLength(6);
    expect(readFileSync(join(out, 'front.tex'), 'utf8')).toContain('\\toprule');
  });
});
