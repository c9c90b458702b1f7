import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { dominates } from '../../src/dse/pareto.js';
import { simulateTrace } from '../../src/hw/simulate.js';
import { CONTENT_SECURITY_POLICY } from '../../src/report/html.js';
import { roofline } from '../../src/report/roofline.js';
import { writeSweepReport, type SweepReport } from '../../src/report/sweep-report.js';
import { latexTable } from '../../src/report/table.js';
import { renderedImages } from './browser.js';
import { fixtureDesign, fixturePoints } from './fixture.js';

/** A CSV without quoted fields (none of the fixture's values holds a comma or quote) as records. */
function readCsv(file: string): Record<string, string>[] {
  const [header, ...lines] = readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(','));
  return lines.map((cells) => Object.fromEntries(header.map((h, i) => [h, cells[i]])));
}

describe('vitsim report of a sweep', () => {
  const out = mkdtempSync(join(tmpdir(), 'vitsim-report-'));
  // tpu-v1's 54 mm² violates the area constraint: ranked by no front, drawn grey.
  const points = fixturePoints(20);
  let report: SweepReport;

  beforeAll(async () => {
    report = await writeSweepReport(points, { out, source: 'fixture', title: 'fixture report', objectives: ['latency', 'energy', 'accuracy'], design: fixtureDesign });
  });

  it('ranks only feasible points, and its front is exactly the feasible points no feasible point dominates', () => {
    const feasible = points.filter((p) => p.feasible);
    const v = (p: (typeof points)[number]) => [p.metrics.latencyS, p.metrics.energyJ, -p.metrics.accuracy!];
    const expected = feasible.filter((p) => !feasible.some((q) => dominates(v(q), v(p)))).map((p) => p.index);
    expect(report.front.map((p) => p.index).sort((a, b) => a - b)).toEqual(expected);
    expect(report.points.filter((p) => !p.feasible).every((p) => p.rank === null)).toBe(true);
    expect(report.points.filter((p) => p.feasible).every((p) => p.rank !== null)).toBe(true);
  });

  it('writes every point to CSV and JSON with its rank, and the front to CSV and JSON', () => {
    const rows = readCsv(join(out, 'points.csv'));
    expect(rows).toHaveLength(points.length);
    for (const p of report.points) {
      const row = rows.find((r) => Number(r.index) === p.index)!;
      expect(Number(row.energy_j)).toBe(p.metrics.energyJ);
      expect(Number(row.area_mm2)).toBe(p.metrics.areaMm2);
      expect(row.rank).toBe(p.rank === null ? '' : String(p.rank));
      expect(row.arch).toBe(p.params.arch);
    }
    expect(readCsv(join(out, 'front.csv')).map((r) => Number(r.index))).toEqual(report.front.map((p) => p.index));
    const json = JSON.parse(readFileSync(join(out, 'points.json'), 'utf8'));
    expect(json.points.map((p: { index: number; metrics: { latencyS: number } }) => [p.index, p.metrics.latencyS])).toEqual(points.map((p) => [p.index, p.metrics.latencyS]));
    const front = JSON.parse(readFileSync(join(out, 'front.json'), 'utf8'));
    expect(front.front.map((p: { index: number }) => p.index)).toEqual(report.front.map((p) => p.index));
    expect(front.hypervolume.value).toBe(report.hypervolume!.value);
  });

  it('reports the hypervolume of the front against the nadir pushed 10% out', () => {
    const hv = report.hypervolume!;
    expect(hv.value).toBeGreaterThan(0);
    const worstLatency = Math.max(...report.front.map((p) => p.metrics.latencyS));
    const worstAccuracy = Math.min(...report.front.map((p) => p.metrics.accuracy!));
    expect(hv.reference[0]).toBeCloseTo(worstLatency * 1.1, 15);
    expect(hv.reference[2]).toBeCloseTo(worstAccuracy * 0.9, 10);
  });

  it('tabulates the front in Markdown and in booktabs LaTeX, one row per front point', () => {
    const md = readFileSync(join(out, 'front.md'), 'utf8').trim().split('\n');
    expect(md).toHaveLength(2 + report.front.length);
    const tex = readFileSync(join(out, 'front.tex'), 'utf8');
    expect(tex).toMatch(/\\toprule[\s\S]*\\midrule[\s\S]*\\bottomrule/);
    expect(tex).not.toMatch(/\\hline|\|/);
    const body = tex.slice(tex.indexOf('\\midrule'), tex.indexOf('\\bottomrule'));
    expect(body.match(/\\\\$/gm)).toHaveLength(report.front.length);
    expect(tex).toContain('area (mm\\textsuperscript{2})');
  });

  it('escapes what LaTeX would read as commands', () => {
    const tex = latexTable([{ name: 'blocks.0.mlp_fc1 & 50% #1 {x} ~$^\\' }], [{ header: 'name', value: (r) => r.name }]);
    expect(tex).toContain('blocks.0.mlp\\_fc1 \\& 50\\% \\#1 \\{x\\} \\textasciitilde{}\\$\\textasciicircum{}\\textbackslash{}');
  });

  it('draws every chart as PNG, SVG and PDF', () => {
    expect(report.charts.map((c) => c.name)).toEqual(['latency-by-layer', 'roofline', 'energy-breakdown', 'area-breakdown', 'accuracy-vs-energy', 'bits-vs-accuracy-energy']);
    for (const c of report.charts) {
      expect(c.skipped, c.name).toBeUndefined();
      expect(readFileSync(c.files!.png).subarray(1, 4).toString()).toBe('PNG');
      expect(readFileSync(c.files!.svg, 'utf8')).toMatch(/^<\?xml[\s\S]*<svg[\s\S]*<\/svg>\s*$/);
      expect(readFileSync(c.files!.pdf).subarray(0, 5).toString()).toBe('%PDF-');
    }
  });

  it('places every GEMM of the detailed design under both roofs', () => {
    const { arch, trace } = fixtureDesign(report.detailed.params);
    const line = roofline(arch, trace, simulateTrace(arch, trace));
    expect(line.ops.length).toBe(trace.ops.filter((o) => o.kind === 'gemm').length);
    for (const op of line.ops) {
      expect(op.achievedOpsPerSecond).toBeLessThanOrEqual(op.peakOpsPerSecond * (1 + 1e-9));
      expect(op.achievedOpsPerSecond).toBeLessThanOrEqual(line.dramBytesPerSecond * op.intensity * (1 + 1e-9));
    }
  });

  it('makes one self-contained HTML page: every chart inline, no request leaves the page', () => {
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).toContain(`content="${CONTENT_SECURITY_POLICY}"`);
    expect(html.match(/<img src="data:image\/png;base64,/g)).toHaveLength(report.charts.length);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toContain('<script');
    expect(html.match(/<tbody>[\s\S]*<\/tbody>/)![0].match(/<tr>/g)).toHaveLength(report.front.length);
  });

  it('opens in headless Chromium with every chart loaded and drawn', () => {
    const images = renderedImages(join(out, 'index.html'));
    expect(images.map((i) => i.alt)).toEqual(report.charts.map((c) => c.title));
    for (const img of images) {
      expect(img.complete && img.naturalWidth > 0 && img.naturalHeight > 0, img.alt).toBe(true);
      // Axes, labels and data: well over 1% of a 900×500 chart is ink.
      expect(img.inked, img.alt).toBeGreaterThan(0.01 * img.naturalWidth * img.naturalHeight);
    }
  });

  it('catches, in Chromium, an image that does not load and one that is blank', () => {
    const page = join(out, 'broken.html');
    const blank = `data:image/svg+xml;base64,${Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="white"/></svg>').toString('base64')}`;
    writeFileSync(page, readFileSync(join(out, 'index.html'), 'utf8').replace('</body>', `<img src="data:image/png;base64,AAAA" alt="broken"><img src="${blank}" alt="blank">\n</body>`));
    const images = renderedImages(page);
    expect(images.find((i) => i.alt === 'broken')!.naturalWidth).toBe(0);
    const blankImage = images.find((i) => i.alt === 'blank')!;
    expect(blankImage.naturalWidth).toBe(40);
    expect(blankImage.inked).toBe(0);
  });
});
