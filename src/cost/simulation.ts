/**
 * Pricing a simulation: the design (hw's Accelerator) becomes Components, each op's counted actions
 * become ActionCounts, and both are priced in a Technology — the arch file's node and supply, or
 * another node (`--tech`) for the very same simulation, which is never re-run to be re-priced.
 *
 * Decisions made here (docs/simulate.md):
 * - SRAMs are priced as 64-bit-ported arrays, CACTI's narrowest characterised width (no port-width
 *   extrapolation); an access of a w-bit word counts as w/64 port accesses, so SRAM energy follows
 *   the bits moved.
 * - The threshold unit has lanes × (2^maxBits − 1) comparators; a design without a noise adder has no
 *   noise table either; twin-uniform support is one shifter per array row (the streamed operand's edge).
 */
import { UserError } from '../config/errors.js';
import type { Accelerator } from '../hw/arch.js';
import type { Actions } from '../hw/actions.js';
import type { Simulation } from '../hw/simulate.js';
import { dramEnergyPerBitJ } from './dram.js';
import { priceArea, priceEnergy, type ActionCounts, type AreaBreakdown, type Components, type EnergyBreakdown } from './price.js';
import { nodeScaling, technology, type Technology } from './technology.js';

/** Port width every SRAM is priced at. */
export const SRAM_PORT_BITS = 64;

/** What the priced design is built from. Refuses, with one line, what the tables cannot price. */
export function designComponents(arch: Accelerator): Components {
  if (arch.pe.kind === 'bitfusion' && arch.pe.brickBits !== 2) {
    throw new UserError(`${arch.name}: pe.brickBits must be 2 to be priced (BitFusion synthesized 2-bit bricks only), got ${arch.pe.brickBits}`);
  }
  try {
    dramEnergyPerBitJ(arch.dram.type);
  } catch (err) {
    if (err instanceof UserError) throw new UserError(`${arch.name}: dram.type ${err.message.replace(/^DRAM type /, '')}`);
    throw err;
  }
  const { pe, array, sram, vector, threshold, noise } = arch;
  const components: Components = {
    clockHz: arch.clockHz,
    pe: { count: array.rows * array.cols, kind: pe.kind, actBits: pe.actBits, weightBits: pe.weightBits, accBits: pe.accBits, zeroGating: arch.zeroGating },
    srams: [
      { name: 'ifmap', bytes: sram.ifmapBytes, portBits: SRAM_PORT_BITS },
      { name: 'filter', bytes: sram.filterBytes, portBits: SRAM_PORT_BITS },
      { name: 'ofmap', bytes: sram.ofmapBytes, portBits: SRAM_PORT_BITS },
    ],
    dram: { type: arch.dram.type },
    vector: { lanes: vector.lanes, bits: vector.bits },
    threshold: { comparators: threshold.lanes * (2 ** threshold.maxBits - 1), bits: threshold.comparatorBits },
    noise: { adders: noise.lanes, bits: noise.bits, tableEntries: noise.lanes > 0 ? noise.tableEntries : 0, entryBits: noise.entryBits },
  };
  if (arch.twinUniform) components.twinUniform = { shifters: array.rows, bits: Math.max(pe.actBits, pe.weightBits) };
  return components;
}

/** hw's counts over `cycles` as the pricer's input (SRAM words as 64-bit port accesses). */
export function actionCounts(actions: Actions, cycles: number): ActionCounts {
  const sram = new Map<string, { buffer: string; portBits: number; reads: number; writes: number }>();
  for (const s of actions.sram) {
    const into = sram.get(s.buffer) ?? { buffer: s.buffer, portBits: SRAM_PORT_BITS, reads: 0, writes: 0 };
    into.reads += (s.reads * s.wordBits) / SRAM_PORT_BITS;
    into.writes += (s.writes * s.wordBits) / SRAM_PORT_BITS;
    sram.set(s.buffer, into);
  }
  return {
    cycles,
    macs: actions.macs.map((m) => ({ ...m })),
    sram: [...sram.values()],
    dram: { ...actions.dram },
    comparisons: actions.comparisons.map((c) => ({ ...c })),
    noise: actions.noise.map((n) => ({ ...n })),
    vector: actions.vector.map((v) => ({ ...v })),
    twinShifts: actions.twinShifts.map((t) => ({ ...t })),
  };
}

/**
 * The technology to price in: the arch file's node and supply, or `nodeMetres` (`--tech`) at that
 * node's nominal supply unless `volts` is given — a supply belongs to its node. Unknown nodes and
 * supplies outside the fitted range are refused here, with one line, before anything is priced.
 */
export function designTechnology(arch: Accelerator, override: { nodeMetres?: number; volts?: number } = {}): Technology {
  const nodeMetres = override.nodeMetres ?? arch.technologyNodeMetres;
  const volts = override.volts ?? (override.nodeMetres === undefined ? arch.volts : undefined);
  const tech = technology(nodeMetres, volts === undefined ? {} : { volts });
  try {
    nodeScaling(tech.nodeMetres, tech.volts);
  } catch (err) {
    if (err instanceof UserError) throw new UserError(`${arch.name}: ${err.message}`);
    throw err;
  }
  return tech;
}

export interface SimulationCost {
  technology: Technology;
  /** The whole simulated run (all `batch` images), by component. */
  energy: EnergyBreakdown;
  energyPerInferenceJ: number;
  /** Energy of each op (dynamic + its share of leakage over its cycles); they sum to energy.totalJ. */
  perOpJ: number[];
  /** Average power over the run: energy / latency. */
  powerW: number;
  /** Effective operations (2 per MAC) per joule: TOPS/W × 10¹². */
  opsPerJoule: number;
  area: AreaBreakdown;
}

/** Prices `sim` of `arch` in `tech`. Pure: the same simulation can be priced in any technology. */
export function priceSimulation(sim: Simulation, arch: Accelerator, tech: Technology): SimulationCost {
  const components = designComponents(arch);
  const energy = priceEnergy(actionCounts(sim.totals.actions, sim.totals.cycles), components, tech);
  const perOpJ = sim.ops.map((op) => priceEnergy(actionCounts(op.actions, op.cycles), components, tech).totalJ);
  return {
    technology: tech,
    energy,
    energyPerInferenceJ: energy.totalJ / sim.batch,
    perOpJ,
    powerW: energy.totalJ / sim.totals.latencySeconds,
    opsPerJoule: (2 * sim.totals.macs) / energy.totalJ,
    area: priceArea(components, tech),
  };
}
