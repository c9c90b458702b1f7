import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { mergeSweeps } from '../../src/dse/merge.js';
import { readResults } from '../../src/dse/output-dir.js';
import { runSweep } from '../../src/dse/run.js';
import { loadSweep } from '../../src/dse/spec.js';
import { refusal } from '../refusal.js';

const DIR = mkdtempSync(join(tmpdir(), 'vitsim-sweep-'));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

/** A 48-point grid on the tiny ViT: fast to simulate, with shared and unshared simulations. */
const GRID = {
  name: 'tiny-grid',
  base: 'edge-16x16',
  workload: 'vit-fashion-mnist',
  axes: [
    { name: 'array.rows', values: [4, 8] },
    { name: 'array.dataflow', values: ['os', 'ws', 'is'] },
    { name: 'quant.bits', values: [8, 4] },
    { name: 'technology', values: ['28 nm', '16 nm', '7 nm', '45 nm'] },
  ],
  constraints: [{ metric: 'areaMm2', max: 0.05 }],
  objectives: [{ metric: 'latencyS', goal: 'min' }, { metric: 'energyJ', goal: 'min' }],
};

function specFile(name: string, spec: object): string {
  const file = join(DIR, `${name}.json`);
  writeFileSync(file, JSON.stringify(spec));
  return file;
}

async function run(file: string, out: string, options: { workers?: number; shard?: { index: number; count: number }; resume?: boolean } = {}): Promise<string> {
  await runSweep(loadSweep(file), { out, specFile: file, workers: options.workers ?? 1, resume: options.resume ?? false, ...(options.shard ? { shard: options.shard } : {}) });
  return readFileSync(join(out, 'results.jsonl'), 'utf8');
}

const file = specFile('grid', GRID);
let whole = '';

