import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { demoCommand } from '../../src/cli/demo.js';
import { designFromPoint, readResults } from '../../src/dse/result.js';
import { loadSweep } from '../../src/dse/spec.js';
import { simulateTrace } from '../../src/hw/simulate.js';

/** A CSV without quoted fields (the demo's values hold no comma or quote) as records. */
function readCsv(file: string): Record<string, string>[] {
  const [header, ...lines] = readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(','));
  return lines.map((cells) => Object.fromEntries(header.map((h, i) => [h, cells[i]])));
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
    const rows = readCsv(join(out, 'points.csv'));
    expect(rows).toHaveLength(72);
    const spec = loadSweep(join(out, 'demo-sweep.json'));
    for (const row of [rows[0], rows[37], rows[71]]) {
      const params = { 'array.rows': Number(row['array.rows']), 'array.cols': Number(row['array.cols']), 'array.dataflow': row['array.dataflow'], 'quant.bits': Number(row['quant.bits']) };
      const { arch, trace } = designFromPoint(spec, params);
      const sim = simulateTrace(arch, trace);
      expect(arch.array).toMatchObject({ rows: params['array.rows'], cols: params['array.cols'], dataflow: params['array.dataflow'] });
      expect(Number(row.cycles)).toBe(sim.totals.cycles);
      expect(Number(row.latency_s)).toBe(sim.totals.latencySeconds);
    }
  });

  it('prints the front it writes, and draws all six charts into a self-contained page', () => {
    const front = readCsv(join(out, 'front.csv'));
    const printed = [...stdout.matchAll(/^ {2}#(\d+)/gm)].map((m) => Number(m[1]));
    expect(printed).toEqual(front.map((r) => Number(r.index)));
    expect(front.length).toBeGreaterThan(1);
    for (const chart of ['latency-by-layer', 'roofline', 'energy-breakdown', 'area-breakdown', 'accuracy-vs-energy', 'bits-vs-accuracy-energy']) {
      for (const ext of ['png', 'svg', 'pdf']) expect(existsSync(join(out, 'charts', `${chart}.${ext}`)), `${chart}.${ext}`).toBe(true);
    }
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html.match(/<img src="data:image\/png;base64,/g)).toHaveLength(6);
    expect(readFileSync(join(out, 'front.tex'), 'utf8')).toContain('\\toprule');
  });
});
