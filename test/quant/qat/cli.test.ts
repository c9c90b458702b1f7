import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import yargs from 'yargs';
import { qatCommand } from '../../../src/cli/qat.js';
import { UserError } from '../../../src/config/errors.js';
import { saveCheckpoint } from '../../../src/model/checkpoint.js';
import type { ViTConfig } from '../../../src/model/config.js';
import { initViT } from '../../../src/model/vit.js';
import { compileProgram } from '../../../src/integer/compile.js';
import { integerForward } from '../../../src/integer/engine.js';
import { loadDataset } from '../../../src/model/datasets.js';
import { readQuantizedModel } from '../../../src/quant/qmodel-file.js';
import type { QuantizedViT } from '../../../src/quant/spec.js';

const CONFIG: ViTConfig = {
  imgSize: 28, patchSize: 7, inChans: 1, embedDim: 16, depth: 1, numHeads: 2, mlpRatio: 2, numClasses: 10, mean: [0.286], std: [0.353],
};
const dir = mkdtempSync(join(tmpdir(), 'vitsim-qat-'));
const model = join(dir, 'tiny.safetensors');
saveCheckpoint(model, CONFIG, initViT(CONFIG, 1), { dataset: 'fashion-mnist' });

/** The record's figure recomputed from the written file: the integer engine on the first `count` test images. */
function integerAccuracy(q: QuantizedViT, count: number): number {
  const test = loadDataset('fashion-mnist', 'test', count);
  const { logits } = integerForward(compileProgram(q), test.pixels, count);
  let correct = 0;
  for (let i = 0; i < count; i++) {
    let best = 0;
    for (let c = 1; c < 10; c++) if (logits[i * 10 + c] > logits[i * 10 + best]) best = c;
    if (best === test.labels[i]) correct++;
  }
  return correct / count;
}

async function qat(...args: string[]): Promise<void> {
  await yargs(['qat', ...args]).command(qatCommand).strict().exitProcess(false).fail((message, error) => {
    throw error ?? new UserError(message);
  }).parseAsync();
}

describe('vitsim qat', () => {
  it('writes a quantized-model file and a record with the recipe, the oscillation and both test accuracies', async () => {
    const out = join(dir, 'n2uq.safetensors');
    await qat('--model', model, '--method', 'n2uq', '--wbits', '3', '--abits', '3', '--train-limit', '64', '--batch-size', '32', '--test-limit', '20', '--quiet', '--out', out);
    const q = readQuantizedModel(out);
    expect(q.method).toBe('n2uq');
    const fc1 = q.ops.get('blocks.0.mlp.fc1');
    expect(fc1?.kind === 'linear' && fc1.input.kind === 'threshold' && fc1.input.thresholds.length).toBe(7);
    const record = JSON.parse(readFileSync(`${out}.record.json`, 'utf8'));
    expect(record.steps).toBe(2);
    expect(record.trainImages).toBe(64);
    expect(record.evaluation.testImages).toBe(20);
    expect(record.evaluation.integerAccuracy).toBe(integerAccuracy(q, 20));
    expect(record.oscillation.main.steps).toBe(2);
  });

  it('refuses --no-cga for a method without CGA, and a non-.safetensors output, with one line', async () => {
    await expect(qat('--model', model, '--method', 'lsq', '--wbits', '2', '--abits', '2', '--no-cga', '--out', join(dir, 'x.safetensors'))).rejects.toThrow(/--no-cga applies to --method ofq only/);
    await expect(qat('--model', model, '--method', 'ofq', '--wbits', '2', '--abits', '2', '--out', join(dir, 'x.bin'))).rejects.toThrow(/--out must name a .safetensors file/);
    await expect(qat('--model', model, '--method', 'ofq', '--wbits', '1', '--abits', '2', '--train-limit', '64', '--quiet', '--out', join(dir, 'y.safetensors'))).rejects.toThrow(/wbits must be an integer in 2…8/);
    await expect(qat('--model', model, '--method', 'n2uq', '--wbits', '2', '--abits', '2', '--qkr', '--out', join(dir, 'x.safetensors'))).rejects.toThrow(/--qkr applies to --method ofq only/);
  });

  it('--qkr writes a QKR model that the integer engine runs, and says so in the record', async () => {
    const out = join(dir, 'ofq-qkr.safetensors');
    await qat('--model', model, '--method', 'ofq', '--qkr', '--wbits', '3', '--abits', '3', '--train-limit', '64', '--batch-size', '32', '--test-limit', '20', '--quiet', '--out', out);
    const q = readQuantizedModel(out);
    expect(q.attention).toBe('qkr');
    expect([...q.ops.keys()].slice(0, 4)).toEqual(['patch_embed.proj', 'blocks.0.attn.v', 'blocks.0.attn.qkr', 'blocks.0.attn.qk']);
    const record = JSON.parse(readFileSync(`${out}.record.json`, 'utf8'));
    expect(record.options.attention).toBe('qkr');
    expect(record.evaluation.integerOverflows).toBe(0);
    expect(record.evaluation.integerAccuracy).toBe(integerAccuracy(q, 20));
  });

  it('a choice outside --method\'s list is one line naming the argument and the choices (the whole vitsim CLI)', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'qat', '--model', model, '--method', 'bogus', '--wbits', '2', '--abits', '2', '--out', join(dir, 'z.safetensors')], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual(['vitsim: Invalid values: Argument: method, Given: "bogus", Choices: "lsq", "n2uq", "ofq"']);
  });
});