describe('vitsim sweep runs', () => {
  it('writes one sorted line per grid point, each with its params, metrics and constraint verdict', async () => {
    whole = await run(file, join(DIR, 'whole'));
    const { points, spec } = readResults(join(DIR, 'whole'));
    expect(spec.name).toBe('tiny-grid');
    expect(points.map((p) => p.index)).toEqual([...Array(48).keys()]);
    expect(points[5].params).toEqual({ 'array.rows': 4, 'array.dataflow': 'os', 'quant.bits': 4, 'technology': '16 nm' });
    for (const p of points) {
      expect(p.metrics.latencyS).toBeGreaterThan(0);
      expect(p.metrics.energyJ).toBeCloseTo(Object.values(p.breakdown.energyJ).reduce((a, b) => a + b, 0), 12);
      expect(p.metrics.areaMm2).toBeCloseTo(Object.values(p.breakdown.areaMm2).reduce((a, b) => a + b, 0), 9);
      expect(p.feasible).toBe(p.metrics.areaMm2 <= 0.05);
      expect(p.violated).toEqual(p.feasible ? [] : ['areaMm2 <= 0.05']);
    }
    // Technology only re-prices: the same simulation, so the same cycles at every node.
    expect(new Set(points.slice(0, 4).map((p) => p.metrics.cycles)).size).toBe(1);
    expect(new Set(points.slice(0, 4).map((p) => p.metrics.energyJ)).size).toBe(4);
  });

  it('gives the same bytes with two worker threads as with one', async () => {
    expect(await run(file, join(DIR, 'two-workers'), { workers: 2 })).toBe(whole);
  });

  it('merges shards 0..N-1 into the bytes of the unsharded run, sweep.json included', async () => {
    const dirs: string[] = [];
    for (let i = 0; i < 3; i++) {
      const out = join(DIR, `shard-${i}`);
      await run(file, out, { shard: { index: i, count: 3 } });
      dirs.push(out);
    }
    expect(readFileSync(join(dirs[0], 'results.jsonl'), 'utf8').split('\n').length - 1).toBe(16);
    const summary = mergeSweeps([dirs[2], dirs[0], dirs[1]], join(DIR, 'merged'));
    expect(summary).toEqual({ points: 48, merged: 48, missing: 0 });
    expect(readFileSync(join(DIR, 'merged', 'results.jsonl'), 'utf8')).toBe(whole);
    expect(readFileSync(join(DIR, 'merged', 'sweep.json'), 'utf8')).toBe(readFileSync(join(DIR, 'whole', 'sweep.json'), 'utf8'));
    expect(refusal(() => mergeSweeps([dirs[0], dirs[0]], join(DIR, 'merged-twice')))).toMatch(/point 0 is also in .*shard-0; shards must not overlap$/);
  });

  it('resumes after a torn last line and lost lines: no point lost or repeated, the same final file', async () => {
    const out = join(DIR, 'torn');
    mkdirSync(out);
    copyFileSync(join(DIR, 'whole', 'sweep.json'), join(out, 'sweep.json'));
    // What a kill leaves: results in completion order (not sorted), the last line cut mid-write.
    const lines = whole.split('\n').filter((l) => l !== '');
    const order = [7, 3, 30, 0, 1, 2, 44, 12];
    writeFileSync(join(out, 'results.jsonl'), `${order.map((i) => lines[i]).join('\n')}\n${lines[20].slice(0, 57)}`);
    await runSweep(loadSweep(file), { out, specFile: file, workers: 1, resume: true });
    expect(readFileSync(join(out, 'results.jsonl'), 'utf8')).toBe(whole);
  });

  it('refuses to run into a directory that holds a sweep, and to resume a different one', async () => {
    await expect(run(file, join(DIR, 'whole'))).rejects.toThrow(/whole: already holds a sweep \(sweep\.json\); add --resume to finish it, or choose another --out$/);
    const other = specFile('other', { ...GRID, name: 'other' });
    await expect(run(other, join(DIR, 'whole'), { resume: true })).rejects.toThrow(/whole: holds a different sweep \(its sweep\.json spec differs from .*other\.json\); cannot resume$/);
    await expect(run(file, join(DIR, 'whole'), { resume: true, shard: { index: 0, count: 2 } })).rejects.toThrow(/whole: holds the whole sweep, not shard 0\/2; cannot resume$/);
    expect(refusal(() => mergeSweeps([join(DIR, 'whole'), join(DIR, 'other-out')], join(DIR, 'x')))).toMatch(/other-out: not a sweep output directory \(no sweep\.json\)$/);
  });

  it('refuses to merge shards of different sweeps', async () => {
    const other = specFile('other2', { ...GRID, constraints: [] });
    await run(other, join(DIR, 'other2-0'), { shard: { index: 0, count: 2 } });
    expect(refusal(() => mergeSweeps([join(DIR, 'shard-0'), join(DIR, 'other2-0')], join(DIR, 'bad-merge')))).toMatch(
      /other2-0: holds a different sweep than .*shard-0 \(the specs in their sweep\.json differ\); refusing to merge$/,
    );
  });

  it('samples distinct random grid points from the seed', async () => {
    const random = specFile('random', { ...GRID, sampling: { kind: 'random', points: 10, seed: 3 } });
    await run(random, join(DIR, 'random'));
    const { points } = readResults(join(DIR, 'random'));
    expect(points.map((p) => p.index)).toEqual([...Array(10).keys()]);
    expect(new Set(points.map((p) => JSON.stringify(p.params))).size).toBe(10);
    // Each random point is a grid point with the grid point's result, only its index differs.
    const grid = readResults(join(DIR, 'whole')).points;
    for (const p of points) {
      const same = grid.find((g) => JSON.stringify(g.params) === JSON.stringify(p.params));
      expect({ ...same, index: p.index }).toEqual(p);
    }
  });

  it('resumes an NSGA-II search into the same generations', async () => {
    const search = specFile('nsga2', { ...GRID, sampling: { kind: 'nsga2', population: 6, generations: 4, seed: 2 } });
    const full = await run(search, join(DIR, 'nsga2'));
    expect(full.split('\n').length - 1).toBe(24);
    const out = join(DIR, 'nsga2-cut');
    mkdirSync(out);
    copyFileSync(join(DIR, 'nsga2', 'sweep.json'), join(out, 'sweep.json'));
    writeFileSync(join(out, 'results.jsonl'), full.split('\n').slice(0, 9).join('\n').slice(0, -10));
    expect(await run(search, out, { resume: true })).toBe(full);
    await expect(run(search, join(DIR, 'nsga2-shard'), { shard: { index: 0, count: 2 } })).rejects.toThrow(/--shard cannot split an nsga2 sweep/);
  });
});
