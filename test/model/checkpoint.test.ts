import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../src/config/errors.js';
import { CONFIG_KEY, DATASET_KEY, loadCheckpoint, parseConfigJson, saveCheckpoint, toFileConfig } from '../../src/model/checkpoint.js';
import { paramShapes, type ViTConfig, type ViTParams } from '../../src/model/config.js';
import { readSafetensors, writeSafetensors } from '../../src/model/safetensors.js';
import { initViT, normaliseImages, vitForward } from '../../src/model/vit.js';

const dir = mkdtempSync(join(tmpdir(), 'vitsim-checkpoint-'));

/** DeiT-Tiny (timm deit_tiny_patch16_224) with ImageNet normalisation. */
const DEIT_TINY: ViTConfig = {
  imgSize: 224, patchSize: 16, inChans: 3, embedDim: 192, depth: 12, numHeads: 3, mlpRatio: 4, numClasses: 1000,
  mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
};

const SMALL: ViTConfig = {
  imgSize: 28, patchSize: 7, inChans: 1, embedDim: 8, depth: 2, numHeads: 2, mlpRatio: 2, numClasses: 10, mean: [0.3], std: [0.35],
};

/** Parameters with distinct, deterministic values (no model code needed to check the file layer). */
function countingParams(config: ViTConfig): ViTParams {
  let next = 0;
  return new Map(
    [...paramShapes(config)].map(([name, shape]) => {
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      for (let i = 0; i < data.length; i++) data[i] = Math.fround(Math.sin(next++));
      return [name, { shape, data }];
    }),
  );
}

/** The one-line message of the UserError that `load` throws. */
function refusal(load: () => unknown): string {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message;
  }
  throw new Error('the checkpoint was accepted');
}

describe('DeiT-Tiny checkpoint', () => {
  it('saves and loads with every tensor bit-identical, and runs to the same finite [1, 1000] logits', () => {
    const params = initViT(DEIT_TINY, 7);
    const file = join(dir, 'deit-tiny.safetensors');
    saveCheckpoint(file, DEIT_TINY, params);
    const loaded = loadCheckpoint(file);

    expect(loaded.config).toEqual(DEIT_TINY);
    expect([...loaded.params.keys()]).toEqual([...paramShapes(DEIT_TINY).keys()]);
    for (const [name, tensor] of params) {
      const back = loaded.params.get(name);
      expect(back?.shape, name).toEqual(tensor.shape);
      expect(Buffer.from(back?.data.buffer ?? new ArrayBuffer(0)).equals(Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength)), name).toBe(true);
    }

    const pixels = new Float32Array(3 * 224 * 224);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i % 251) / 250;
    const images = normaliseImages(DEIT_TINY, pixels, 1);
    const fromFile = vitForward(loaded.config, loaded.params, images, 1, false).logits;
    const inMemory = vitForward(DEIT_TINY, params, images, 1, false).logits;
    expect(fromFile.length).toBe(1000);
    expect(fromFile.every(Number.isFinite)).toBe(true);
    expect(fromFile).toEqual(inMemory);
  });
});

