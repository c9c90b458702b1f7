import { describe, expect, it } from 'vitest';
import { archPresets, loadArch } from '../../src/hw/arch-file.js';
import type { Accelerator } from '../../src/hw/arch.js';
import { simulateGemm } from '../../src/hw/native.js';
import { simulateTrace } from '../../src/hw/simulate.js';
import { uniformBits } from '../../src/trace/bits.js';
import { buildTrace } from '../../src/trace/build.js';
import type { GemmOp, Op } from '../../src/trace/ops.js';
import type { Trace } from '../../src/trace/trace.js';
import { loadWorkload } from '../../src/trace/workload.js';
import { refusal } from '../refusal.js';

const deitS = buildTrace(loadWorkload('deit-s'), { bits: uniformBits(8, 8) });


/** DeiT-S with the ops changed by `edit` (a trace the quantizer would write). */
function edited(edit: (op: Op) => Op): Trace {
  return { ...deitS, ops: deitS.ops.map(edit) };
}

describe('whole-trace simulation', () => {
  it('the TPU-v1-like preset reports 92 peak int8 TOPS: 65,536 MACs × 2 × 700 MHz', () => {
    const sim = simulateTrace(loadArch('tpu-v1'), deitS);
    expect(256 * 256 * 2 * 700e6).toBe(91.7504e12);
    expect(Math.round(sim.totals.peakOpsPerSecond / 1e12)).toBe(92);
  });

  it('the per-op cycles sum to the total on every preset, serial and overlapped, at batch 1 and 4', () => {
    const batch4 = buildTrace(loadWorkload('deit-t'), { bits: uniformBits(8, 8), batch: 4 });
    for (const name of archPresets()) {
      for (const overlap of ['serial', 'overlapped'] as const) {
        const arch: Accelerator = { ...loadArch(name), overlap };
        for (const trace of [deitS, batch4]) {
          const sim = simulateTrace(arch, trace);
          expect(sim.ops.reduce((s, o) => s + o.cycles, 0)).toBe(sim.totals.cycles);
          expect(sim.totals.latencySeconds).toBe(sim.totals.cycles / arch.clockHz);
          expect(sim.totals.inferencesPerSecond).toBeCloseTo(trace.batch / sim.totals.latencySeconds, 6);
          expect(sim.totals.effectiveOpsPerSecond).toBeCloseTo((2 * sim.totals.macs) / sim.totals.latencySeconds, 0);
        }
      }
    }
  });

  it('a GEMM op is the native model of its shape, `count` times over (DeiT-S Q·Kᵀ: 6 heads of 197×64×197 on tpu-v1, activations in DRAM)', () => {
    const arch: Accelerator = { ...loadArch('tpu-v1'), activations: 'dram' };
    const sim = simulateTrace(arch, deitS);
    const qk = sim.ops[4];
    expect(qk.name).toBe('blocks.0.attn.qk');
    const one = simulateGemm(arch, { m: 197, k: 64, n: 197 }, { outputBits: 8 });
    expect(qk.computeCycles).toBe(6 * one.computeCycles);
    expect(qk.stallCycles).toBe(6 * one.stallCycles);
    expect(qk.actions.dram.readBytes).toBe(6 * one.dram.readBytes);
    expect(qk.macs).toBe(6 * 197 * 64 * 197);
    // Serial: the requantiser's pass over the 6·197·197 scores on 256 lanes follows the array.
    expect(qk.cycles).toBe(6 * one.totalCycles + Math.ceil((6 * 197 * 197) / 256));
  });

  it('on tpu-v1 (activations in the unified buffer, weights at 34 GB/s) the DeiT-S GEMMs at batch 1 whose weights outrun the array are memory-bound: patch_embed, fc1, fc2, head', () => {
    const arch = loadArch('tpu-v1');
    expect(arch.activations).toBe('on-chip');
    const sim = simulateTrace(arch, deitS);
    const bytesPerCycle = 34e9 / 700e6; // 48.57 B per cycle
    // WS on 256×256: a fold is 2·256 + 256 + M − 2 = 963 cycles for M = 197 tokens (962 for the 196 patches, 767 for the head's 1 row).
    // Only weights cross DRAM — and for Q·Kᵀ and P·V their B operand (Kᵀ, V: 64×197 per head), which enters by the weight path.
    // [name, compute cycles = folds × cycles per fold, DRAM bytes, bound]
    const expected: [string, number, number, 'memory' | 'compute'][] = [
      ['patch_embed.proj', 3 * 2 * 962, 768 * 384, 'memory'], // 5,772 cycles < 294,912 B / 48.57 = 6,072
      ['blocks.0.attn.qkv', 2 * 5 * 963, 384 * 1152, 'compute'], // 9,630 > 442,368 B → 9,108
      ['blocks.0.attn.qk', 6 * 963, 6 * 64 * 197, 'compute'], // 6 heads: 5,778 > 75,648 B → 1,557
      ['blocks.0.attn.pv', 6 * 963, 6 * 197 * 64, 'compute'], // 5,778 > 75,648 B → 1,557
      ['blocks.0.attn.proj', 2 * 2 * 963, 384 * 384, 'compute'], // 3,852 > 147,456 B → 3,036
      ['blocks.0.mlp.fc1', 2 * 6 * 963, 384 * 1536, 'memory'], // 11,556 < 589,824 B → 12,143
      ['blocks.0.mlp.fc2', 6 * 2 * 963, 1536 * 384, 'memory'], // 11,556 < 589,824 B → 12,143
      ['head', 2 * 4 * 767, 384 * 1000, 'memory'], // 6,136 < 384,000 B → 7,906
    ];
    for (const [name, compute, bytes, bound] of expected) {
      const op = sim.ops.find((o) => o.name === name)!;
      expect([name, op.computeCycles, op.actions.dram.readBytes, op.actions.dram.writeBytes, op.bound]).toEqual([name, compute, bytes, 0, bound]);
      expect(bytes / bytesPerCycle > compute).toBe(bound === 'memory');
    }
    // Every block repeats the pattern: 12 × (fc1, fc2) + patch_embed + head = 26 memory-bound ops; no vector op is.
    expect(sim.ops.filter((o) => o.bound === 'memory').map((o) => o.name.replace(/^blocks\.\d+\./, ''))).toEqual([
      'patch_embed.proj', ...Array.from({ length: 12 }, () => ['mlp.fc1', 'mlp.fc2']).flat(), 'head',
    ]);
  });

  it('with activations crossing DRAM (tpu-v1 with activations: "dram") every DeiT-S GEMM is memory-bound: weights plus input plus output', () => {
    const arch: Accelerator = { ...loadArch('tpu-v1'), activations: 'dram' };
    const sim = simulateTrace(arch, deitS);
    const qkv = sim.ops[3];
    // 442,368 B of weights + 75,648 B in + 226,944 B out = 744,960 B → 15,337 cycles > 9,630.
    expect([qkv.name, qkv.actions.dram.readBytes + qkv.actions.dram.writeBytes, qkv.bound]).toEqual(['blocks.0.attn.qkv', 744960, 'memory']);
    expect(sim.ops.filter((o) => o.bound === 'memory')).toHaveLength(74);
    expect(sim.totals.cycles).toBeGreaterThan(simulateTrace(loadArch('tpu-v1'), deitS).totals.cycles);
  });

  it('on-chip activations are the native plan without the activation transfers: same compute cycles, DRAM bytes only for weights', () => {
    const onChip = simulateTrace(loadArch('tpu-v1'), deitS);
    const dram = simulateTrace({ ...loadArch('tpu-v1'), activations: 'dram' }, deitS);
    for (const o of onChip.ops) {
      expect(o.computeCycles).toBe(dram.ops[o.index].computeCycles);
      expect(o.stallCycles).toBeLessThanOrEqual(dram.ops[o.index].stallCycles);
    }
    // A design whose ifmap SRAM cannot hold an op's input and results falls back to DRAM for that op.
    const small: Accelerator = { ...loadArch('mid-32x32'), activations: 'on-chip' };
    const sim = simulateTrace(small, deitS);
    expect(sim.ops[3].onChipActivations).toBe(false); // qkv: 75,648 + 226,944 B > 128 KiB
    expect(sim.ops[147].onChipActivations).toBe(true); // head: 384 + 1,000 B ≤ 128 KiB
  });

  it('overlapped side work hides under the GEMM it feeds, and only the excess adds latency', () => {
    const serial: Accelerator = { ...loadArch('mid-32x32'), overlap: 'serial' };
    const overlapped: Accelerator = { ...serial, overlap: 'overlapped' };
    const [s, o] = [simulateTrace(serial, deitS), simulateTrace(overlapped, deitS)];
    expect(s.totals.hiddenCycles).toBe(0);
    expect(o.totals.hiddenCycles).toBeGreaterThan(0);
    expect(o.totals.cycles).toBe(s.totals.cycles - o.totals.hiddenCycles);
    // norm1 (197×384 elements, 2 passes on 32 lanes = 4,728 cycles) hides under qkv.
    expect(o.ops[2]).toMatchObject({ name: 'blocks.0.norm1', cycles: 0, hiddenCycles: 4728 });
  });

  it('counts vector-lane operations by kind for every vector op and the requantiser on each GEMM output', () => {
    const sim = simulateTrace(loadArch('tpu-v1'), deitS);
    const add = sim.ops[1];
    expect(add.name).toBe('pos_embed');
    expect(add.actions.vector).toEqual([{ kind: 'add', bits: 32, count: 197 * 384 }]);
    const softmax = sim.ops[5];
    const lanes = Object.fromEntries(softmax.actions.vector.map((v) => [v.kind, v.count]));
    // Per element: compare 1, add 4, multiply 4, shift 1; per row one divide (1/sum).
    const elements = 6 * 197 * 197;
    expect(lanes).toEqual({ compare: elements, add: 4 * elements, multiply: 4 * elements, shift: elements, divide: 6 * 197 });
  });

  it('threshold, noise and twin-uniform operands are counted on their units (comparisons = elements × (levels − 1))', () => {
    const arch = loadArch('bitfusion-16x32');
    const trace = edited((op) => {
      if (op.name === 'blocks.0.mlp.fc2') return { ...op, actBits: 4, actQuant: { kind: 'threshold', levels: 16 } } as GemmOp;
      if (op.name === 'blocks.0.attn.qkv') return { ...op, actQuant: { kind: 'noisy' } } as GemmOp;
      if (op.name === 'blocks.0.attn.pv') return { ...op, actQuant: { kind: 'twin-uniform' } } as GemmOp;
      return op;
    });
    const sim = simulateTrace(arch, trace);
    const fc2 = sim.ops.find((o) => o.name === 'blocks.0.mlp.fc2')!;
    expect(fc2.actions.comparisons).toEqual([{ bits: 32, count: 197 * 1536 * 15 }]);
    expect(fc2.unitCycles.threshold).toBe(Math.ceil((197 * 1536) / 32));
    const qkv = sim.ops.find((o) => o.name === 'blocks.0.attn.qkv')!;
    expect(qkv.actions.noise).toEqual([{ bits: 32, additions: 197 * 384, tableReads: 197 * 384 }]);
    expect(qkv.unitCycles.noise).toBe(Math.ceil((197 * 384) / 32));
    const pv = sim.ops.find((o) => o.name === 'blocks.0.attn.pv')!;
    expect(pv.actions.twinShifts).toEqual([{ bits: 8, count: 6 * 197 * 197 }]);
    expect(sim.totals.actions.comparisons).toEqual([{ bits: 32, count: 197 * 1536 * 15 }]);
  });

  it("a GEMM whose results feed a threshold-quantised GEMM skips the requantiser: N2UQ's comparators replace it", () => {
    const trace = edited((op) => (op.name === 'blocks.0.attn.proj' ? ({ ...op, actBits: 4, actQuant: { kind: 'threshold', levels: 16 } } as GemmOp) : op));
    const sim = simulateTrace(loadArch('bitfusion-16x32'), trace);
    const [pv, proj] = [sim.ops[6], sim.ops[7]];
    expect(pv.name).toBe('blocks.0.attn.pv');
    expect(pv.actions.vector).toEqual([]);
    expect(pv.unitCycles.vector).toBe(0);
    expect(proj.actions.comparisons).toEqual([{ bits: 32, count: 197 * 384 * 15 }]);
    expect(sim.ops[18].actions.vector.length).toBeGreaterThan(0);
  });

  it('a design without the unit an op needs is refused with one line naming the op', () => {
    const tpu = loadArch('tpu-v1');
    const needs = (name: string, quant: GemmOp['actQuant']): Trace => edited((op) => (op.name === name ? ({ ...op, actQuant: quant } as GemmOp) : op));
    expect(refusal(() => simulateTrace(tpu, needs('blocks.0.mlp.fc2', { kind: 'threshold', levels: 16 })))).toBe(
      'tpu-v1: ops[12] (blocks.0.mlp.fc2) operand A needs a threshold unit (N2UQ quantizer), but the design has none (threshold.lanes is 0; add a threshold unit to the arch file, as the bitfusion-16x32 preset has)',
    );
    expect(refusal(() => simulateTrace(tpu, needs('blocks.0.attn.qkv', { kind: 'noisy' })))).toBe(
      'tpu-v1: ops[3] (blocks.0.attn.qkv) operand A needs a noise adder (NoisyQuant quantizer), but the design has none (noise.lanes is 0; add a noise adder to the arch file, as the bitfusion-16x32 preset has)',
    );
    expect(refusal(() => simulateTrace(tpu, needs('blocks.0.attn.pv', { kind: 'twin-uniform' })))).toBe(
      'tpu-v1: ops[6] (blocks.0.attn.pv) operand A is twin-uniform (PTQ4ViT), but the design has no twin-uniform support (twinUniform is false)',
    );
    const small = { ...loadArch('bitfusion-16x32'), threshold: { lanes: 4, maxBits: 2, comparatorBits: 16 } };
    expect(refusal(() => simulateTrace(small, needs('blocks.0.mlp.fc2', { kind: 'threshold', levels: 16 })))).toBe(
      'bitfusion-16x32: ops[12] (blocks.0.mlp.fc2) operand A needs 15 thresholds per lane, but threshold.maxBits 2 gives 3 comparators',
    );
  });

  it('operand statistics become the share of MACs with a zero operand, P(a = 0 or b = 0) for independent operands', () => {
    const trace = edited((op) => (op.name === 'blocks.0.mlp.fc2' ? ({ ...op, stats: { a: { zeroFraction: 0.5, meanAbs: 3 }, b: { zeroFraction: 0.2, meanAbs: 9 } } } as GemmOp) : op));
    const sim = simulateTrace(loadArch('tpu-v1'), trace);
    expect(sim.ops[12].actions.macs[0].zeroOperandFraction).toBeCloseTo(0.6, 12);
    expect(sim.ops[10].actions.macs[0].zeroOperandFraction).toBeUndefined();
  });

  it('identical GEMM shapes are simulated once: DeiT-B (148 ops, 74 GEMMs) needs 8 native evaluations', () => {
    const deitB = buildTrace(loadWorkload('deit-b'), { bits: uniformBits(8, 8) });
    const sim = simulateTrace(loadArch('tpu-v1'), deitB);
    expect(sim.ops).toHaveLength(148);
    expect(sim.gemmEvaluations).toBe(8);
  });
});
