/**
 * A ViT's architecture and its parameter list, named and shaped exactly as timm's
 * `VisionTransformer` (so a timm checkpoint loads by name). Weights are row-major Float32Arrays
 * in PyTorch layout: a linear layer's weight is [out, in].
 */

export interface ViTConfig {
  imgSize: number;
  patchSize: number;
  inChans: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  numClasses: number;
  /** Per-channel input normalisation applied to pixels in [0,1]: (x − mean) / std. */
  mean: number[];
  std: number[];
}

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

/** Parameters (or gradients) by timm name. */
export type ViTParams = Map<string, Tensor>;

/** timm's LayerNorm epsilon for ViTs (`partial(nn.LayerNorm, eps=1e-6)`). */
export const LAYER_NORM_EPS = 1e-6;

export function numPatches(config: ViTConfig): number {
  const side = config.imgSize / config.patchSize;
  return side * side;
}

/** Tokens per image: the patches plus the class token. */
export function numTokens(config: ViTConfig): number {
  return numPatches(config) + 1;
}

export function headDim(config: ViTConfig): number {
  return config.embedDim / config.numHeads;
}

export function mlpHidden(config: ViTConfig): number {
  return Math.round(config.embedDim * config.mlpRatio);
}

/** Every parameter's timm name and shape, in timm's state_dict order. */
export function paramShapes(config: ViTConfig): Map<string, number[]> {
  const d = config.embedDim;
  const p = config.patchSize;
  const hidden = mlpHidden(config);
  const shapes = new Map<string, number[]>([
    ['cls_token', [1, 1, d]],
    ['pos_embed', [1, numTokens(config), d]],
    ['patch_embed.proj.weight', [d, config.inChans, p, p]],
    ['patch_embed.proj.bias', [d]],
  ]);
  for (let i = 0; i < config.depth; i++) {
    const b = `blocks.${i}`;
    shapes.set(`${b}.norm1.weight`, [d]);
    shapes.set(`${b}.norm1.bias`, [d]);
    shapes.set(`${b}.attn.qkv.weight`, [3 * d, d]);
    shapes.set(`${b}.attn.qkv.bias`, [3 * d]);
    shapes.set(`${b}.attn.proj.weight`, [d, d]);
    shapes.set(`${b}.attn.proj.bias`, [d]);
    shapes.set(`${b}.norm2.weight`, [d]);
    shapes.set(`${b}.norm2.bias`, [d]);
    shapes.set(`${b}.mlp.fc1.weight`, [hidden, d]);
    shapes.set(`${b}.mlp.fc1.bias`, [hidden]);
    shapes.set(`${b}.mlp.fc2.weight`, [d, hidden]);
    shapes.set(`${b}.mlp.fc2.bias`, [d]);
  }
  shapes.set('norm.weight', [d]);
  shapes.set('norm.bias', [d]);
  shapes.set('head.weight', [config.numClasses, d]);
  shapes.set('head.bias', [config.numClasses]);
  return shapes;
}

/** Why a config cannot describe a ViT, or undefined when it can. */
export function configProblem(config: ViTConfig): string | undefined {
  const ints: (keyof ViTConfig)[] = ['imgSize', 'patchSize', 'inChans', 'embedDim', 'depth', 'numHeads', 'numClasses'];
  for (const key of ints) {
    const v = config[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) return `${key} must be a positive integer, got ${JSON.stringify(v)}`;
  }
  if (typeof config.mlpRatio !== 'number' || !(config.mlpRatio > 0)) return `mlpRatio must be a positive number, got ${JSON.stringify(config.mlpRatio)}`;
  if (config.imgSize % config.patchSize !== 0) return `imgSize ${config.imgSize} must be a multiple of patchSize ${config.patchSize}`;
  if (config.embedDim % config.numHeads !== 0) return `embedDim ${config.embedDim} must be a multiple of numHeads ${config.numHeads}`;
  for (const key of ['mean', 'std'] as const) {
    const v = config[key];
    if (!Array.isArray(v) || v.length !== config.inChans || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
      return `${key} must be ${config.inChans} finite numbers (one per input channel), got ${JSON.stringify(v)}`;
    }
  }
  if (config.std.some((x) => x <= 0)) return `std must be positive, got ${JSON.stringify(config.std)}`;
  return undefined;
}
