import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runReport } from '../../src/cli/report.js';
import { UserError } from '../../src/config/errors.js';
import { readResults } from '../../src/dse/output-dir.js';
import { runSweep } from '../../src/dse/run.js';
import { parseSweep } from '../../src/dse/spec.js';
import type { SweepReport } from '../../src/report/sweep-report.js';

/** The one-line message of the UserError an async `fn` rejects with. */
async function asyncRefusal(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof UserError) return err.message;
    throw err;
  }
  throw new Error('accepted, expected a refusal');
}

describe('vitsim report on a sweep directory', () => {
  const root = mkdtempSync(join(tmpdir(), 'vitsim-report-cli-'));
  const runs = join(root, 'runs');
  let report: SweepReport;

  beforeAll(async () => {
    // Six points, no accuracy: a sweep that runs in well under a second.
    const specFile = join(root, 'tiny.json');
    const spec = parseSweep(
      {
        name: 'tiny',
        description: 'two array shapes at three widths',
        base: 'edge-16x16',
        workload: 'vit-fashion-mnist',
        axes: [
          { name: 'array.cols', values: [8, 16] },
          { name: 'quant.bits', values: [8, 6, 4] },
        ],
        objectives: [{ metric: 'latencyS', goal: 'min' }, { metric: 'energyJ', goal: 'min' }],
      },
      specFile,
    );
    await runSweep(spec, { out: runs, specFile, workers: 1, resume: false });
    report = await runReport({ results: runs, out: join(root, 'report') });
  });

  it("ranks on the sweep's own objectives when --objectives is not given", () => {
    const front = JSON.parse(readFileSync(join(root, 'report', 'front.json'), 'utf8'));
    expect(front.objectives).toEqual(['latency', 'energy']);
    expect(report.front.length).toBeGreaterThan(0);
    expect(report.hypervolume).not.toBeNull();
  });

  it('re-simulates the detailed design from its parameters to the very cycles the sweep stored', () => {
    const readme = readFileSync(join(root, 'report', 'README.md'), 'utf8');
    expect(readme).toContain(`point #${report.detailed.index}`);
    expect(readme).not.toContain('Warning: re-simulating');
  });

  it('says why a chart it cannot draw is missing, and draws the rest', () => {
    const skipped = report.charts.filter((c) => c.skipped);
    expect(skipped.map((c) => c.name)).toEqual(['accuracy-vs-energy']);
    expect(readFileSync(join(root, 'report', 'index.html'), 'utf8')).toContain('Not drawn: no point has an accuracy');
    for (const c of report.charts.filter((c) => c.files)) expect(existsSync(c.files!.pdf)).toBe(true);
  });

  it('takes --objectives, --reference and --point, and leaves out a torn last line (a killed sweep) instead of refusing', async () => {
    const torn = join(root, 'torn');
    mkdirSync(torn);
    writeFileSync(join(torn, 'sweep.json'), readFileSync(join(runs, 'sweep.json')));
    writeFileSync(join(torn, 'results.jsonl'), readFileSync(join(runs, 'results.jsonl')));
    appendFileSync(join(torn, 'results.jsonl'), '{"index": 6, "par');
    const r = await runReport({ results: torn, out: join(root, 'report-area'), objectives: 'energy,area', reference: '1,1', point: 3 });
    expect(r.points).toHaveLength(6);
    expect(r.detailed.index).toBe(3);
    expect(r.hypervolume!.reference).toEqual([1, 1]);
    const { points } = readResults(runs);
    const onFront = new Set(r.front.map((p) => p.index));
    // Each front point has no other point at most its energy and at most its area (one strictly less).
    for (const p of points.filter((q) => onFront.has(q.index))) {
      expect(points.some((q) => q.metrics.energyJ <= p.metrics.energyJ && q.metrics.areaMm2 <= p.metrics.areaMm2 && (q.metrics.energyJ < p.metrics.energyJ || q.metrics.areaMm2 < p.metrics.areaMm2))).toBe(false);
    }
  });

  it('refuses a missing directory, one without results, and a malformed line, with one line each', async () => {
    expect(await asyncRefusal(() => runReport({ results: join(root, 'nowhere'), out: join(root, 'x') }))).toBe(`vitsim report: results directory ${join(root, 'nowhere')} does not exist`);

    const empty = join(root, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'sweep.json'), readFileSync(join(runs, 'sweep.json')));
    expect(await asyncRefusal(() => runReport({ results: empty, out: join(root, 'x') }))).toBe(`vitsim report: ${empty} is not a sweep's output directory (no results.jsonl; vitsim sweep <spec> --out ${empty} makes one)`);
    writeFileSync(join(empty, 'results.jsonl'), '');
    expect(await asyncRefusal(() => runReport({ results: empty, out: join(root, 'x') }))).toBe(`${join(empty, 'results.jsonl')}: holds no complete result line (has vitsim sweep run into ${empty}?)`);

    const bad = join(root, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'sweep.json'), readFileSync(join(runs, 'sweep.json')));
    const lines = readFileSync(join(runs, 'results.jsonl'), 'utf8').split('\n');
    writeFileSync(join(bad, 'results.jsonl'), `${lines[0]}\n{"index": 1, oops\n`);
    const msg = await asyncRefusal(() => runReport({ results: bad, out: join(root, 'x') }));
    expect(msg).toMatch(new RegExp(`^${join(bad, 'results.jsonl').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: is not a JSON result line \\(`));
    expect(msg).not.toContain('\n');

    writeFileSync(join(bad, 'results.jsonl'), `${lines[0]}\n${JSON.stringify({ ...JSON.parse(lines[1]), metrics: { latencyS: 1 } })}\n`);
    expect(await asyncRefusal(() => runReport({ results: bad, out: join(root, 'x') }))).toBe(`${join(bad, 'results.jsonl')}:2: is not a result line: metrics.energyJ must be a number`);
  });

  it('refuses an unknown objective, a reference of the wrong length, an unknown point, and accuracy without accuracies', async () => {
    expect(await asyncRefusal(() => runReport({ results: runs, out: join(root, 'x'), objectives: 'latency,power' }))).toBe('--objectives: unknown objective "power" (expected one of latency, energy, area, accuracy)');
    expect(await asyncRefusal(() => runReport({ results: runs, out: join(root, 'x'), reference: '1,2,3' }))).toBe('--reference: expected 2 numbers (one per objective: latency, energy), got 3');
    expect(await asyncRefusal(() => runReport({ results: runs, out: join(root, 'x'), point: 99 }))).toBe(`--point: ${runs} has no point with index 99 (indices 0…5)`);
    expect(await asyncRefusal(() => runReport({ results: runs, out: join(root, 'x'), objectives: 'energy,accuracy' }))).toMatch(/^.*: point 0 has no finite accuracy \(got null\), so it cannot be ranked on accuracy; leave accuracy out of --objectives$/);
  });
});
