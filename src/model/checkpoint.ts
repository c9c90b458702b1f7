/**
 * ViT checkpoints: a .safetensors file whose tensors carry timm's names (so a timm checkpoint loads
 * as it is) and whose header metadata carries the model config as JSON under `vitsim.config`.
 *
 * A checkpoint from elsewhere has no `vitsim.config`. Then the config comes from the caller (the
 * CLI's --config file) and from the tensor shapes: embed_dim, depth, patch_size, in_chans,
 * mlp_ratio, num_classes and img_size follow from them; num_heads and the input normalisation do
 * not, so they must be given.
 */
import { UserError, describe } from '../config/errors.js';
import { configProblem, paramShapes, type ViTConfig, type ViTParams } from './config.js';
import { readSafetensors, writeSafetensors, type StoredTensor } from './safetensors.js';

/** Header metadata key of the model config (a JSON string with snake_case keys). */
export const CONFIG_KEY = 'vitsim.config';
/** Header metadata key of the dataset a checkpoint was trained on, e.g. `fashion-mnist`. */
export const DATASET_KEY = 'vitsim.dataset';

export interface Checkpoint {
  config: ViTConfig;
  /** Every parameter of paramShapes(config), in that order. */
  params: ViTParams;
  /** The file's header metadata, e.g. DATASET_KEY. */
  metadata: Record<string, string>;
}

export interface LoadOptions {
  /** Config fields from the caller; they override the file's `vitsim.config` and what the shapes imply. */
  config?: Partial<ViTConfig>;
}

export interface SaveOptions {
  /** The dataset the model was trained on, recorded so `vitsim eval` can default to it. */
  dataset?: string;
}

/** Writes `params` (names and shapes checked against `config`) and the config, atomically. */
export function saveCheckpoint(file: string, config: ViTConfig, params: ViTParams, options: SaveOptions = {}): void {
  const problem = configProblem(config);
  if (problem) throw new Error(`saveCheckpoint: invalid config: ${problem}`);
  // Saving tensors the config does not describe would write a file that no one can load: a bug.
  const mismatch = paramsProblem(config, params);
  if (mismatch) throw new Error(`saveCheckpoint: ${mismatch}`);
  const metadata: Record<string, string> = { [CONFIG_KEY]: JSON.stringify(toFileConfig(config)) };
  if (options.dataset !== undefined) metadata[DATASET_KEY] = options.dataset;
  writeSafetensors(file, params, metadata);
}

/** Reads a checkpoint, working out its config, and checks every tensor's name and shape against it. */
export function loadCheckpoint(file: string, options: LoadOptions = {}): Checkpoint {
  const { tensors, metadata } = readSafetensors(file);
  refuseUnsupportedTensors(file, tensors);
  const stored = metadata[CONFIG_KEY] === undefined ? {} : parseConfigJson(metadata[CONFIG_KEY], `${file}: ${CONFIG_KEY}`);
  const config = completeConfig(file, { ...inferConfig(tensors), ...stored, ...definedFields(options.config ?? {}) });

  const params: ViTParams = new Map();
  for (const [name, shape] of paramShapes(config)) {
    const tensor = tensors.get(name);
    if (!tensor) throw new UserError(`${file}: tensor ${describe(name)} is missing (the config needs it with shape [${shape.join(', ')}])`);
    if (!sameShape(tensor.shape, shape)) {
      throw new UserError(`${file}: tensor ${describe(name)} has shape [${tensor.shape.join(', ')}], the config needs [${shape.join(', ')}]`);
    }
    params.set(name, { shape: tensor.shape, data: tensor.data });
  }
  const unexpected = [...tensors.keys()].filter((name) => !params.has(name));
  if (unexpected.length > 0) throw new UserError(`${file}: ${listTensors(unexpected)}: not part of the ViT its config describes`);
  return { config, params, metadata };
}

/**
 * The config as the file stores it: the snake_case keys of timm's VisionTransformer arguments, so
 * a person can write the same JSON for --config.
 */
export interface FileConfig {
  img_size: number;
  patch_size: number;
  in_chans: number;
  embed_dim: number;
  depth: number;
  num_heads: number;
  mlp_ratio: number;
  num_classes: number;
  mean: number[];
  std: number[];
}

const KEYS: [keyof FileConfig, keyof ViTConfig][] = [
  ['img_size', 'imgSize'],
  ['patch_size', 'patchSize'],
  ['in_chans', 'inChans'],
  ['embed_dim', 'embedDim'],
  ['depth', 'depth'],
  ['num_heads', 'numHeads'],
  ['mlp_ratio', 'mlpRatio'],
  ['num_classes', 'numClasses'],
  ['mean', 'mean'],
  ['std', 'std'],
];

export function toFileConfig(config: ViTConfig): FileConfig {
  const out: Record<string, unknown> = {};
  for (const [snake, camel] of KEYS) out[snake] = config[camel];
  return out as unknown as FileConfig;
}

/**
 * Parses config JSON with the file's snake_case keys into the fields it gives. `source` prefixes
 * every complaint (`model.safetensors: vitsim.config` or `deit.json`). Values are checked later,
 * when the whole config is known.
 */
