/**
 * Workload descriptions (workloads/*.json): the architecture of one vision transformer, enough to
 * list the ops of an inference without any weights. A bare name such as `deit-s` means the shipped
 * description; anything that looks like a path is read as a file.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { UserError } from '../config/errors.js';
import { presetNames, resolvePreset } from '../config/presets.js';
import { readJsonFile, validateWithSchema } from '../config/schema.js';
// The quantized-model contract owns the attention forms; a workload names the same two, so a model
// quantized with QKR and a description written by hand trace to the same ops.
import { ATTENTION_FORMS, type AttentionForm } from '../quant/spec.js';

export type { AttentionForm };

/** The shipped descriptions and both published schemas (workload, trace) live in workloads/. */
export const WORKLOADS_DIR = fileURLToPath(new URL('../../workloads/', import.meta.url));
const SCHEMA_FILE = join(WORKLOADS_DIR, 'workload.schema.json');

/** Figures a paper reports for the model, kept next to it so reports and tests can compare. */
export interface Published {
  /** Multiply-accumulates per image (papers print them as "FLOPs", counting one multiply-add as one). */
  macs?: number;
  params?: number;
  top1?: number;
  /** The resolution the figures are for, when not the description's own. */
  imgSize?: number;
  source: string;
}

interface WorkloadCommon {
  name: string;
  description: string;
  source: string;
  /** A checkpoint with this architecture, relative to the package root. */
  checkpoint?: string;
  imgSize: number;
  patchSize: number;
  inChans: number;
  embedDim: number;
  mlpRatio: number;
  numClasses: number;
  batch: number;
  published?: Published;
}

/** A plain ViT (DeiT, ViT, the in-repo tiny ViTs): field names follow model/config.ts's ViTConfig. */
export interface VitWorkload extends WorkloadCommon {
  family: 'vit';
  depth: number;
  numHeads: number;
  classToken: boolean;
  /**
   * How the blocks form their attention scores (default 'standard', Q·Kᵀ): 'qkr' is OFQ's query–key
   * reparameterisation (../shared/QUANT-METHODS.md §6a, §6d), which keeps no q or k projection and
   * instead multiplies the LayerNorm output by a per-head C×C weight W_qk,h, also at inference.
   */
  attention?: AttentionForm;
}

/** A Swin transformer: `embedDim` is stage 0's width, doubled by each patch merging. */
export interface SwinWorkload extends WorkloadCommon {
  family: 'swin';
  depths: number[];
  numHeads: number[];
  windowSize: number;
}

export type Workload = VitWorkload | SwinWorkload;

/** Names of the descriptions shipped in workloads/. */
export function workloadNames(): string[] {
  return presetNames(WORKLOADS_DIR);
}

/** Loads a description from a file path or a shipped name (`deit-s`, `swin-t`, …). */
export function loadWorkload(fileOrName: string): Workload {
  const file = resolveWorkloadPath(fileOrName);
  return parseWorkload(readJsonFile(file), file);
}

/** The description as written: family-specific fields optional, defaults not yet filled. */
interface WorkloadFile extends Omit<WorkloadCommon, 'description' | 'batch'> {
  $schema?: string;
  family: 'vit' | 'swin';
  description?: string;
  batch?: number;
  depth?: number;
  depths?: number[];
  numHeads: number | number[];
  windowSize?: number;
  classToken?: boolean;
  attention?: AttentionForm;
}

