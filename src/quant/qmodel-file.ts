/**
 * The quantized-model file (docs/quant-format.md): one .safetensors file holding a QuantizedViT —
 * integer weight codes in the narrowest integer dtype that fits, every scale, zero point, threshold,
 * addend vector, effective bias and float parameter as tensors, and the rest (config, method,
 * options, each quantizer's kind, bits and scalars) as JSON strings in `__metadata__`.
 * `__metadata__.attention` is "qkr" for a model with OFQ's query–key reparameterisation and absent
 * for standard attention, so files of standard models are the same as before QKR existed.
 *
 * Writing then reading gives back the same QuantizedViT bit for bit. The reader treats the file as
 * hostile: every malformed input is a one-line UserError naming the file and what was expected.
 */
import { UserError, describe } from '../config/errors.js';
import { parseConfigJson, toFileConfig } from '../model/checkpoint.js';
import { configProblem, paramShapes, type Tensor, type ViTConfig, type ViTParams } from '../model/config.js';
import {
  encodeTypedSafetensors, parseTypedSafetensors, readTypedSafetensors, writeTypedSafetensors,
  type TypedDtype, type TypedSafetensorsContents, type TypedTensor,
} from '../model/safetensors.js';
import { quantizedViTProblem } from './validate.js';
import {
  attentionOf, isFloatParam, linearWeightShape, quantOpNames, QUANT_METHODS,
  type ActAddend, type AttentionForm, type ActQuant, type QuantizedViT, type QuantMethod, type QuantOp, type UniformQuant, type WeightQuant,
} from './spec.js';

export const QMODEL_FORMAT = 'vitsim-qmodel';
export const QMODEL_VERSION = 1;

/** Metadata keys (all values are strings, as safetensors requires). */
const KEY = {
  format: 'format', version: 'version', config: 'config', attention: 'attention', method: 'method', options: 'options', quantizers: 'quantizers',
} as const;

/** The only value `__metadata__.attention` may have; absent means standard attention. */
const QKR_ATTENTION = 'qkr';

/** Writes q atomically to `file`. */
export function writeQuantizedModel(file: string, q: QuantizedViT): void {
  const { tensors, metadata } = encodeModel(q);
  writeTypedSafetensors(file, tensors, metadata);
}

/** The bytes writeQuantizedModel writes (for tests and in-memory use). */
export function encodeQuantizedModel(q: QuantizedViT): Uint8Array {
  const { tensors, metadata } = encodeModel(q);
  return encodeTypedSafetensors(tensors, metadata);
}

/** Reads and checks a quantized-model file. */
export function readQuantizedModel(file: string): QuantizedViT {
  return decodeModel(readTypedSafetensors(file), file);
}

/** Parses the bytes of a quantized-model file; `file` names it in errors. */
export function parseQuantizedModel(bytes: Uint8Array, file: string): QuantizedViT {
  return decodeModel(parseTypedSafetensors(bytes, file), file);
}

// ---------------------------------------------------------------------------------------------
// The JSON description of each quantizer (scalars only; vectors are tensors named after the operand).

/** `quantizers` metadata: per op in forward order, and the residual quantizers. */
interface QuantizersJson {
  ops: Record<string, LinearJson | MatmulJson>;
  residual: number;
}

interface LinearJson {
  kind: 'linear';
  input: ActJson;
  weight: { kind: 'uniform' | 'odd-level'; bits: number; zero_points: boolean };
}

interface MatmulJson {
  kind: 'matmul';
  a: ActJson;
  b: ActJson;
}

type AddendJson = { kind: 'noise' | 'learned-bias'; noise?: { seed: number; half_range: number; shift: number } };

type ActJson =
  | { kind: 'uniform'; bits: number; signed: boolean; zero_point: number; addend?: AddendJson }
  | { kind: 'twin-softmax'; bits: number; split_exponent: number }
  | { kind: 'twin-gelu'; bits: number; neg_scale: number; pos_shift: number; addend?: AddendJson }
  | { kind: 'threshold'; bits: number; step: number; offset: number; addend?: AddendJson };

