/**
 * Sweep results made here, without the sweep runner: each preset design × uniform bit-width on the
 * shipped tiny ViT, simulated and priced as a sweep would. Accuracy is a made-up function of the
 * bit-width (marked `fixture` as its source): the report must draw whatever accuracy it is given.
 */
import { designTechnology, priceSimulation } from '../../src/cost/simulation.js';
import type { ParamValue, PointResult } from '../../src/dse/result.js';
import { archPresets, loadArch } from '../../src/hw/arch-file.js';
import type { Accelerator } from '../../src/hw/arch.js';
import { simulateTrace } from '../../src/hw/simulate.js';
import { uniformBits } from '../../src/trace/bits.js';
import { buildTrace } from '../../src/trace/build.js';
import type { Trace } from '../../src/trace/trace.js';
import { loadWorkload } from '../../src/trace/workload.js';

export const FIXTURE_BITS = [4, 6, 8];

export function fixtureDesign(params: Record<string, ParamValue>): { arch: Accelerator; trace: Trace } {
  const bits = Number(params['quant.bits']);
  return { arch: loadArch(String(params.arch)), trace: buildTrace(loadWorkload('vit-fashion-mnist'), { bits: uniformBits(bits, bits), batch: 1 }) };
}

/** Points in index order; points with area above `maxAreaMm2` are infeasible (constraint `area`). */
export function fixturePoints(maxAreaMm2 = Infinity): PointResult[] {
  const points: PointResult[] = [];
  for (const arch of archPresets()) {
    for (const bits of FIXTURE_BITS) {
      const params = { arch, 'quant.bits': bits };
      const design = fixtureDesign(params);
      const sim = simulateTrace(design.arch, design.trace);
      const cost = priceSimulation(sim, design.arch, designTechnology(design.arch));
      const areaMm2 = cost.area.totalM2 * 1e6;
      const latencySByOpKind: Record<string, number> = {};
      for (const op of sim.ops) latencySByOpKind[op.kind] = (latencySByOpKind[op.kind] ?? 0) + op.cycles / sim.clockHz;
      points.push({
        index: points.length,
        params,
        feasible: areaMm2 <= maxAreaMm2,
        violated: areaMm2 <= maxAreaMm2 ? [] : ['area'],
        metrics: {
          latencyS: sim.totals.latencySeconds,
          energyJ: cost.energyPerInferenceJ,
          areaMm2,
          accuracy: 88.9 - 40 / 2 ** (bits - 2),
          accuracySource: 'fixture',
          throughputIps: sim.totals.inferencesPerSecond,
          effectiveTops: sim.totals.effectiveOpsPerSecond / 1e12,
          peakTops: sim.totals.peakOpsPerSecond / 1e12,
          macs: sim.totals.macs,
          dramBytes: sim.totals.actions.dram.readBytes + sim.totals.actions.dram.writeBytes,
          cycles: sim.totals.cycles,
        },
        breakdown: {
          energyJ: Object.fromEntries(cost.energy.components.map((c) => [c.component, (c.dynamicJ + c.leakageJ) / sim.batch])),
          areaMm2: Object.fromEntries(cost.area.components.map((c) => [c.component, c.areaM2 * 1e6])),
          latencySByOpKind,
        },
      });
    }
  }
  return points;
}
