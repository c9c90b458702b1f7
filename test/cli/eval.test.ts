import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { saveCheckpoint } from '../../src/model/checkpoint.js';
import type { ViTConfig, ViTParams } from '../../src/model/config.js';
import { loadDataset } from '../../src/model/datasets.js';
import { writeSafetensors } from '../../src/model/safetensors.js';
import { initViT, normaliseImages, vitForward } from '../../src/model/vit.js';
import { fakeQuantForward } from '../../src/quant/fakequant.js';
import { quantizeUniform } from '../../src/quant/methods/uniform.js';
import { writeQuantizedModel } from '../../src/quant/qmodel-file.js';
import type { QuantizedViT } from '../../src/quant/spec.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vitsim-eval-'));

const CONFIG: ViTConfig = {
  imgSize: 28, patchSize: 7, inChans: 1, embedDim: 16, depth: 1, numHeads: 2, mlpRatio: 2, numClasses: 10, mean: [0.286], std: [0.353],
};

/** Runs the CLI from source (tsx), as a user would run the built one, with stdout, stderr and the exit code. */
function vitsim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('vitsim eval', () => {
  const model = join(dir, 'random.safetensors');
  let params: ViTParams;

  beforeAll(() => {
    params = initViT(CONFIG, 3);
    saveCheckpoint(model, CONFIG, params, { dataset: 'fashion-mnist' });
  });

  it('reports top-1 accuracy as JSON and writes one CSV row of logits per image, in split order', () => {
    const csv = join(dir, 'logits.csv');
    const run = vitsim('eval', '--model', model, '--dataset', 'fashion-mnist', '--split', 'test', '--limit', '50', '--json', '--logits', csv);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(Object.keys(report)).toEqual(['dataset', 'split', 'count', 'correct', 'accuracy']);

    const [header, ...rows] = readFileSync(csv, 'utf8').trimEnd().split('\n');
    expect(header).toBe(`index,label,pred,${Array.from({ length: 10 }, (_, c) => `logit_${c}`).join(',')}`);
    expect(rows).toHaveLength(50);
    const table = rows.map((row) => row.split(',').map(Number));
    const set = loadDataset('fashion-mnist', 'test', 50);
    const expected = vitForward(CONFIG, params, normaliseImages(CONFIG, set.pixels, 50), 50, false).logits;
    table.forEach(([index, label, pred, ...logits], i) => {
      expect(index).toBe(i);
      expect(label).toBe(set.labels[i]);
      expect(logits).toEqual([...expected.subarray(10 * i, 10 * i + 10)]);
      expect(pred).toBe(logits.indexOf(Math.max(...logits)));
    });
    const correct = table.filter(([, label, pred]) => label === pred).length;
    expect(report).toEqual({ dataset: 'fashion-mnist', split: 'test', count: 50, correct, accuracy: correct / 50 });
  });

  it('defaults --dataset to the one recorded in the checkpoint and prints one line without --json', () => {
    const run = vitsim('eval', '--model', model, '--limit', '20');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^fashion-mnist test: \d+\/20 correct, top-1 accuracy \d+\.\d\d%\n$/);
  });

  it('exits with 2 and one line naming the file for a file that is not a checkpoint', () => {
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, 'this is not a safetensors file at all');
    const run = vitsim('eval', '--model', bad, '--dataset', 'fashion-mnist', '--limit', '5');
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(new RegExp(`^${bad}: header length \\d+ bytes exceeds the 100000000-byte limit [^\\n]*\\n$`));
  });

  it('exits with 2 and one line when nothing says which dataset to use', () => {
    const bare = join(dir, 'no-dataset.safetensors');
    saveCheckpoint(bare, CONFIG, params);
    const run = vitsim('eval', '--model', bare, '--limit', '5');
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(`vitsim eval: give --dataset (fashion-mnist or mnist); ${bare} does not record what it was trained on\n`);
  });

  it('takes num_heads and the normalisation of a timm-style checkpoint from --config', () => {
    const timm = join(dir, 'timm.safetensors');
    const config = join(dir, 'timm.json');
    writeSafetensors(timm, params);
    writeFileSync(config, JSON.stringify({ num_heads: 2, mean: [0.286], std: [0.353] }));
    const without = vitsim('eval', '--model', timm, '--dataset', 'fashion-mnist', '--limit', '5');
    expect(without.status).toBe(2);
    expect(without.stderr).toMatch(/lacks num_heads, mean, std .*--config/);
    const run = vitsim('eval', '--model', timm, '--config', config, '--dataset', 'fashion-mnist', '--limit', '10', '--json');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ dataset: 'fashion-mnist', count: 10 });
  });

  it('refuses a model whose input does not fit the dataset', () => {
    const big = join(dir, 'big.safetensors');
    const config = { ...CONFIG, imgSize: 32, patchSize: 8, inChans: 3, mean: [0, 0, 0], std: [1, 1, 1] };
    saveCheckpoint(big, config, initViT(config, 1));
    const run = vitsim('eval', '--model', big, '--dataset', 'mnist', '--limit', '5');
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(`${big}: the model takes 3x32x32 images, mnist has 1x28x28\n`);
  });
});