function encodeModel(q: QuantizedViT): { tensors: Map<string, TypedTensor>; metadata: Record<string, string> } {
  const problem = quantizedViTProblem(q);
  if (problem) throw new Error(`writeQuantizedModel: ${problem}`);
  const tensors = new Map<string, TypedTensor>();
  const f32 = (name: string, data: Float32Array): void => void tensors.set(name, { dtype: 'F32', shape: [data.length], data });
  for (const [name, t] of q.floatParams) tensors.set(name, { dtype: 'F32', shape: [...t.shape], data: t.data });

  const act = (prefix: string, a: ActQuant): ActJson => {
    const addend = a.kind === 'twin-softmax' ? undefined : a.addend;
    let addendJson: AddendJson | undefined;
    if (addend) {
      f32(`${prefix}.pre_add`, addend.preAdd);
      f32(`${prefix}.post_add`, addend.postAdd);
      addendJson = { kind: addend.kind };
      if (addend.noise) addendJson.noise = { seed: addend.noise.seed, half_range: addend.noise.halfRange, shift: addend.noise.shift };
    }
    const withAddend = <T extends object>(o: T): T => (addendJson ? { ...o, addend: addendJson } : o);
    switch (a.kind) {
      case 'uniform':
        f32(`${prefix}.scale`, a.scale);
        return withAddend({ kind: 'uniform', bits: a.bits, signed: a.signed, zero_point: a.zeroPoint });
      case 'twin-softmax':
        return { kind: 'twin-softmax', bits: a.bits, split_exponent: a.splitExponent };
      case 'twin-gelu':
        return withAddend({ kind: 'twin-gelu', bits: a.bits, neg_scale: a.negScale, pos_shift: a.posShift });
      case 'threshold':
        tensors.set(`${prefix}.thresholds`, { dtype: 'F64', shape: [a.thresholds.length], data: a.thresholds });
        return withAddend({ kind: 'threshold', bits: a.bits, step: a.step, offset: a.offset });
    }
  };

  const ops: Record<string, LinearJson | MatmulJson> = {};
  for (const [name, op] of q.ops) {
    if (op.kind === 'linear') {
      const w = op.weight;
      const dtype = codeDtype(w);
      tensors.set(`${name}.weight.codes`, { dtype, shape: [...w.shape], data: toCodeArray(w.codes, dtype) });
      f32(`${name}.weight.scales`, w.scales);
      if (w.zeroPoints) tensors.set(`${name}.weight.zero_points`, { dtype: 'I32', shape: [w.zeroPoints.length], data: w.zeroPoints });
      f32(`${name}.bias`, op.bias);
      ops[name] = { kind: 'linear', input: act(`${name}.input`, op.input), weight: { kind: w.kind, bits: w.bits, zero_points: w.zeroPoints !== undefined } };
    } else {
      ops[name] = { kind: 'matmul', a: act(`${name}.a`, op.a), b: act(`${name}.b`, op.b) };
    }
  }
  q.residual.forEach((r, i) => f32(`residual.${i}.scale`, r.scale));
  const quantizers: QuantizersJson = { ops, residual: q.residual.length };
  const metadata: Record<string, string> = {
    [KEY.format]: QMODEL_FORMAT,
    [KEY.version]: String(QMODEL_VERSION),
    [KEY.config]: JSON.stringify(toFileConfig(q.config)),
    ...(attentionOf(q) === 'qkr' ? { [KEY.attention]: QKR_ATTENTION } : {}),
    [KEY.method]: q.method,
    [KEY.options]: JSON.stringify(q.options),
    [KEY.quantizers]: JSON.stringify(quantizers),
  };
  return { tensors, metadata };
}

/** I8 up to 8-bit uniform codes (7-bit odd-level), I16 up to 16 (15), else I32. */
function codeDtype(w: WeightQuant): TypedDtype {
  const magnitudeBits = w.kind === 'odd-level' ? w.bits + 1 : w.bits;
  return magnitudeBits <= 8 ? 'I8' : magnitudeBits <= 16 ? 'I16' : 'I32';
}

function toCodeArray(codes: Int32Array, dtype: TypedDtype): Int8Array | Int16Array | Int32Array {
  if (dtype === 'I8') return Int8Array.from(codes);
  if (dtype === 'I16') return Int16Array.from(codes);
  return codes;
}

// ---------------------------------------------------------------------------------------------

