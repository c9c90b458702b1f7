import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { literatureTable, readLiterature } from '../../src/dse/accuracy.js';
import { evaluator } from '../../src/dse/evaluate.js';
import { measuredAccuracy, type MeasureEngine } from '../../src/dse/measured.js';
import { ACCURACY_DIR, parseSweep } from '../../src/dse/spec.js';
import { WORKLOADS_DIR } from '../../src/trace/workload.js';
import { refusal } from '../refusal.js';

const DIR = mkdtempSync(join(tmpdir(), 'vitsim-accuracy-'));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

const TABLES = readdirSync(ACCURACY_DIR).filter((f) => f.endsWith('.csv')).map((f) => join(ACCURACY_DIR, f));

function sweep(workload: string, accuracy: object, extra: object = {}): ReturnType<typeof parseSweep> {
  return parseSweep({ name: 'a', base: 'edge-16x16', workload, axes: [{ name: 'array.rows', values: [8, 16] }], accuracy, ...extra }, join(DIR, 'a.json'));
}

describe('literature accuracy', () => {
  it('ships a cited ImageNet table for DeiT, ViT and Swin: every row has its source and a percentage', () => {
    const rows = TABLES.flatMap(readLiterature);
    expect(rows.length).toBeGreaterThan(80);
    for (const r of rows) {
      expect(r.source).toMatch(/\d{4}|arXiv/);
      expect(r.top1).toBeGreaterThan(0);
      expect(r.top1).toBeLessThanOrEqual(100);
    }
    for (const model of ['deit-t', 'deit-s', 'deit-b', 'vit-b16', 'swin-t']) expect(rows.some((r) => r.model === model)).toBe(true);
    // The table holds each (model, method, widths, mixed) once.
    expect(literatureTable(TABLES).size).toBe(rows.length);
  });

  it('gives a point the row of its workload, method and widths, with the citation', async () => {
    const spec = sweep('deit-b', { source: 'literature' }, { quant: { method: 'ptq4vit', wbits: 6, abits: 6 }, constraints: [{ metric: 'accuracy', min: 80.5 }] });
    const point = await evaluator(spec)(0, { 'array.rows': 8 });
    expect(point.metrics.accuracy).toBe(80.25);
    expect(point.metrics.accuracySource).toMatch(/PTQ4ViT \(ECCV 2022\).*DeiT-B\/224, PTQ4ViT W6A6/);
    expect(point.violated).toEqual(['accuracy >= 80.5']);
    const mixed = await evaluator(sweep('deit-b', { source: 'literature' }, { quant: { method: 'liu2021' } }))(0, { 'quant.budget': 4 });
    expect(mixed.metrics.accuracy).toBe(75.94);
  });

  it('gives null, never a guess, where the tables have no row, and then no accuracy constraint holds', async () => {
    const spec = sweep('deit-b', { source: 'literature' }, { quant: { method: 'ofq', wbits: 4, abits: 4 }, constraints: [{ metric: 'accuracy', min: 1 }] });
    const point = await evaluator(spec)(0, {});
    expect(point.metrics.accuracy).toBeNull();
    expect(point.metrics.accuracySource).toBeNull();
    expect(point.feasible).toBe(false);
  });

  it('refuses a table row without its source, and a row given twice', () => {
    const header = 'model,method,wbits,abits,mixed,top1,fp_top1,source\n';
    const unsourced = join(DIR, 'unsourced.csv');
    writeFileSync(unsourced, `${header}deit-b,uniform,8,8,false,80.1,81.8,\n`);
    expect(refusal(() => readLiterature(unsourced))).toBe(`${unsourced}: row 2: source is empty; every accuracy needs its citation`);
    const twice = join(DIR, 'twice.csv');
    writeFileSync(twice, `${header}deit-b,ptq4vit,8,8,false,81.0,81.8,"somebody, 2024"\n`);
    expect(refusal(() => literatureTable([...TABLES, twice]))).toBe(`${twice}: deit-b ptq4vit W8A8 is given twice across the accuracy tables`);
  });
});

describe('measured accuracy', () => {
  it('measures each quantisation config once, caches it on disk, and reuses the cache in a later run', async () => {
    const spec = sweep('vit-fashion-mnist', { source: 'measured', images: 200, calibration: 32 }, { constraints: [{ metric: 'accuracy', min: 85 }] });
    const calls: string[] = [];
    const fake: MeasureEngine = async (q, setup) => {
      calls.push(`${q.method} W${q.wbits}A${q.abits} ${setup.images}`);
      return 80 + q.wbits;
    };
    const cacheDir = join(DIR, 'cache');
    const evaluate = evaluator(spec, { accuracy: measuredAccuracy(spec, { images: 200, calibration: 32, seed: 0 }, cacheDir, fake) });
    const points = await Promise.all([
      evaluate(0, { 'array.rows': 8, 'quant.bits': 8 }),
      evaluate(1, { 'array.rows': 16, 'quant.bits': 8 }),
      evaluate(2, { 'array.rows': 8, 'quant.bits': 4 }),
      evaluate(3, { 'array.rows': 16, 'quant.bits': 4 }),
    ]);
    expect(points.map((p) => p.metrics.accuracy)).toEqual([88, 88, 84, 84]);
    expect(points.map((p) => p.feasible)).toEqual([true, true, false, false]);
    expect(points[0].metrics.accuracySource).toMatch(/^measured: integer engine, uniform W8A8, 200 test images, 32 calibration images, seed 0 \(cache [0-9a-f]{16}\)$/);
    expect(calls.sort()).toEqual(['uniform W4A4 200', 'uniform W8A8 200']);

    const never: MeasureEngine = async () => {
      throw new Error('measured again instead of reading the cache');
    };
    const again = evaluator(spec, { accuracy: measuredAccuracy(spec, { images: 200, calibration: 32, seed: 0 }, cacheDir, never) });
    expect((await again(9, { 'quant.bits': 4 })).metrics.accuracy).toBe(84);
    // Another number of test images is another measurement.
    const more = measuredAccuracy(spec, { images: 400, calibration: 32, seed: 0 }, cacheDir, fake);
    await more({ method: 'uniform', wbits: 4, abits: 4, accBits: 32, mixed: false }, 'vit-fashion-mnist');
    expect(calls).toContain('uniform W4A4 400');
  });

  it('refuses a workload with no checkpoint to measure', () => {
    expect(refusal(() => sweep('deit-b', { source: 'measured' }))).toBe(`${join(DIR, 'a.json')}: accuracy.source measured needs a workload with a shipped checkpoint; deit-b has none (use literature)`);
  });

  it('refuses to measure a QKR workload, whose checkpoint post-training quantization cannot reproduce', () => {
    const file = join(DIR, 'qkr-workload.json');
    const shipped = JSON.parse(readFileSync(join(WORKLOADS_DIR, 'vit-fashion-mnist.json'), 'utf8'));
    writeFileSync(file, JSON.stringify({ ...shipped, $schema: undefined, attention: 'qkr', checkpoint: shipped.checkpoint }));
    expect(refusal(() => sweep(file, { source: 'measured' }))).toMatch(/accuracy\.source measured quantizes .* post-training, with standard attention, not QKR/);
  });
});