describe('vitsim eval --quant', () => {
  const model = join(dir, 'q-random.safetensors');
  const qmodel = join(dir, 'q-random.qmodel.safetensors');
  let quantized: QuantizedViT;

  beforeAll(() => {
    const params = initViT(CONFIG, 4);
    saveCheckpoint(model, CONFIG, params, { dataset: 'fashion-mnist' });
    const calib = loadDataset('fashion-mnist', 'train', 20);
    quantized = quantizeUniform(CONFIG, params, calib, { wbits: 4, abits: 4, seed: 0, extra: { scale: 'minmax' } });
    writeQuantizedModel(qmodel, quantized);
  });

  it('evaluates the fake-quant engine by default and writes its logits', () => {
    const csv = join(dir, 'fq-logits.csv');
    const run = vitsim('eval', '--model', model, '--quant', qmodel, '--limit', '30', '--json', '--logits', csv);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const set = loadDataset('fashion-mnist', 'test', 30);
    const expected = fakeQuantForward(quantized, set.pixels, 30);
    const rows = readFileSync(csv, 'utf8').trimEnd().split('\n').slice(1).map((row) => row.split(',').map(Number));
    rows.forEach(([, , , ...logits], i) => expect(logits).toEqual([...expected.subarray(10 * i, 10 * i + 10)]));
    const correct = rows.filter(([, label, pred]) => label === pred).length;
    expect(JSON.parse(run.stdout)).toEqual({ dataset: 'fashion-mnist', split: 'test', engine: 'fakequant', quant: qmodel, count: 30, correct, accuracy: correct / 30 });
  });

  it('runs the float checkpoint with --engine float and says which engine ran', () => {
    const float = vitsim('eval', '--model', model, '--quant', qmodel, '--engine', 'float', '--limit', '10');
    expect(float.status).toBe(0);
    expect(float.stdout).toMatch(/^fashion-mnist test \(float\): \d+\/10 correct/);
  });

  it('refuses a quantized engine without --quant, and a quantized model of another config, with one line', () => {
    const run = vitsim('eval', '--model', model, '--engine', 'fakequant', '--limit', '5');
    expect(run.status).toBe(2);
    expect(run.stderr).toBe('vitsim eval: --engine fakequant needs --quant <qmodel>\n');
    const other = join(dir, 'other.safetensors');
    saveCheckpoint(other, { ...CONFIG, embedDim: 8 }, initViT({ ...CONFIG, embedDim: 8 }, 1), { dataset: 'fashion-mnist' });
    const mismatch = vitsim('eval', '--model', other, '--quant', qmodel, '--limit', '5');
    expect(mismatch.status).toBe(2);
    expect(mismatch.stderr).toBe(`${qmodel}: its config has embedDim 16, ${other} has 8; quantize this checkpoint with vitsim quantize\n`);
  });
  it('runs the integer engine: the same predictions and logits with 1 and 2 workers, as the library gives them', async () => {
    const { evaluateInteger } = await import('../../src/integer/evaluate.js');
    const one = join(dir, 'int-1.csv');
    const two = join(dir, 'int-2.csv');
    const a = vitsim('eval', '--model', model, '--quant', qmodel, '--engine', 'integer', '--limit', '40', '--json', '--logits', one);
    const b = vitsim('eval', '--model', model, '--quant', qmodel, '--engine', 'integer', '--limit', '40', '--json', '--workers', '2', '--logits', two);
    expect(a.stderr).toBe('');
    expect(a.status).toBe(0);
    expect(b.status).toBe(0);
    expect(readFileSync(two, 'utf8')).toBe(readFileSync(one, 'utf8'));
    const report = JSON.parse(a.stdout);
    expect(report).toMatchObject({ engine: 'integer', count: 40 });
    expect(JSON.parse(b.stdout)).toEqual(report);
    const direct = await evaluateInteger(quantized, loadDataset('fashion-mnist', 'test', 40), { logits: true });
    const rows = readFileSync(one, 'utf8').trimEnd().split('\n').slice(1).map((row) => row.split(',').map(Number));
    rows.forEach(([, , pred, ...logits], i) => {
      expect(pred).toBe(direct.predictions[i]);
      expect(logits).toEqual([...(direct.logits as Float32Array).subarray(10 * i, 10 * i + 10)]);
    });
    expect(report.overflows).toBe(direct.overflows);
  });

  it('stops with one line when --overflow error meets a result wider than --acc-bits, and refuses a bad width', () => {
    const narrow = vitsim('eval', '--model', model, '--quant', qmodel, '--engine', 'integer', '--limit', '5', '--acc-bits', '6', '--overflow', 'error');
    expect(narrow.status).toBe(2);
    expect(narrow.stderr).toMatch(/^vitsim eval --overflow error: .*accumulator result -?\d+ does not fit 6 bits \(--acc-bits 6\)\n$/);
    const saturated = vitsim('eval', '--model', model, '--quant', qmodel, '--engine', 'integer', '--limit', '5', '--acc-bits', '6', '--json');
    expect(saturated.status).toBe(0);
    expect(JSON.parse(saturated.stdout).overflows).toBeGreaterThan(0);
    const bad = vitsim('eval', '--model', model, '--quant', qmodel, '--engine', 'integer', '--limit', '5', '--acc-bits', '99');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('vitsim eval: --acc-bits must be an integer from 2 to 53, got 99\n');
  });
});
