/**
 * What makes a QuantizedViT well-formed, in words: quantizedViTProblem names the first thing wrong.
 * Assembly turns an answer into a bug report (a method made a bad decision), the quantized-model file
 * reader into a one-line UserError (the file is malformed or hostile), so both hold the same rules.
 */
import { headDim, numPatches, numTokens, paramShapes } from '../model/config.js';
import { codeRange } from './quantizers.js';
import {
  ATTENTION_FORMS, attentionOf, isFloatParam, linearWeightShape, quantOpNames, RESIDUAL_BITS,
  type ActAddend, type ActQuant, type QuantizedViT, type QuantLinear, type QuantMatmul, type QuantOp, type UniformQuant, type WeightQuant,
} from './spec.js';

/** Lowest and highest bit-width any quantizer may have. */
export const MIN_BITS = 2;
export const MAX_BITS = 16;

/**
 * The first thing wrong with a QuantizedViT, in words (undefined if none): every op present in
 * forward order with the right kind and shapes, bits in 2…16, codes in range, scales positive and
 * finite, thresholds strictly increasing, 2·depth+1 signed 16-bit residual quantizers. A QKR block
 * (spec.ts) also needs qk.a to be the very quantizer of attn.v.input and attn.qkr.input (compared by
 * value) with a zero post-add, and qk.b (U) signed per-tensor uniform with zero point 0. The file
 * reader turns the answer into a UserError; assembly into a bug report.
 */
export function quantizedViTProblem(q: QuantizedViT): string | undefined {
  const { config } = q;
  const attention = attentionOf(q);
  if (!ATTENTION_FORMS.includes(attention)) return `attention must be ${ATTENTION_FORMS.map((f) => `"${f}"`).join(' or ')}, got ${String(attention)}`;
  const names = quantOpNames(config, attention);
  const got = [...q.ops.keys()];
  if (got.join(',') !== names.join(',')) {
    const missing = names.find((n) => !q.ops.has(n));
    return missing ? `op ${missing} is missing` : `ops must be ${names.length} in forward order (${names[0]} … ${names[names.length - 1]}), got ${got.length}: ${got.slice(0, 3).join(', ')}…`;
  }
  const t = numTokens(config);
  for (const [name, shape] of paramShapes(config)) {
    if (!isFloatParam(name)) continue;
    const p = q.floatParams.get(name);
    if (!p) return `float parameter ${name} is missing`;
    if (p.data.length !== shape.reduce((a, b) => a * b, 1)) return `float parameter ${name} must have shape [${shape.join(', ')}], got [${p.shape.join(', ')}]`;
  }
  const hd = headDim(config);
  for (const name of names) {
    const op = q.ops.get(name) as QuantOp;
    if (op.name !== name) return `op ${name} carries the name ${op.name}`;
    if (name.endsWith('.qk') || name.endsWith('.pv')) {
      if (op.kind !== 'matmul') return `op ${name} must be a matmul`;
      if (attention === 'qkr' && name.endsWith('.qk')) {
        const problem = qkrScoresProblem(q, name, op);
        if (problem) return problem;
        continue;
      }
      const aCols = name.endsWith('.qk') ? hd : t;
      const problem = actProblem(`${name}.a`, op.a, aCols, t, false) ?? actProblem(`${name}.b`, op.b, hd, t, false);
      if (problem) return problem;
      continue;
    }
    if (op.kind !== 'linear') return `op ${name} must be a linear layer`;
    const [outs, ins] = linearWeightShape(config, name);
    const tokens = name === 'patch_embed.proj' ? numPatches(config) : name === 'head' ? 1 : t;
    const problem = actProblem(`${name}.input`, op.input, ins, tokens, true) ?? weightProblem(`${name}.weight`, op.weight, outs, ins);
    if (problem) return problem;
    if (op.bias.length !== outs) return `${name}.bias must have ${outs} values, got ${op.bias.length}`;
    if (!op.bias.every(Number.isFinite)) return `${name}.bias must be finite`;
  }
  if (q.residual.length !== 2 * config.depth + 1) return `residual must hold 2·depth+1 = ${2 * config.depth + 1} quantizers, got ${q.residual.length}`;
  for (let i = 0; i < q.residual.length; i++) {
    const r = q.residual[i];
    if (r.kind !== 'uniform' || r.bits !== RESIDUAL_BITS || !r.signed || r.scale.length !== 1 || r.zeroPoint !== 0 || r.addend) {
      return `residual[${i}] must be a signed ${RESIDUAL_BITS}-bit per-tensor symmetric uniform quantizer`;
    }
    if (!(r.scale[0] > 0 && Number.isFinite(r.scale[0]))) return `residual[${i}].scale must be positive and finite, got ${r.scale[0]}`;
  }
  return undefined;
}

