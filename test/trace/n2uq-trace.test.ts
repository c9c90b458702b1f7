/**
 * Issue #7's check: the trace of an N2UQ model asks the simulator for threshold units with the right
 * level counts. Every block GEMM operand of the shipped N2UQ models is threshold-quantized, so the
 * trace must mark it { kind: 'threshold', levels: 2^b } (the model's thresholds + 1), and the
 * simulator's threshold unit (src/hw/threshold-unit.ts) — one element per lane per cycle, the
 * comparators the op's levels do not use gated — must charge levels − 1 comparator evaluations per
 * quantized element: Σ (levels − 1) × elements, with the elements counted here from the model's
 * shape, not from the simulator. A uniform W8A8 model of the same shapes charges none.
 */
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/config/errors.js';
import type { Accelerator } from '../../src/hw/arch.js';
import { loadArch } from '../../src/hw/arch-file.js';
import { simulateTrace } from '../../src/hw/simulate.js';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { loadCalibrationSet } from '../../src/quant/calibration.js';
import { quantizeUniform } from '../../src/quant/methods/uniform.js';
import { readQuantizedModel } from '../../src/quant/qmodel-file.js';
import type { ActQuant, QuantizedViT, QuantLinear, QuantMatmul } from '../../src/quant/spec.js';
import { traceFromQuantized } from '../../src/trace/from-quantized.js';
import type { GemmOp } from '../../src/trace/ops.js';
import type { Trace } from '../../src/trace/trace.js';

const MODEL_DIR = new URL('../../workloads/models/', import.meta.url).pathname;

/** edge-16x16 has no threshold unit; the same design with one (16 lanes, up to 4-bit levels). */
function edgeWithThresholdUnit(): Accelerator {
  const arch = loadArch('edge-16x16');
  return { ...arch, threshold: { lanes: 16, maxBits: 4, comparatorBits: 16 } };
}

/** Elements each block operand quantizes in one image, from the model's shape alone. */
function operandElements(q: QuantizedViT): Map<string, number> {
  const { imgSize, patchSize, embedDim: d, numHeads: h, mlpRatio } = q.config;
  const t = (imgSize / patchSize) ** 2 + 1;
  const hd = d / h;
  const out = new Map<string, number>();
  for (let i = 0; i < q.config.depth; i++) {
    const b = `blocks.${i}.`;
    out.set(b + 'attn.qkv.a', t * d); // LN1 output
    out.set(b + 'attn.qk.a', h * t * hd); // Q
    out.set(b + 'attn.qk.b', h * hd * t); // K
    out.set(b + 'attn.pv.a', h * t * t); // P
    out.set(b + 'attn.pv.b', h * t * hd); // V
    out.set(b + 'attn.proj.a', t * d); // attention output
    out.set(b + 'mlp.fc1.a', t * d); // LN2 output
    out.set(b + 'mlp.fc2.a', t * d * mlpRatio); // GELU output
  }
  return out;
}

/** The spec quantizer of an operand ('<op>.a' / '<op>.b'). */
function quantizerOf(q: QuantizedViT, key: string): ActQuant {
  const op = q.ops.get(key.slice(0, -2));
  if (!op) throw new Error(`no op ${key}`);
  if (op.kind === 'linear') return (op as QuantLinear).input;
  return key.endsWith('.a') ? (op as QuantMatmul).a : (op as QuantMatmul).b;
}

function comparisons(counts: { count: number }[]): number {
  return counts.reduce((s, c) => s + c.count, 0);
}

function gemms(trace: Trace): GemmOp[] {
  return trace.ops.filter((o): o is GemmOp => o.kind === 'gemm');
}

describe('trace of an N2UQ model', () => {
  for (const bits of [2, 3]) {
    it(`W${bits}A${bits}: threshold operands with 2^${bits} levels, (levels − 1) comparator evaluations per element`, () => {
      const q = readQuantizedModel(`${MODEL_DIR}qat/n2uq-w${bits}a${bits}.safetensors`);
      const trace = traceFromQuantized(q, { name: `n2uq-w${bits}a${bits}`, source: 'test' });
      const elements = operandElements(q);
      const ops = new Map(gemms(trace).map((o) => [o.name, o]));
      let expectedTotal = 0;
      const expectedPerOp = new Map<string, number>();
      for (const [key, count] of elements) {
        const quant = quantizerOf(q, key);
        expect(quant.kind, key).toBe('threshold');
        if (quant.kind !== 'threshold') continue;
        expect(quant.bits, key).toBe(bits);
        const levels = quant.thresholds.length + 1;
        expect(levels, key).toBe(2 ** bits);
        const op = ops.get(key.slice(0, -2)) as GemmOp;
        const traced = key.endsWith('.a') ? op.actQuant : op.bQuant;
        expect(traced, key).toEqual({ kind: 'threshold', levels });
        // The trace's shape quantizes as many elements as the model's shape says.
        expect(key.endsWith('.a') ? op.m * op.k * op.count : op.k * op.n * op.count, key).toBe(count);
        const name = key.slice(0, -2);
        expectedPerOp.set(name, (expectedPerOp.get(name) ?? 0) + (levels - 1) * count);
        expectedTotal += (levels - 1) * count;
      }
      // Outside the blocks (patch embedding's pixels, the head's input) the quantizers are uniform.
      for (const o of gemms(trace)) if (!o.name.startsWith('blocks.')) expect(o.actQuant.kind, o.name).not.toBe('threshold');

      const sim = simulateTrace(edgeWithThresholdUnit(), trace);
      for (const r of sim.ops) {
        expect(comparisons(r.actions.comparisons), r.name).toBe(expectedPerOp.get(r.name) ?? 0);
        if (expectedPerOp.has(r.name)) expect(r.unitCycles.threshold, r.name).toBeGreaterThan(0);
      }
      expect(comparisons(sim.totals.actions.comparisons)).toBe(expectedTotal);
      expect(expectedTotal).toBe((2 ** bits - 1) * [...elements.values()].reduce((s, n) => s + n, 0));
      // The plain preset has no threshold unit and must say so rather than price the comparators at nothing.
      expect(() => simulateTrace(loadArch('edge-16x16'), trace)).toThrow(UserError);
    });
  }

  it('a uniform W8A8 model of the same shapes asks for no comparator evaluations', () => {
    const { config, params } = loadCheckpoint(`${MODEL_DIR}vit-fashion-mnist.safetensors`);
    const uniform = quantizeUniform(config, params, loadCalibrationSet('fashion-mnist', 32, 0), { wbits: 8, abits: 8, seed: 0, extra: { scale: 'minmax' } });
    const trace = traceFromQuantized(uniform, { name: 'uniform-w8a8', source: 'test' });
    const n2uq = traceFromQuantized(readQuantizedModel(`${MODEL_DIR}qat/n2uq-w2a2.safetensors`), { name: 'n2uq-w2a2', source: 'test' });
    expect(gemms(trace).map((o) => [o.name, o.m, o.k, o.n, o.count])).toEqual(gemms(n2uq).map((o) => [o.name, o.m, o.k, o.n, o.count]));
    for (const o of gemms(trace)) {
      expect(o.actQuant.kind, o.name).not.toBe('threshold');
      expect(o.bQuant?.kind, o.name).not.toBe('threshold');
    }
    for (const arch of [edgeWithThresholdUnit(), loadArch('edge-16x16')]) {
      const sim = simulateTrace(arch, trace);
      expect(comparisons(sim.totals.actions.comparisons)).toBe(0);
      for (const r of sim.ops) expect(r.unitCycles.threshold, r.name).toBe(0);
    }
  });
});
