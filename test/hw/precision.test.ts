import { describe, expect, it } from 'vitest';
import { loadArch } from '../../src/hw/arch-file.js';
import type { ScalablePe } from '../../src/hw/arch.js';
import { precisionMode, reductionSteps } from '../../src/hw/precision.js';
import { simulateTrace } from '../../src/hw/simulate.js';
import { uniformBits } from '../../src/trace/bits.js';
import { buildTrace } from '../../src/trace/build.js';
import { loadWorkload } from '../../src/trace/workload.js';

const fixed8: ScalablePe = { kind: 'fixed', actBits: 8, weightBits: 8, accBits: 32, brickBits: 2 };
const fusion8: ScalablePe = { kind: 'bitfusion', actBits: 8, weightBits: 8, accBits: 32, brickBits: 2 };

describe('precision modes', () => {
  it('a fixed PE runs narrower operands at native speed and wider ones in ceil(b/native) passes per operand', () => {
    expect(precisionMode(fixed8, 4, 4)).toMatchObject({ fused: 1, passes: 1, macsPerCycle: 1 });
    expect(precisionMode(fixed8, 2, 8)).toMatchObject({ fused: 1, passes: 1, macsPerCycle: 1 });
    expect(precisionMode(fixed8, 16, 8)).toMatchObject({ fused: 1, passes: 2, macsPerCycle: 0.5 });
    expect(precisionMode(fixed8, 16, 12)).toMatchObject({ fused: 1, passes: 4, macsPerCycle: 0.25 });
  });

  it('a BitFusion unit of 2-bit bricks runs (8/b_a)·(8/b_w) MACs per cycle: 16 at 2×2 bits, 4 at 4×4, 2 at 4×8, 1 at 8×8 (Sharma et al. 2018)', () => {
    expect(precisionMode(fusion8, 2, 2).macsPerCycle).toBe(16);
    expect(precisionMode(fusion8, 4, 4).macsPerCycle).toBe(4);
    expect(precisionMode(fusion8, 4, 8).macsPerCycle).toBe(2);
    expect(precisionMode(fusion8, 8, 8).macsPerCycle).toBe(1);
  });

  it('a BitFusion operand is rounded up to a brick multiple dividing the unit (3 → 4, 5 → 8 bits), and wider than the unit takes passes', () => {
    expect(precisionMode(fusion8, 3, 3)).toMatchObject({ actBits: 4, weightBits: 4, fused: 4 });
    expect(precisionMode(fusion8, 5, 2)).toMatchObject({ actBits: 8, weightBits: 2, fused: 4 });
    expect(precisionMode(fusion8, 16, 8)).toMatchObject({ fused: 1, passes: 2, macsPerCycle: 0.5 });
  });

  it('the array streams ceil(K·passes/fused) reduction steps', () => {
    expect(reductionSteps(precisionMode(fusion8, 4, 4), 197)).toBe(50);
    expect(reductionSteps(precisionMode(fixed8, 16, 8), 197)).toBe(394);
    expect(reductionSteps(precisionMode(fixed8, 4, 4), 197)).toBe(197);
  });
});

describe('halving operand bits (W8A8 → W4A4) on DeiT-S, batch 1', () => {
  const deitS = loadWorkload('deit-s');
  const w8a8 = buildTrace(deitS, { bits: uniformBits(8, 8) });
  const w4a4 = buildTrace(deitS, { bits: uniformBits(4, 4) });

  it('on the precision-scalable BitFusion-style array at least halves the compute cycles of every compute-bound GEMM', () => {
    const arch = loadArch('bitfusion-16x32');
    const [s8, s4] = [simulateTrace(arch, w8a8), simulateTrace(arch, w4a4)];
    const gemms = s8.ops.filter((o) => o.kind === 'gemm' && o.bound === 'compute');
    // All 74 GEMMs are compute-bound on this design (16x32 PEs at 500 MHz against 25.6 GB/s).
    expect(gemms).toHaveLength(74);
    for (const o of gemms) expect(s4.ops[o.index].computeCycles).toBeLessThanOrEqual(o.computeCycles / 2);
    // 4-bit operands fuse 4 K elements per PE-cycle: qkv's K = 384 (24 row folds on 16 rows) becomes 96 steps (6 row folds), 4× fewer cycles;
    // P·V's K = 197 becomes 50 steps, 4 row folds instead of 13, 3.25× fewer.
    expect(s8.ops[3].computeCycles / s4.ops[3].computeCycles).toBe(4);
    expect(s8.ops[6].computeCycles / s4.ops[6].computeCycles).toBe(13 / 4);
  });

  it('on a fixed-precision int8 array leaves the compute cycles of every GEMM unchanged (narrower operands only move fewer bytes)', () => {
    for (const preset of ['mid-32x32', 'edge-16x16', 'tpu-v1']) {
      const arch = loadArch(preset);
      const [s8, s4] = [simulateTrace(arch, w8a8), simulateTrace(arch, w4a4)];
      for (const o of s8.ops) expect(s4.ops[o.index].computeCycles).toBe(o.computeCycles);
      expect(s4.totals.actions.dram.readBytes).toBeLessThan(s8.totals.actions.dram.readBytes);
    }
  });
});
