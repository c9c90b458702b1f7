import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../../src/model/checkpoint.js';
import { loadDataset } from '../../../src/model/datasets.js';
import { softmaxCrossEntropy } from '../../../src/model/layers/softmax-cross-entropy.js';
import { normaliseImages, vitBackward, vitForward, zerosLike } from '../../../src/model/vit.js';
import { createQatModel, qatBackward, qatForward, zeroGrads } from '../../../src/quant/qat/model.js';

const MODEL = 'workloads/models/vit-fashion-mnist.safetensors';

describe('QAT model', () => {
  const { config, params } = loadCheckpoint(MODEL);
  const images = loadDataset('fashion-mnist', 'test', 8);

  it('in float mode computes the float ViT: same logits and gradients as vitForward/vitBackward (patch_embed folded)', () => {
    const model = createQatModel(config, params, 'lsq', 4, 4);
    const { logits, activations } = qatForward(model, images.pixels, images.count, 'float');
    const ref = vitForward(config, params, normaliseImages(config, images.pixels, images.count), images.count, true);
    for (let i = 0; i < logits.length; i++) expect(logits[i]).toBeCloseTo(ref.logits[i], 3);
    const { dLogits } = softmaxCrossEntropy(logits, images.labels, images.count, config.numClasses);
    const grads = zeroGrads(model);
    qatBackward(model, activations, dLogits, grads);
    const refGrads = zerosLike(params);
    vitBackward(config, params, ref.activations!, softmaxCrossEntropy(ref.logits, images.labels, images.count, config.numClasses).dLogits, refGrads);
    for (const name of ['blocks.1.attn.qkv.weight', 'blocks.3.mlp.fc2.weight', 'head.weight', 'pos_embed', 'blocks.0.norm1.weight']) {
      const a = grads.params.get(name)!.data;
      const b = refGrads.get(name)!.data;
      let num = 0, den = 0;
      for (let i = 0; i < a.length; i++) { num += (a[i] - b[i]) ** 2; den += b[i] ** 2; }
      expect(Math.sqrt(num / den), name).toBeLessThan(1e-3);
    }
  });
});
