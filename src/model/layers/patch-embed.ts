/**
 * timm's PatchEmbed: nn.Conv2d(C, D, kernel_size=P, stride=P) followed by flatten(2).transpose(1, 2).
 * With kernel = stride the patches do not overlap, so the convolution is im2col + one linear layer:
 * the weight [D, C, P, P] read row-major is already the [D, C·P·P] matrix whose columns run over
 * (c, ky, kx), and the patches come out in row-major order over the (H/P)×(W/P) grid, as timm's
 * flatten(2) orders them.
 */
import { linearBackward, linearForward } from './linear.js';

export interface PatchShape {
  batch: number;
  channels: number;
  imgSize: number;
  patchSize: number;
}

/**
 * images [B, C, H, W] → patches [B·Np, C·P·P] (overwritten), Np = (H/P)·(W/P). Float pixels for the
 * model, or the integer engine's pixel codes.
 */
export function im2col<T extends Float32Array | Int16Array>(images: T, patches: T, shape: PatchShape): void {
  const { batch, channels, imgSize: s, patchSize: p } = shape;
  const grid = s / p;
  const cols = channels * p * p;
  for (let b = 0; b < batch; b++) {
    for (let gy = 0; gy < grid; gy++) {
      for (let gx = 0; gx < grid; gx++) {
        const row = ((b * grid + gy) * grid + gx) * cols;
        for (let c = 0; c < channels; c++) {
          for (let ky = 0; ky < p; ky++) {
            const src = ((b * channels + c) * s + gy * p + ky) * s + gx * p;
            const dst = row + (c * p + ky) * p;
            for (let kx = 0; kx < p; kx++) patches[dst + kx] = images[src + kx];
          }
        }
      }
    }
  }
}

/** patches [B·Np, C·P·P], weight [D, C, P, P], bias [D] → tokens [B·Np, D] (overwritten). */
export function patchEmbedForward(
  patches: Float32Array, weight: Float32Array, bias: Float32Array, tokens: Float32Array,
  shape: PatchShape, embedDim: number,
): void {
  linearForward(patches, weight, bias, tokens, rowsOf(shape), colsOf(shape), embedDim);
}

/** Given dTokens [B·Np, D]: dWeight += …, dBias += …; the images need no gradient. */
export function patchEmbedBackward(
  patches: Float32Array, weight: Float32Array, dTokens: Float32Array,
  dWeight: Float32Array, dBias: Float32Array, shape: PatchShape, embedDim: number,
): void {
  linearBackward(patches, weight, dTokens, undefined, dWeight, dBias, rowsOf(shape), colsOf(shape), embedDim);
}

function rowsOf({ batch, imgSize, patchSize }: PatchShape): number {
  return batch * (imgSize / patchSize) ** 2;
}

function colsOf({ channels, patchSize }: PatchShape): number {
  return channels * patchSize * patchSize;
}

/**
 * x = cat(cls_token, patch tokens) + pos_embed: token 0 of each image is the class token.
 * embedded [B·Np, D] → x [B·(Np + 1), D] (overwritten).
 */
export function addClassAndPosition(embedded: Float32Array, cls: Float32Array, pos: Float32Array, x: Float32Array, batch: number, patches: number, dim: number): void {
  const t = patches + 1;
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < dim; j++) x[b * t * dim + j] = cls[j] + pos[j];
    for (let i = 1; i < t; i++) {
      const dst = (b * t + i) * dim;
      const src = (b * patches + i - 1) * dim;
      for (let j = 0; j < dim; j++) x[dst + j] = embedded[src + j] + pos[i * dim + j];
    }
  }
}