/** Validates a parsed description and fills the defaults; `file` is used only in error messages. */
export function parseWorkload(data: unknown, file: string): Workload {
  // `$schema` only points editors at the schema. The schema's if/then has already tied depth and a
  // single head count to vit, and depths, windowSize and a head list per stage to swin.
  const { $schema: _schema, family, description, batch, depth, depths, numHeads, windowSize, classToken, attention, ...common } = validateWithSchema<WorkloadFile>(data, workloadSchema(), file);
  if (family === 'swin' && attention === 'qkr') throw new UserError(`${file}: attention "qkr" is defined for plain ViT blocks (family "vit"), got family "swin"`);
  const shared = { ...common, description: description ?? '', batch: batch ?? 1 };
  const workload: Workload =
    family === 'swin'
      ? { ...shared, family, depths: [...(depths as number[])], numHeads: [...(numHeads as number[])], windowSize: windowSize as number }
      : { ...shared, family, depth: depth as number, numHeads: numHeads as number, classToken: classToken ?? true, attention: attention ?? 'standard' };
  const problem = workloadProblem(workload);
  if (problem) throw new UserError(`${file}: ${problem}`);
  return workload;
}

/**
 * The workload with its blocks' attention in the given form (vitsim trace/simulate --attention).
 * QKR is defined for plain ViT blocks; `where` names the flag in the refusal (`--attention`).
 */
export function withAttention(w: Workload, form: string, where: string): Workload {
  const attention = parseAttentionForm(form, where);
  if (w.family === 'vit') return { ...w, attention };
  if (attention === 'standard') return w;
  throw new UserError(`${where} ${attention} is defined for plain ViT blocks (family "vit"), but ${w.name} is family "swin"`);
}

/** A user's attention form (`--attention`), checked: the one-line refusal names `where`. */
export function parseAttentionForm(value: string, where: string): AttentionForm {
  if ((ATTENTION_FORMS as readonly string[]).includes(value)) return value as AttentionForm;
  throw new UserError(`${where} must be one of ${ATTENTION_FORMS.map((f) => JSON.stringify(f)).join(', ')}, got ${JSON.stringify(value)}`);
}

/** The attention form of a workload's blocks (Swin's are always standard). */
export function workloadAttention(w: Workload): AttentionForm {
  return w.family === 'vit' ? w.attention ?? 'standard' : 'standard';
}

/**
 * Why the shapes do not fit together (the schema checks each number alone), or undefined.
 * The message starts with the field it is about.
 */
export function workloadProblem(w: Workload): string | undefined {
  if (w.imgSize % w.patchSize !== 0) return `imgSize ${w.imgSize} must be a multiple of patchSize ${w.patchSize}`;
  if (!Number.isInteger(w.embedDim * w.mlpRatio)) return `mlpRatio ${w.mlpRatio} must make embedDim × mlpRatio a whole number of MLP channels`;
  if (w.family === 'vit') {
    if (w.embedDim % w.numHeads !== 0) return `embedDim ${w.embedDim} must be a multiple of numHeads ${w.numHeads}`;
    return undefined;
  }
  if (w.numHeads.length !== w.depths.length) return `numHeads must give one head count per stage (${w.depths.length}), got ${w.numHeads.length}`;
  let side = w.imgSize / w.patchSize;
  for (let s = 0; s < w.depths.length; s++) {
    const dim = w.embedDim * 2 ** s;
    if (dim % w.numHeads[s] !== 0) return `numHeads[${s}] must divide stage ${s}'s width ${dim}, got ${w.numHeads[s]}`;
    const window = Math.min(w.windowSize, side);
    if (side % window !== 0) return `windowSize ${w.windowSize} must divide stage ${s}'s resolution ${side}×${side}`;
    if (s < w.depths.length - 1) {
      // Patch merging concatenates 2×2 neighbours, so every stage but the last needs an even side.
      if (side % 2 !== 0) return `imgSize / patchSize must halve evenly for every patch merging; stage ${s} is ${side}×${side}`;
      side /= 2;
    }
  }
  return undefined;
}

let schemaCache: object | undefined;
function workloadSchema(): object {
  schemaCache ??= readJsonFile(SCHEMA_FILE) as object;
  return schemaCache;
}

function resolveWorkloadPath(fileOrName: string): string {
  const file = resolvePreset(WORKLOADS_DIR, fileOrName);
  if (file !== undefined) return file;
  throw new UserError(`model "${fileOrName}" is neither a workload file nor a shipped description (shipped: ${workloadNames().join(', ')})`);
}