export function parseConfigJson(text: string, source: string): Partial<ViTConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${source}: is not valid JSON (${(err as Error).message.replace(/\s+/g, ' ')})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new UserError(`${source}: must be a JSON object, got ${describe(raw)}`);
  const known = new Map<string, keyof ViTConfig>(KEYS);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const camel = known.get(key);
    // An unknown key is most likely a typo, and silently ignoring it would run a different model.
    if (!camel) throw new UserError(`${source}: unknown key ${describe(key)} (known: ${KEYS.map(([k]) => k).join(', ')})`);
    out[camel] = value;
  }
  return out as Partial<ViTConfig>;
}

/** Why `params` does not fit `config` (missing, unexpected or misshapen tensor), or undefined. */
export function paramsProblem(config: ViTConfig, params: ViTParams): string | undefined {
  const shapes = paramShapes(config);
  for (const [name, shape] of shapes) {
    const tensor = params.get(name);
    if (!tensor) return `tensor ${name} is missing`;
    if (!sameShape(tensor.shape, shape)) return `tensor ${name} has shape [${tensor.shape.join(', ')}], the config needs [${shape.join(', ')}]`;
    if (tensor.data.length !== shape.reduce((a, b) => a * b, 1)) return `tensor ${name} has ${tensor.data.length} values for shape [${shape.join(', ')}]`;
  }
  for (const name of params.keys()) if (!shapes.has(name)) return `tensor ${name} is not part of the config's ViT`;
  return undefined;
}

/** What the shapes of timm's tensors say about the model; absent tensors just leave fields open. */
function inferConfig(tensors: Map<string, StoredTensor>): Partial<ViTConfig> {
  const out: Partial<ViTConfig> = {};
  const patch = tensors.get('patch_embed.proj.weight')?.shape;
  if (patch && patch.length === 4) {
    [out.embedDim, out.inChans, out.patchSize] = patch;
  }
  const head = tensors.get('head.weight')?.shape;
  if (head && head.length === 2) out.numClasses = head[0];
  const fc1 = tensors.get('blocks.0.mlp.fc1.weight')?.shape;
  if (fc1 && fc1.length === 2 && fc1[1] > 0) out.mlpRatio = fc1[0] / fc1[1];
  let depth = 0;
  while (tensors.has(`blocks.${depth}.norm1.weight`)) depth++;
  if (depth > 0) out.depth = depth;
  const pos = tensors.get('pos_embed')?.shape;
  if (pos && pos.length === 3 && out.patchSize !== undefined) {
    // pos_embed holds one row per patch plus one for the class token, and the patches form a square.
    // Any other count leaves img_size open: the shape check then names pos_embed.
    const side = Math.round(Math.sqrt(pos[1] - 1));
    if (side > 0 && side * side === pos[1] - 1) out.imgSize = side * out.patchSize;
  }
  return out;
}

function completeConfig(file: string, fields: Partial<ViTConfig>): ViTConfig {
  const missing = KEYS.filter(([, camel]) => fields[camel] === undefined).map(([snake]) => snake);
  if (missing.length > 0) {
    throw new UserError(
      `${file}: the model config lacks ${missing.join(', ')} (not in the file's ${CONFIG_KEY}, not inferable from tensor shapes); ` +
        `give them in a JSON config file (vitsim: --config), e.g. {"num_heads": 3, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}`,
    );
  }
  const config = Object.fromEntries(KEYS.map(([, camel]) => [camel, fields[camel]])) as unknown as ViTConfig;
  const problem = configProblem(config);
  if (problem) throw new UserError(`${file}: config: ${problem}`);
  return config;
}

/**
 * Tensors that timm adds for model variants vitsim does not run. Each changes what the forward
 * computes, so loading the rest and dropping them would silently give a different model.
 */
const UNSUPPORTED: [RegExp, string][] = [
  [/^fc_norm\./, "global average pooling with fc_norm (timm's global_pool='avg')"],
  [/^(dist_token|head_dist\.)/, 'the distillation token and head of distilled DeiT'],
  [/^pre_logits\./, 'a pre-logits layer (representation_size)'],
  [/^reg_token$/, 'register tokens'],
  [/^norm_pre\./, 'a LayerNorm before the blocks (pre_norm, as in CLIP)'],
  [/^blocks\.\d+\.ls[12]\./, 'LayerScale (DeiT III)'],
  [/^blocks\.\d+\.attn\.[qk]_norm\./, 'query/key normalisation'],
  [/^attn_pool\./, 'attention pooling (global_pool=\'map\')'],
];

function refuseUnsupportedTensors(file: string, tensors: Map<string, StoredTensor>): void {
  for (const [pattern, feature] of UNSUPPORTED) {
    const names = [...tensors.keys()].filter((name) => pattern.test(name));
    if (names.length > 0) throw new UserError(`${file}: ${listTensors(names)}: ${feature} is not part of vitsim's ViT`);
  }
}

function listTensors(names: string[]): string {
  const shown = names.slice(0, 3).join(', ');
  return names.length === 1 ? `tensor ${shown}` : `tensors ${shown}${names.length > 3 ? ` and ${names.length - 3} more` : ''}`;
}

function definedFields(config: Partial<ViTConfig>): Partial<ViTConfig> {
  return Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) as Partial<ViTConfig>;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i]);
}