describe('checkpoint metadata', () => {
  it('stores the config as snake_case JSON under vitsim.config, and the training dataset', () => {
    const file = join(dir, 'small.safetensors');
    saveCheckpoint(file, SMALL, countingParams(SMALL), { dataset: 'fashion-mnist' });
    const { metadata } = readSafetensors(file);
    expect(JSON.parse(metadata[CONFIG_KEY])).toEqual({
      img_size: 28, patch_size: 7, in_chans: 1, embed_dim: 8, depth: 2, num_heads: 2, mlp_ratio: 2, num_classes: 10, mean: [0.3], std: [0.35],
    });
    expect(metadata[DATASET_KEY]).toBe('fashion-mnist');
    expect(loadCheckpoint(file).metadata[DATASET_KEY]).toBe('fashion-mnist');
  });

  it('refuses to save parameters that the config does not describe (a bug, not a user mistake)', () => {
    const params = countingParams(SMALL);
    params.delete('head.bias');
    expect(() => saveCheckpoint(join(dir, 'bad.safetensors'), SMALL, params)).toThrow('saveCheckpoint: tensor head.bias is missing');
  });

  it('refuses a vitsim.config that is not JSON, has an unknown key or describes no ViT', () => {
    const file = join(dir, 'meta.safetensors');
    const params = countingParams(SMALL);
    writeSafetensors(file, params, { [CONFIG_KEY]: '{img_size: 28' });
    expect(refusal(() => loadCheckpoint(file))).toMatch(new RegExp(`^${file}: vitsim.config: is not valid JSON`));
    writeSafetensors(file, params, { [CONFIG_KEY]: JSON.stringify({ ...toFileConfig(SMALL), num_head: 2 }) });
    expect(refusal(() => loadCheckpoint(file))).toMatch(/vitsim.config: unknown key "num_head" \(known: img_size, /);
    writeSafetensors(file, params, { [CONFIG_KEY]: JSON.stringify({ ...toFileConfig(SMALL), num_heads: 3 }) });
    expect(refusal(() => loadCheckpoint(file))).toBe(`${file}: config: embedDim 8 must be a multiple of numHeads 3`);
  });
});

describe('checkpoint tensors against the config', () => {
  const file = join(dir, 'shapes.safetensors');
  const withConfig = (params: ViTParams, config: ViTConfig = SMALL) =>
    writeSafetensors(file, params, { [CONFIG_KEY]: JSON.stringify(toFileConfig(config)) });

  it('names a missing tensor', () => {
    const params = countingParams(SMALL);
    params.delete('blocks.1.mlp.fc2.weight');
    withConfig(params);
    expect(refusal(() => loadCheckpoint(file))).toBe(`${file}: tensor "blocks.1.mlp.fc2.weight" is missing (the config needs it with shape [8, 16])`);
  });

  it('names a tensor whose shape does not match the config', () => {
    const params = countingParams(SMALL);
    params.set('blocks.0.attn.qkv.weight', { shape: [24, 4], data: new Float32Array(96) });
    withConfig(params);
    expect(refusal(() => loadCheckpoint(file))).toBe(`${file}: tensor "blocks.0.attn.qkv.weight" has shape [24, 4], the config needs [24, 8]`);
  });

  it('names tensors the config does not describe (here, a third block for a depth-2 config)', () => {
    withConfig(countingParams({ ...SMALL, depth: 3 }));
    expect(refusal(() => loadCheckpoint(file))).toBe(
      `${file}: tensors blocks.2.attn.proj.bias, blocks.2.attn.proj.weight, blocks.2.attn.qkv.bias and 9 more: not part of the ViT its config describes`,
    );
  });

  it('refuses the stored config when the tensors are for another model', () => {
    withConfig(countingParams(SMALL), { ...SMALL, embedDim: 16 });
    expect(refusal(() => loadCheckpoint(file))).toBe(`${file}: tensor "cls_token" has shape [1, 1, 8], the config needs [1, 1, 16]`);
  });
});

describe('timm checkpoints (no vitsim.config)', () => {
  const file = join(dir, 'timm.safetensors');
  const given = { numHeads: 2, mean: [0.3], std: [0.35] };

  it('infers embed_dim, depth, patch_size, in_chans, mlp_ratio, num_classes and img_size from the shapes', () => {
    writeSafetensors(file, countingParams(SMALL));
    expect(loadCheckpoint(file, { config: given }).config).toEqual(SMALL);
    writeSafetensors(file, countingParams(DEIT_TINY));
    expect(loadCheckpoint(file, { config: parseConfigJson('{"num_heads": 3, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}', 'deit.json') }).config).toEqual(DEIT_TINY);
  });

  it('refuses without num_heads and the normalisation, naming them and the flag that gives them', () => {
    writeSafetensors(file, countingParams(SMALL));
    expect(refusal(() => loadCheckpoint(file))).toMatch(
      new RegExp(`^${file}: the model config lacks num_heads, mean, std \\(not in the file's vitsim.config, not inferable from tensor shapes\\); give them in a JSON config file \\(vitsim: --config\\)`),
    );
    expect(refusal(() => loadCheckpoint(file, { config: { numHeads: 2 } }))).toMatch(/lacks mean, std /);
  });

  it("lets the caller's config override what the shapes imply, and then checks the shapes", () => {
    writeSafetensors(file, countingParams(SMALL));
    expect(refusal(() => loadCheckpoint(file, { config: { ...given, imgSize: 56 } }))).toBe(`${file}: tensor "pos_embed" has shape [1, 17, 8], the config needs [1, 65, 8]`);
  });

  it('refuses the tensors of timm variants that vitsim does not run, naming them', () => {
    const cases: [string, number[], RegExp][] = [
      ['fc_norm.weight', [8], /tensor fc_norm.weight: global average pooling with fc_norm/],
      ['dist_token', [1, 1, 8], /tensor dist_token: the distillation token and head of distilled DeiT/],
      ['head_dist.weight', [10, 8], /tensor head_dist.weight: the distillation token/],
      ['pre_logits.fc.weight', [8, 8], /pre-logits/],
      ['blocks.1.ls1.gamma', [8], /LayerScale/],
      ['blocks.0.attn.q_norm.weight', [4], /query\/key normalisation/],
      ['reg_token', [1, 4, 8], /register tokens/],
      ['norm_pre.weight', [8], /pre_norm/],
    ];
    for (const [name, shape, message] of cases) {
      const params = countingParams(SMALL);
      params.set(name, { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
      writeSafetensors(file, params);
      const line = refusal(() => loadCheckpoint(file, { config: given }));
      expect(line.startsWith(`${file}: tensor ${name}: `)).toBe(true);
      expect(line).toMatch(message);
    }
  });
});