/**
 * A QKR block's scores op `blocks.N.attn.qk`: a = X̂ [T, C], the quantizer attn.v and attn.qkr read
 * (whose learned pre-bias may stay, but whose post-add would need a column-sum correction of
 * X̂·U_hᵀ), and b = U [T, H·C], signed per-tensor uniform with zero point 0 so every head's scores are
 * one integer product at one scale. The linears before it have already been checked.
 */
function qkrScoresProblem(q: QuantizedViT, name: string, op: QuantMatmul): string | undefined {
  const { config } = q;
  const t = numTokens(config);
  const c = config.embedDim;
  const block = name.slice(0, -'.qk'.length);
  const x = (q.ops.get(`${block}.v`) as QuantLinear).input;
  const problem = actProblem(`${name}.a`, op.a, c, t, true) ?? actProblem(`${name}.b`, op.b, config.numHeads * c, t, false);
  if (problem) return problem;
  if (!sameActQuant((q.ops.get(`${block}.qkr`) as QuantLinear).input, x)) {
    return `${block}.qkr.input must be the same quantizer as ${block}.v.input (QKR quantizes the LayerNorm output once for both)`;
  }
  if (!sameActQuant(op.a, x)) return `${name}.a must be the same quantizer as ${block}.v.input (QKR's scores multiply the X̂ that attn.v and attn.qkr read)`;
  // X̂'s codes enter the scores as they are: a zero point would need a run-time correction, and OFQ's
  // uniform quantizer is the one kind modelled there.
  if (x.kind !== 'uniform' || x.zeroPoint !== 0) {
    return `${block}.v.input (QKR's X̂) must be a uniform quantizer with zero point 0, got ${describeAct(x)}`;
  }
  const addend = op.a.kind === 'twin-softmax' ? undefined : op.a.addend;
  const nonzero = addend ? addend.postAdd.findIndex((v) => v !== 0) : -1;
  if (addend && nonzero >= 0) {
    return `${name}.a.addend.postAdd must be all zero in a QKR block (it would need a column-sum correction of X̂·U_hᵀ), got ${addend.postAdd[nonzero]} at channel ${nonzero}`;
  }
  const u = op.b;
  if (u.kind !== 'uniform' || !u.signed || u.scale.length !== 1 || u.zeroPoint !== 0) {
    return `${name}.b (U) must be a signed per-tensor uniform quantizer with zero point 0 in a QKR block, got ${describeAct(u)}`;
  }
  return undefined;
}

/** Equal kind, bits, scalars, vectors (by value) and addend. */
function sameActQuant(a: ActQuant, b: ActQuant): boolean {
  if (a.kind !== b.kind || a.bits !== b.bits) return false;
  switch (a.kind) {
    case 'uniform': {
      const o = b as UniformQuant;
      return a.signed === o.signed && a.zeroPoint === o.zeroPoint && sameValues(a.scale, o.scale) && sameAddend(a.addend, o.addend);
    }
    case 'twin-softmax':
      return a.splitExponent === (b as typeof a).splitExponent;
    case 'twin-gelu': {
      const o = b as typeof a;
      return a.negScale === o.negScale && a.posShift === o.posShift && sameAddend(a.addend, o.addend);
    }
    case 'threshold': {
      const o = b as typeof a;
      return a.step === o.step && a.offset === o.offset && sameValues(a.thresholds, o.thresholds) && sameAddend(a.addend, o.addend);
    }
  }
}

