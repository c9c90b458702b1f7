import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseOptions, runQuantize, type QuantizeArgs } from '../../src/cli/quantize.js';
import { saveCheckpoint } from '../../src/model/checkpoint.js';
import type { ViTConfig } from '../../src/model/config.js';
import { initViT } from '../../src/model/vit.js';
import { readQuantizedModel } from '../../src/quant/qmodel-file.js';
import type { QuantLinear } from '../../src/quant/spec.js';
import { refusal } from '../refusal.js';

const CONFIG: ViTConfig = {
  imgSize: 28, patchSize: 7, inChans: 1, embedDim: 16, depth: 1, numHeads: 2, mlpRatio: 2, numClasses: 10, mean: [0.286], std: [0.353],
};
const dir = mkdtempSync(join(tmpdir(), 'vitsim-quantize-'));
const model = join(dir, 'tiny.safetensors');

function args(overrides: Partial<QuantizeArgs>): QuantizeArgs {
  return {
    model, method: 'uniform', wbits: 8, abits: 8, calib: 16, seed: 0, option: ['scale=minmax'], out: join(dir, 'q.safetensors'), json: false, quiet: true,
    ...overrides,
  };
}

describe('vitsim quantize', () => {
  beforeAll(() => saveCheckpoint(model, CONFIG, initViT(CONFIG, 5), { dataset: 'fashion-mnist' }));

  it('writes a quantized-model file that reads back with the requested bits, and summarises it', () => {
    const out = join(dir, 'w6a5.safetensors');
    const summary = runQuantize(args({ wbits: 6, abits: 5, out, option: ['scale=minmax', 'granularity=channel'] }));
    expect(summary).toMatchObject({ method: 'uniform', wbits: 6, abits: 5, calibration: 16, dataset: 'fashion-mnist', ops: 8, out });
    expect(summary.bytes).toBe(statSync(out).size);
    const q = readQuantizedModel(out);
    const fc1 = q.ops.get('blocks.0.mlp.fc1') as QuantLinear;
    expect(fc1.weight.bits).toBe(6);
    expect(fc1.weight.scales).toHaveLength(32);
    expect(fc1.input.bits).toBe(5);
    expect(q.options).toMatchObject({ wbits: 6, abits: 5, calibration: 16, granularity: 'channel', scale: 'minmax', dataset: 'fashion-mnist' });
  });

  it('gives the same file for the same seed and different scales for another calibration draw', () => {
    const a = readQuantizedModel(runQuantize(args({ out: join(dir, 'a.safetensors') })).out);
    const b = readQuantizedModel(runQuantize(args({ out: join(dir, 'b.safetensors') })).out);
    const c = readQuantizedModel(runQuantize(args({ out: join(dir, 'c.safetensors'), seed: 1 })).out);
    const scale = (q: typeof a): number => ((q.ops.get('blocks.0.attn.proj') as QuantLinear).input as { scale: Float32Array }).scale[0];
    expect(scale(a)).toBe(scale(b));
    expect(scale(a)).not.toBe(scale(c));
  });

  it('parses --option key=value into numbers, booleans and strings', () => {
    expect(parseOptions(['percentile=99.9', 'symmetric=false', 'scale=mse'])).toEqual({ percentile: 99.9, symmetric: false, scale: 'mse' });
  });

  it('refuses bad flags and options with one line', () => {
    const cases: [Partial<QuantizeArgs>, string | RegExp][] = [
      [{ wbits: 1 }, 'vitsim quantize: --wbits must be an integer in 2…16, got 1'],
      [{ abits: 8.5 }, 'vitsim quantize: --abits must be an integer in 2…16, got 8.5'],
      [{ calib: 0 }, 'vitsim quantize: --calib must be an integer >= 1, got 0'],
      [{ option: ['scale'] }, 'vitsim quantize: --option must be key=value, got "scale"'],
      [{ option: ['scale=best'] }, /^uniform: option scale must be 'minmax', 'percentile', 'mse' or 'cosine', got "best"$/],
      [{ option: ['colour=blue'] }, /^uniform: unknown option "colour"/],
      [{ method: 'magic' }, /^--method must be one of uniform, .*got "magic"$/],
      [{ method: 'n2uq' }, /^--method n2uq is quantization-aware training: run vitsim qat --method n2uq and use the model file it writes \(post-training methods here: uniform, ptq4vit, noisyquant, liu2021\)$/],
      [{ model: join(dir, 'missing.safetensors') }, /missing\.safetensors: cannot read file \(no such file or directory\)$/],
    ];
    for (const [override, expected] of cases) {
      const message = refusal(() => runQuantize(args(override)));
      if (typeof expected === 'string') expect(message).toBe(expected);
      else expect(message).toMatch(expected);
    }
  });
});
