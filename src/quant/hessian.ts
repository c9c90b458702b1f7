/**
 * PTQ4ViT's Hessian-guided metric needs, for every matrix product, the gradient of the task loss
 * w.r.t. its output, on the calibration images through the full-precision network:
 *   score(Ô) = −Σ (∂L/∂O ⊙ (Ô − O))²
 * the diagonal Gauss–Newton approximation of the loss increase an output error causes.
 *
 * The loss is cross-entropy on the ground-truth labels (the paper's task loss). PTQ4ViT's released
 * code differentiates KL(FP ‖ current) while every layer is still FP, which is zero in deterministic
 * arithmetic (../shared/QUANT-METHODS.md §11.3): every candidate would tie.
 *
 * Layouts match captureFloat's outputs (assemble.ts), n = calibration images, g = n·H groups:
 *   linear op   [rows, out]; rows = n·Np (patch_embed), n (head), n·T (the rest)
 *   attn.qk     [g·T, T]  w.r.t. the scores S = Q·Kᵀ·d^−½ (what captureFloat keeps as qk's output)
 *   attn.pv     [g·T, d]  w.r.t. P·V per head
 */
import { headDim, mlpHidden, numPatches, numTokens, type ViTConfig, type ViTParams } from '../model/config.js';
import { softmaxCrossEntropy } from '../model/layers/softmax-cross-entropy.js';
import { normaliseImages, vitBackward, vitForward, zerosLike } from '../model/vit.js';

/** ∂L/∂O of every quant op, keyed by trace name, for L = mean cross-entropy over the first `count` images. */
export function outputGradients(
  config: ViTConfig,
  params: ViTParams,
  pixels: Float32Array,
  labels: Uint8Array,
  count: number,
  chunk = 32,
): Map<string, Float32Array> {
  const t = numTokens(config);
  const np = numPatches(config);
  const d = config.embedDim;
  const heads = config.numHeads;
  const hd = headDim(config);
  const hidden = mlpHidden(config);
  const pixelsPerImage = config.inChans * config.imgSize * config.imgSize;
  if (pixels.length < count * pixelsPerImage || labels.length < count) {
    throw new RangeError(`outputGradients: ${pixels.length} pixels and ${labels.length} labels for ${count} images`);
  }

  const grads = new Map<string, Float32Array>();
  /** Values per image of each op's gradient. */
  const perImage = new Map<string, number>();
  const op = (name: string, size: number): void => {
    grads.set(name, new Float32Array(count * size));
    perImage.set(name, size);
  };
  op('patch_embed.proj', np * d);
  for (let i = 0; i < config.depth; i++) {
    const pre = `blocks.${i}.`;
    op(pre + 'attn.qkv', t * 3 * d);
    op(pre + 'attn.qk', heads * t * t);
    op(pre + 'attn.pv', heads * t * hd);
    op(pre + 'attn.proj', t * d);
    op(pre + 'mlp.fc1', t * hidden);
    op(pre + 'mlp.fc2', t * d);
  }
  op('head', config.numClasses);

  const step = Math.max(1, Math.floor(chunk));
  const paramGrads = zerosLike(params);
  for (let start = 0; start < count; start += step) {
    const batch = Math.min(step, count - start);
    const raw = pixels.subarray(start * pixelsPerImage, (start + batch) * pixelsPerImage);
    const { logits, activations } = vitForward(config, params, normaliseImages(config, raw, batch), batch, true);
    if (!activations) throw new Error('outputGradients: the forward kept no activations');
    // Mean over the whole calibration set, whatever the chunking: a chunk's dLogits carry 1/count.
    const { dLogits } = softmaxCrossEntropy(logits, labels.subarray(start, start + batch), batch, config.numClasses);
    for (let j = 0; j < dLogits.length; j++) dLogits[j] *= batch / count;
    vitBackward(config, params, activations, dLogits, paramGrads, (name, grad) => {
      const dst = grads.get(name);
      if (!dst) return;
      const size = perImage.get(name) as number;
      const at = dst.subarray(start * size, (start + batch) * size);
      if (!name.endsWith('.pv')) {
        at.set(grad.subarray(0, batch * size));
        return;
      }
      // P·V's gradient arrives with the heads merged [B·T, D]; Q·Kᵀ's follows from it through the softmax.
      splitHeads(grad, batch, t, heads, hd, at);
      const block = activations.blocks[Number(name.split('.')[1])];
      const qk = grads.get(name.slice(0, -2) + 'qk') as Float32Array;
      scoreGradient(block.attnProbs, block.qkv, at, batch, t, heads, hd, qk.subarray(start * heads * t * t, (start + batch) * heads * t * t));
    });
  }
  return grads;
}

/** x [B·T, H·d] → dst [B·H·T, d], head-contiguous per image. */
function splitHeads(x: Float32Array, batch: number, t: number, heads: number, hd: number, dst: Float32Array): void {
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < t; i++) {
        const src = (b * t + i) * heads * hd + h * hd;
        const out = ((b * heads + h) * t + i) * hd;
        for (let j = 0; j < hd; j++) dst[out + j] = x[src + j];
      }
    }
  }
}

/**
 * ∂L/∂S from ∂L/∂(P·V), per head: dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)). probs [B, H, T, T],
 * qkv [B·T, 3D] (V is its last D columns), dPv [B·H·T, d]; out [B·H·T, T]. Float64 sums.
 */
function scoreGradient(
  probs: Float32Array, qkv: Float32Array, dPv: Float32Array, batch: number, t: number, heads: number, hd: number, out: Float32Array,
): void {
  const width = 3 * heads * hd;
  const dp = new Float64Array(t);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const g = b * heads + h;
      const vAt = (j: number): number => (b * t + j) * width + 2 * heads * hd + h * hd;
      for (let i = 0; i < t; i++) {
        const p = g * t * t + i * t;
        const dO = (g * t + i) * hd;
        let dot = 0;
        for (let j = 0; j < t; j++) {
          const v = vAt(j);
          let s = 0;
          for (let c = 0; c < hd; c++) s += dPv[dO + c] * qkv[v + c];
          dp[j] = s;
          dot += s * probs[p + j];
        }
        for (let j = 0; j < t; j++) out[p + j] = probs[p + j] * (dp[j] - dot);
      }
    }
  }
}
