/**
 * The float Vision Transformer, with exactly the semantics of timm's `VisionTransformer`
 * (global_pool='token', class token, learned absolute position embedding, pre-norm blocks,
 * qkv_bias=True, no LayerScale, no fc_norm), so a timm checkpoint loads by name and gives the same
 * logits:
 *
 *   x = patch_embed(img)                       conv P×P stride P → [B, Np, D]
 *   x = cat(cls_token, x) + pos_embed          [B, T, D], T = Np + 1
 *   for each block:  x = x + attn(norm1(x));   x = x + mlp(norm2(x))
 *   logits = head(norm(x)[:, 0])               [B, numClasses]
 *
 * Every activation is a row-major Float32Array; a [B, T, D] tensor is stored as B·T rows of D.
 * Forward and backward call the layers in src/model/layers/, whose matrix products all go through
 * one GEMM import (layers/matmul.ts).
 */

import type { ViTConfig, ViTParams } from './config.js';

/** What one block's backward needs; each field also names the input of a timm layer (for calibration). */
export interface BlockActivations {
  /** [B·T, D] residual stream entering the block. */
  input: Float32Array;
  /** [B·T] per-token mean and 1/sqrt(var + eps) of norm1. */
  norm1Mean: Float32Array;
  norm1Rstd: Float32Array;
  /** [B·T, D] norm1 output = input of attn.qkv. */
  norm1Out: Float32Array;
  /** [B·T, 3D] attn.qkv output, timm layout [B, T, 3, H, d]. */
  qkv: Float32Array;
  /** [B, H, T, T] softmax(q·kᵀ·d^-0.5), row = query token. */
  attnProbs: Float32Array;
  /** [B·T, D] heads concatenated (head h owns columns h·d … h·d+d−1) = input of attn.proj. */
  attnOut: Float32Array;
  /** [B·T, D] residual stream after the attention branch = input of norm2. */
  afterAttn: Float32Array;
  /** [B·T] mean and 1/sqrt(var + eps) of norm2. */
  norm2Mean: Float32Array;
  norm2Rstd: Float32Array;
  /** [B·T, D] norm2 output = input of mlp.fc1. */
  norm2Out: Float32Array;
  /** [B·T, hidden] mlp.fc1 output, before GELU. */
  fc1Out: Float32Array;
  /** [B·T, hidden] GELU output = input of mlp.fc2. */
  geluOut: Float32Array;
}

/** Everything vitBackward needs, kept by vitForward(…, keep = true). */
export interface ViTActivations {
  batch: number;
  /** [B·Np, C·P·P] image patches in (c, ky, kx) order, patches row-major over the grid = input of patch_embed.proj. */
  patches: Float32Array;
  blocks: BlockActivations[];
  /** [B·T, D] residual stream after the last block = input of the final norm. */
  output: Float32Array;
  /**
   * [B] statistics of the final norm, for the class tokens only: timm normalises every token and
   * then pools token 0, so normalising token 0 alone gives the same logits with T times less work.
   */
  normMean: Float32Array;
  normRstd: Float32Array;
  /** [B, D] final norm of the class token = input of head. */
  clsNormed: Float32Array;
}

export function initViT(config: ViTConfig, seed: number): ViTParams {
  throw new Error(`initViT: not implemented yet (${config.embedDim}, ${seed})`);
}

export function vitForward(
  config: ViTConfig,
  params: ViTParams,
  images: Float32Array,
  batch: number,
  keep: boolean,
): { logits: Float32Array; activations?: ViTActivations } {
  throw new Error(`vitForward: not implemented yet (${config.embedDim}, ${params.size}, ${images.length}, ${batch}, ${keep})`);
}

export function vitBackward(
  config: ViTConfig,
  params: ViTParams,
  activations: ViTActivations,
  dLogits: Float32Array,
  grads: ViTParams,
): void {
  throw new Error(`vitBackward: not implemented yet (${config.embedDim}, ${params.size}, ${activations.batch}, ${dLogits.length}, ${grads.size})`);
}

export function zerosLike(params: ViTParams): ViTParams {
  throw new Error(`zerosLike: not implemented yet (${params.size})`);
}

export function normaliseImages(config: ViTConfig, pixels: Float32Array, batch: number): Float32Array {
  throw new Error(`normaliseImages: not implemented yet (${config.inChans}, ${pixels.length}, ${batch})`);
}