function decodeModel({ tensors, metadata }: TypedSafetensorsContents, file: string): QuantizedViT {
  const fail = (problem: string): never => {
    throw new UserError(`${file}: ${problem}`);
  };
  if (metadata[KEY.format] !== QMODEL_FORMAT) {
    fail(`__metadata__.${KEY.format} must be ${describe(QMODEL_FORMAT)}, got ${describe(metadata[KEY.format])} (not a vitsim quantized-model file)`);
  }
  if (metadata[KEY.version] !== String(QMODEL_VERSION)) {
    fail(`__metadata__.${KEY.version} must be "${QMODEL_VERSION}" (the version this vitsim reads), got ${describe(metadata[KEY.version])}`);
  }
  const json = (key: string): unknown => {
    const text = metadata[key];
    if (text === undefined) return fail(`__metadata__.${key} is missing`);
    try {
      return JSON.parse(text);
    } catch {
      return fail(`__metadata__.${key} is not valid JSON`);
    }
  };
  const configText = metadata[KEY.config];
  if (configText === undefined) fail(`__metadata__.${KEY.config} is missing`);
  const config = parseConfigJson(configText, `${file}: __metadata__.${KEY.config}`) as ViTConfig;
  const configIssue = configProblem(config);
  if (configIssue) fail(`__metadata__.${KEY.config}: ${configIssue}`);
  const attentionText = metadata[KEY.attention];
  if (attentionText !== undefined && attentionText !== QKR_ATTENTION) {
    fail(`__metadata__.${KEY.attention} must be "${QKR_ATTENTION}" when present (absent means standard attention), got ${describe(attentionText)}`);
  }
  const attention: AttentionForm = attentionText === QKR_ATTENTION ? 'qkr' : 'standard';
  const method = metadata[KEY.method];
  if (!(QUANT_METHODS as readonly string[]).includes(method)) fail(`__metadata__.${KEY.method} must be one of ${QUANT_METHODS.join(', ')}, got ${describe(method)}`);
  const options = json(KEY.options);
  if (options === null || typeof options !== 'object' || Array.isArray(options)) fail(`__metadata__.${KEY.options} must be a JSON object, got ${describe(options)}`);
  const quantizers = json(KEY.quantizers);
  const qj = obj(quantizers, `__metadata__.${KEY.quantizers}`, fail);
  const opsJson = obj(qj.ops, `__metadata__.${KEY.quantizers}.ops`, fail);

  const used = new Set<string>();
  const take = (name: string, dtypes: readonly string[], shape?: number[]): TypedTensor => {
    const t = tensors.get(name);
    if (!t) return fail(`tensor ${describe(name)} is missing`);
    if (!dtypes.includes(t.dtype)) fail(`tensor ${describe(name)} must have dtype ${dtypes.join(' or ')}, got ${t.dtype}`);
    if (shape && t.shape.join(',') !== shape.join(',')) fail(`tensor ${describe(name)} must have shape [${shape.join(', ')}], got [${t.shape.join(', ')}]`);
    used.add(name);
    return t;
  };
  const vector = (name: string): Float32Array => {
    const t = take(name, ['F32']);
    if (t.shape.length !== 1) fail(`tensor ${describe(name)} must be a vector, got shape [${t.shape.join(', ')}]`);
    return t.data as Float32Array;
  };

  const floatParams: ViTParams = new Map();
  for (const [name, shape] of paramShapes(config)) {
    if (!isFloatParam(name)) continue;
    const t = take(name, ['F32'], shape);
    floatParams.set(name, { shape: [...t.shape], data: t.data as Float32Array } satisfies Tensor);
  }

  const act = (prefix: string, raw: unknown): ActQuant => {
    const a = obj(raw, `__metadata__.${KEY.quantizers}: ${prefix}`, fail);
    const where = `__metadata__.${KEY.quantizers}: ${prefix}`;
    const bits = int(a.bits, `${where}.bits`, fail);
    const addend = (): ActAddend | undefined => {
      if (a.addend === undefined) return undefined;
      const ad = obj(a.addend, `${where}.addend`, fail);
      if (ad.kind !== 'noise' && ad.kind !== 'learned-bias') fail(`${where}.addend.kind must be "noise" or "learned-bias", got ${describe(ad.kind)}`);
      const out: ActAddend = { kind: ad.kind as ActAddend['kind'], preAdd: vector(`${prefix}.pre_add`), postAdd: vector(`${prefix}.post_add`) };
      if (ad.noise !== undefined) {
        const n = obj(ad.noise, `${where}.addend.noise`, fail);
        out.noise = { seed: num(n.seed, `${where}.addend.noise.seed`, fail), halfRange: num(n.half_range, `${where}.addend.noise.half_range`, fail), shift: num(n.shift, `${where}.addend.noise.shift`, fail) };
      }
      return out;
    };
    const withAddend = <T extends ActQuant>(q: T): T => {
      const ad = addend();
      return ad ? { ...q, addend: ad } : q;
    };
    switch (a.kind) {
      case 'uniform': {
        if (typeof a.signed !== 'boolean') fail(`${where}.signed must be true or false, got ${describe(a.signed)}`);
        const q: UniformQuant = { kind: 'uniform', bits, signed: a.signed as boolean, scale: vector(`${prefix}.scale`), zeroPoint: int(a.zero_point, `${where}.zero_point`, fail) };
        return withAddend(q);
      }
      case 'twin-softmax':
        return { kind: 'twin-softmax', bits, splitExponent: int(a.split_exponent, `${where}.split_exponent`, fail) };
      case 'twin-gelu':
        return withAddend({ kind: 'twin-gelu', bits, negScale: num(a.neg_scale, `${where}.neg_scale`, fail), posShift: int(a.pos_shift, `${where}.pos_shift`, fail) });
      case 'threshold': {
        const t = take(`${prefix}.thresholds`, ['F64']);
        return withAddend({ kind: 'threshold', bits, thresholds: t.data as Float64Array, step: num(a.step, `${where}.step`, fail), offset: num(a.offset, `${where}.offset`, fail) });
      }
      default:
        return fail(`${where}.kind must be uniform, twin-softmax, twin-gelu or threshold, got ${describe(a.kind)}`);
    }
  };

  const ops = new Map<string, QuantOp>();
  const names = quantOpNames(config, attention);
  const listed = Object.keys(opsJson);
  const unknown = listed.find((n) => !names.includes(n));
  if (unknown !== undefined) {
    fail(`__metadata__.${KEY.quantizers}.ops names ${describe(unknown)}, which the config's ViT with ${attention} attention does not have`);
  }
  for (const name of names) {
    if (opsJson[name] === undefined) fail(`__metadata__.${KEY.quantizers}.ops has no entry for op ${name}`);
    const o = obj(opsJson[name], `__metadata__.${KEY.quantizers}.ops.${name}`, fail);
    const isMatmul = name.endsWith('.qk') || name.endsWith('.pv');
    if (o.kind !== (isMatmul ? 'matmul' : 'linear')) fail(`__metadata__.${KEY.quantizers}.ops.${name}.kind must be ${isMatmul ? 'matmul' : 'linear'}, got ${describe(o.kind)}`);
    if (isMatmul) {
      ops.set(name, { kind: 'matmul', name, a: act(`${name}.a`, o.a), b: act(`${name}.b`, o.b) });
      continue;
    }
    const wj = obj(o.weight, `__metadata__.${KEY.quantizers}.ops.${name}.weight`, fail);
    if (wj.kind !== 'uniform' && wj.kind !== 'odd-level') fail(`__metadata__.${KEY.quantizers}.ops.${name}.weight.kind must be uniform or odd-level, got ${describe(wj.kind)}`);
    const [outs, ins] = linearWeightShape(config, name);
    const codes = take(`${name}.weight.codes`, ['I8', 'I16', 'I32', 'U8'], [outs, ins]);
    const weight: WeightQuant = {
      kind: wj.kind as WeightQuant['kind'],
      bits: int(wj.bits, `__metadata__.${KEY.quantizers}.ops.${name}.weight.bits`, fail),
      codes: Int32Array.from(codes.data as Int8Array | Int16Array | Int32Array | Uint8Array),
      shape: [outs, ins],
      scales: vector(`${name}.weight.scales`),
    };
    if (wj.zero_points === true) weight.zeroPoints = Int32Array.from(take(`${name}.weight.zero_points`, ['I32']).data as Int32Array);
    ops.set(name, { kind: 'linear', name, input: act(`${name}.input`, o.input), weight, bias: vector(`${name}.bias`) });
  }
  const residualCount = int(qj.residual, `__metadata__.${KEY.quantizers}.residual`, fail);
  if (residualCount !== 2 * config.depth + 1) fail(`__metadata__.${KEY.quantizers}.residual must be 2·depth+1 = ${2 * config.depth + 1}, got ${residualCount}`);
  const residual: UniformQuant[] = [];
  for (let i = 0; i < residualCount; i++) residual.push({ kind: 'uniform', bits: 16, signed: true, scale: vector(`residual.${i}.scale`), zeroPoint: 0 });

  const extra = [...tensors.keys()].filter((n) => !used.has(n));
  if (extra.length > 0) fail(`tensor ${describe(extra[0])} belongs to no quantizer or parameter${extra.length > 1 ? ` (and ${extra.length - 1} more)` : ''}`);
  const q: QuantizedViT = { config, ...(attention === 'qkr' ? { attention } : {}), method: method as QuantMethod, options: options as Record<string, unknown>, floatParams, ops, residual };
  const problem = quantizedViTProblem(q);
  if (problem) fail(problem);
  return q;
}

function obj(raw: unknown, where: string, fail: (p: string) => never): Record<string, unknown> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return fail(`${where} must be a JSON object, got ${describe(raw)}`);
  return raw as Record<string, unknown>;
}

function num(raw: unknown, where: string, fail: (p: string) => never): number {
  if (typeof raw !== 'number' || !Number.isFinite(raw)) return fail(`${where} must be a finite number, got ${describe(raw)}`);
  return raw;
}

function int(raw: unknown, where: string, fail: (p: string) => never): number {
  if (typeof raw !== 'number' || !Number.isSafeInteger(raw)) return fail(`${where} must be an integer, got ${describe(raw)}`);
  return raw;
}
