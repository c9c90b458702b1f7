/**
 * One design point, evaluated: design and trace (design.ts), one inference through the cycle model,
 * priced in the point's technology, accuracy from the spec's source, constraints checked.
 *
 * What is cached across the points one evaluator sees, and why that is exact:
 * - the parsed design per distinct arch shape, and the trace per distinct quantisation (design.ts);
 * - the simulation per distinct (design without its pricing-only fields, DRAM bandwidth, clock,
 *   trace): simulateTrace is a pure function of those, and DRAM type, technology node, supply and
 *   zero gating are read only by the pricer;
 * - the priced energy and area per distinct (simulation, technology node): the pricer reads the DRAM
 *   type only for the DRAM line (energy per bit × bytes; DRAM has no area and no leakage on the
 *   accelerator's budget), so a point that differs only in DRAM type gets that line re-priced and the
 *   total summed again in the pricer's order (a test checks the bits against pricing from scratch);
 * - accuracy per distinct quantisation (the accuracy source's own cache).
 * Only the totals are priced (per-op energy is the report's business).
 */
import { UserError } from '../config/errors.js';
import { actionCounts, designComponents, designTechnology } from '../cost/simulation.js';
import { dramEnergyJ } from '../cost/dram.js';
import { DRAM, priceArea, priceEnergy, type AreaBreakdown, type EnergyBreakdown } from '../cost/price.js';
import type { DramType } from '../hw/arch.js';
import { simulateTrace, type Simulation } from '../hw/simulate.js';
import type { AccuracyLookup } from './accuracy-lookup.js';
import { accuracySource } from './accuracy.js';
import { designer } from './design.js';
import type { ParamValue, PointMetrics, PointResult } from './result.js';
import type { SweepSpec } from './spec.js';

export interface EvaluatorOptions {
  /** Where the measured accuracy source caches its results. */
  cacheDir?: string;
  /** Replaces the accuracy source (tests inject a fake measured evaluator through it). */
  accuracy?: AccuracyLookup;
}

export type Evaluate = (index: number, params: Record<string, ParamValue>) => Promise<PointResult>;

/** Simulations kept before the cache starts over: a few MB each for DeiT-B-sized traces. */
const MAX_CACHED_SIMULATIONS = 64;

/** An evaluator for the points of one sweep. Results are a pure function of (spec, params, index). */
export function evaluator(spec: SweepSpec, options: EvaluatorOptions = {}): Evaluate {
  const design = designer(spec);
  const accuracy = options.accuracy ?? accuracySource(spec, options.cacheDir);
  const simulations = new Map<string, Simulation>();
  const priced = new Map<string, { energy: EnergyBreakdown; area: AreaBreakdown }>();

  return async (index, params) => {
    let point;
    try {
      point = design.design(params);
    } catch (err) {
      if (err instanceof UserError) return invalidPoint(index, params, err.message);
      throw err;
    }
    const { arch, trace, quant, simulationKey } = point;
    let sim = simulations.get(simulationKey);
    try {
      if (sim === undefined) {
        sim = simulateTrace(arch, trace);
        if (simulations.size >= MAX_CACHED_SIMULATIONS) simulations.clear();
        simulations.set(simulationKey, sim);
      }
      const t = sim.totals;
      const priceKey = `${simulationKey}|${arch.technologyNodeMetres}`;
      let price = priced.get(priceKey);
      if (price === undefined) {
        const components = designComponents(arch);
        const tech = designTechnology(arch);
        price = { energy: priceEnergy(actionCounts(t.actions, t.cycles), components, tech), area: priceArea(components, tech) };
        if (priced.size >= MAX_CACHED_SIMULATIONS * 16) priced.clear();
        priced.set(priceKey, price);
      }
      const energy = withDramType(price.energy, arch.dram.type, t.actions.dram);
      const area = price.area;
      const acc = await accuracy(quant, trace.model);
      const perInference = 1 / sim.batch;
      const metrics: PointMetrics = {
        latencyS: t.latencySeconds,
        energyJ: energy.totalJ * perInference,
        areaMm2: area.totalM2 * 1e6,
        accuracy: acc?.top1 ?? null,
        accuracySource: acc?.source ?? null,
        throughputIps: t.inferencesPerSecond,
        effectiveTops: t.effectiveOpsPerSecond / 1e12,
        peakTops: t.peakOpsPerSecond / 1e12,
        macs: t.macs * perInference,
        dramBytes: (t.actions.dram.readBytes + t.actions.dram.writeBytes) * perInference,
        cycles: t.cycles,
      };
      const energyJ: Record<string, number> = {};
      for (const c of energy.components) energyJ[c.component] = (c.dynamicJ + c.leakageJ) * perInference;
      const areaMm2: Record<string, number> = {};
      for (const c of area.components) areaMm2[c.component] = c.areaM2 * 1e6;
      const latencySByOpKind: Record<string, number> = {};
      for (const op of sim.ops) latencySByOpKind[op.kind] = (latencySByOpKind[op.kind] ?? 0) + op.cycles / sim.clockHz;
      const violated = spec.constraints.filter((c) => !meets(metrics[c.metric], c.min, c.max)).map((c) => c.name);
      return { index, params, feasible: violated.length === 0, violated, metrics, breakdown: { energyJ, areaMm2, latencySByOpKind } };
    } catch (err) {
      if (err instanceof UserError) return invalidPoint(index, params, err.message);
      throw err;
    }
  };
}

/**
 * `energy` with its DRAM line priced for `type`: the pricer's DRAM line is dramEnergyJ(type, bytes),
 * and its total the sum of the lines in order, which is repeated here.
 */
function withDramType(energy: EnergyBreakdown, type: DramType, traffic: { readBytes: number; writeBytes: number }): EnergyBreakdown {
  const components = energy.components.map((c) => (c.component === DRAM ? { ...c, dynamicJ: dramEnergyJ(type, traffic.readBytes, traffic.writeBytes) } : c));
  return { ...energy, components, totalJ: components.reduce((sum, c) => sum + c.dynamicJ + c.leakageJ, 0) };
}

/** A constraint on a missing accuracy is not met: the point cannot show it holds. */
function meets(value: number | null, min: number | undefined, max: number | undefined): boolean {
  if (value === null) return false;
  return (min === undefined || value >= min) && (max === undefined || value <= max);
}

/** The violated entry of a point whose axis values make no valid design (e.g. a BitFusion PE with unequal widths). */
export const INVALID_DESIGN = 'invalid design';

/**
 * A combination of axis values the simulator or the pricer refuses: kept in the results so the
 * sweep stays complete, infeasible, with the refusal in `error` and every metric zero.
 */
function invalidPoint(index: number, params: Record<string, ParamValue>, message: string): PointResult {
  const metrics: PointMetrics = {
    latencyS: 0,
    energyJ: 0,
    areaMm2: 0,
    accuracy: null,
    accuracySource: null,
    throughputIps: 0,
    effectiveTops: 0,
    peakTops: 0,
    macs: 0,
    dramBytes: 0,
    cycles: 0,
  };
  return { index, params, feasible: false, violated: [INVALID_DESIGN], metrics, breakdown: { energyJ: {}, areaMm2: {}, latencySByOpKind: {} }, error: message };
}