function sameAddend(a: ActAddend | undefined, b: ActAddend | undefined): boolean {
  if (!a || !b) return a === b;
  const noise = (n: ActAddend['noise']): string => JSON.stringify(n ?? null);
  return a.kind === b.kind && sameValues(a.preAdd, b.preAdd) && sameValues(a.postAdd, b.postAdd) && noise(a.noise) === noise(b.noise);
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function describeAct(q: ActQuant): string {
  if (q.kind !== 'uniform') return `a ${q.kind} quantizer`;
  return `${q.signed ? 'signed' : 'unsigned'} uniform, ${q.scale.length} scale${q.scale.length === 1 ? '' : 's'}, zero point ${q.zeroPoint}`;
}

function bitsProblem(where: string, bits: number): string | undefined {
  if (!Number.isInteger(bits) || bits < MIN_BITS || bits > MAX_BITS) return `${where}.bits must be an integer in ${MIN_BITS}…${MAX_BITS}, got ${bits}`;
  return undefined;
}

function actProblem(where: string, q: ActQuant, channels: number, tokens: number, addendAllowed: boolean): string | undefined {
  const bits = bitsProblem(where, q.bits);
  if (bits) return bits;
  switch (q.kind) {
    case 'uniform': {
      if (q.scale.length !== 1 && q.scale.length !== tokens) return `${where}.scale must hold 1 or ${tokens} (per token) values, got ${q.scale.length}`;
      if (!q.scale.every((s) => s > 0 && Number.isFinite(s))) return `${where}.scale must be positive and finite`;
      const { lo, hi } = codeRange(q.bits, q.signed);
      if (!Number.isInteger(q.zeroPoint) || q.zeroPoint < lo || q.zeroPoint > hi) return `${where}.zeroPoint must be an integer in ${lo}…${hi}, got ${q.zeroPoint}`;
      break;
    }
    case 'twin-softmax':
      if (!Number.isInteger(q.splitExponent) || q.splitExponent < 0 || q.splitExponent > 19) return `${where}.splitExponent must be an integer in 0…19, got ${q.splitExponent}`;
      break;
    case 'twin-gelu':
      if (!(q.negScale > 0 && Number.isFinite(q.negScale))) return `${where}.negScale must be positive and finite, got ${q.negScale}`;
      if (!Number.isInteger(q.posShift) || q.posShift < 0 || q.posShift > 31) return `${where}.posShift must be an integer in 0…31, got ${q.posShift}`;
      break;
    case 'threshold': {
      const levels = 2 ** q.bits - 1;
      if (q.thresholds.length !== levels) return `${where}.thresholds must hold 2^bits − 1 = ${levels} values, got ${q.thresholds.length}`;
      for (let i = 0; i < levels; i++) {
        if (!Number.isFinite(q.thresholds[i])) return `${where}.thresholds[${i}] must be finite`;
        if (i > 0 && !(q.thresholds[i] > q.thresholds[i - 1])) return `${where}.thresholds must be strictly increasing, but [${i}] = ${q.thresholds[i]} ≤ [${i - 1}] = ${q.thresholds[i - 1]}`;
      }
      if (!(q.step > 0 && Number.isFinite(q.step))) return `${where}.step must be positive and finite, got ${q.step}`;
      if (!Number.isFinite(q.offset)) return `${where}.offset must be finite, got ${q.offset}`;
      break;
    }
    default:
      return `${where} has unknown kind ${(q as { kind: unknown }).kind}`;
  }
  const addend = q.kind === 'twin-softmax' ? undefined : q.addend;
  if (addend) {
    if (!addendAllowed) return `${where} cannot carry an addend (only linear-layer inputs can: the correction of a dynamic operand is not a constant bias)`;
    if (addend.preAdd.length !== channels || addend.postAdd.length !== channels) return `${where}.addend must hold ${channels} values per vector`;
    if (!addend.preAdd.every(Number.isFinite) || !addend.postAdd.every(Number.isFinite)) return `${where}.addend must be finite`;
  }
  return undefined;
}

function weightProblem(where: string, w: WeightQuant, outs: number, ins: number): string | undefined {
  const bits = bitsProblem(where, w.bits);
  if (bits) return bits;
  if (w.shape[0] !== outs || w.shape[1] !== ins) return `${where} must have shape [${outs}, ${ins}], got [${w.shape.join(', ')}]`;
  if (w.codes.length !== outs * ins) return `${where}.codes must hold ${outs * ins} values, got ${w.codes.length}`;
  if (w.scales.length !== 1 && w.scales.length !== outs) return `${where}.scales must hold 1 or ${outs} values, got ${w.scales.length}`;
  if (!w.scales.every((s) => s > 0 && Number.isFinite(s))) return `${where}.scales must be positive and finite`;
  const { lo, hi } = w.kind === 'odd-level' ? { lo: -(2 ** w.bits - 1), hi: 2 ** w.bits - 1 } : codeRange(w.bits, true);
  for (let i = 0; i < w.codes.length; i++) {
    const c = w.codes[i];
    if (c < lo || c > hi || (w.kind === 'odd-level' && (c & 1) === 0)) {
      return `${where}.codes[${i}] = ${c} is not ${w.kind === 'odd-level' ? 'an odd integer' : 'a code'} in ${lo}…${hi}`;
    }
  }
  if (w.zeroPoints) {
    if (w.zeroPoints.length !== 1 && w.zeroPoints.length !== outs) return `${where}.zeroPoints must hold 1 or ${outs} values, got ${w.zeroPoints.length}`;
    const r = codeRange(w.bits, true);
    if (!w.zeroPoints.every((z) => z >= r.lo && z <= r.hi)) return `${where}.zeroPoints must lie in ${r.lo}…${r.hi}`;
  }
  return undefined;
}
