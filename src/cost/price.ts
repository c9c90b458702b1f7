/**
 * Pricing: what `hw/` counted (ActionCounts) on what the design is built from (Components), in a
 * Technology, becomes joules and square metres per component. Pure functions of plain values, so one
 * simulation can be re-priced for any node, supply or table without simulating again.
 */
import type { DramType } from '../hw/arch.js';
import {
  adderAreaM2,
  adderEnergyJ,
  adderLeakageW,
  comparatorAreaM2,
  comparatorEnergyJ,
  comparatorLeakageW,
  multiplierAreaM2,
  multiplierEnergyJ,
  multiplierLeakageW,
  peAreaM2,
  peLeakageW,
  peMacEnergyJ,
  registerAreaM2,
  registerEnergyJ,
  registerLeakageW,
  type PeSpec,
  type UnitTable,
} from './arithmetic.js';
import { dramEnergyJ } from './dram.js';
import { sramCost } from './sram.js';
import { nodeScaling, type NodeScaling, type Technology } from './technology.js';

// ───────────────────────────── what is priced ─────────────────────────────

/** MACs at one precision. `zeroOperandFraction` (from a trace's operand statistics) is the share with a zero operand. */
export interface MacCount {
  actBits: number;
  weightBits: number;
  accBits: number;
  count: number;
  zeroOperandFraction?: number;
}

/** Accesses to one buffer, each one word of `portBits`; `buffer` names an SramComponent. */
export interface SramAccessCount {
  buffer: string;
  portBits: number;
  reads: number;
  writes: number;
}

export interface DramTraffic {
  readBytes: number;
  writeBytes: number;
}

/** Threshold-unit comparator evaluations at one width. */
export interface ComparisonCount {
  bits: number;
  count: number;
}

/** Noise-adder work: additions at `bits`, and reads of the noise table (one entry each). */
export interface NoiseCount {
  bits: number;
  additions: number;
  tableReads: number;
}

/**
 * Vector-lane operations. Transcendental functions (exp, GELU, 1/√x) reach the vector unit already
 * decomposed into these by the integer kernels (I-BERT-style polynomials, shifts and divides).
 */
export type VectorOpKind = 'add' | 'multiply' | 'compare' | 'shift' | 'divide';
export const VECTOR_OP_KINDS: readonly VectorOpKind[] = ['add', 'multiply', 'compare', 'shift', 'divide'];

export interface VectorOpCount {
  kind: VectorOpKind;
  bits: number;
  count: number;
}

/** Everything `hw/` counts for one inference (or one layer): the input of priceEnergy. */
export interface ActionCounts {
  /** Latency in clock cycles; leakage is paid for all of them. */
  cycles: number;
  macs: MacCount[];
  sram: SramAccessCount[];
  dram: DramTraffic;
  comparisons: ComparisonCount[];
  noise: NoiseCount[];
  vector: VectorOpCount[];
  /** Operands realigned by the twin-uniform (PTQ4ViT) shifter, at the operand width; priced only when the components have one. */
  twinShifts?: { bits: number; count: number }[];
}

export interface SramComponent {
  name: string;
  bytes: number;
  portBits: number;
}

/** What the design is built from: the input of priceArea and the leakage part of priceEnergy. */
export interface Components {
  clockHz: number;
  pe: PeSpec & {
    count: number;
    /** Operand isolation: a MAC with a zero operand does not switch its multiplier and adder. */
    zeroGating: boolean;
  };
  srams: SramComponent[];
  dram: { type: DramType };
  vector: { lanes: number; bits: number };
  threshold: { comparators: number; bits: number };
  noise: { adders: number; bits: number; tableEntries: number; entryBits: number };
  /** PTQ4ViT support: shifters (and a flag-bit register each) on the array's operand inputs; absent when the design has none. */
  twinUniform?: { shifters: number; bits: number };
}

// ───────────────────────────── what comes out ─────────────────────────────

export interface ComponentEnergy {
  component: string;
  dynamicJ: number;
  leakageJ: number;
}

export interface EnergyBreakdown {
  components: ComponentEnergy[];
  totalJ: number;
  latencySeconds: number;
  /** What zero gating did: measured sparsity turned into energy not spent. */
  zeroGating: { enabled: boolean; macs: number; gatedMacs: number; savedJ: number };
  scaling: NodeScaling;
  notes: string[];
}

export interface ComponentArea {
  component: string;
  areaM2: number;
}

export interface AreaBreakdown {
  components: ComponentArea[];
  totalM2: number;
  scaling: NodeScaling;
  notes: string[];
}

export const PE_ARRAY = 'pe array';
export const DRAM = 'dram';
export const VECTOR_UNIT = 'vector unit';
export const THRESHOLD_UNIT = 'threshold unit';
export const NOISE_ADDER = 'noise adder';
export const TWIN_UNIFORM = 'twin-uniform shifter';

/** SRAM components are reported as `sram <name>`. */
export function sramComponentName(name: string): string {
  return `sram ${name}`;
}

// ───────────────────────────── pricing ─────────────────────────────

/**
 * Energy of `actions` on `components` in `tech`, by component: dynamic energy of every action plus
 * leakage power × latency (cycles / clock).
 */
export function priceEnergy(actions: ActionCounts, components: Components, tech: Technology): EnergyBreakdown {
  const s = nodeScaling(tech.nodeMetres, tech.volts);
  const units = unitTable(tech);
  const latencySeconds = actions.cycles / components.clockHz;
  const leak = leakagePowersW(components, tech, s);
  const notes = new Set<string>();
  const out: ComponentEnergy[] = [];
  const add = (component: string, dynamicJ: number): void => {
    out.push({ component, dynamicJ, leakageJ: (leak.get(component) ?? 0) * latencySeconds });
  };

  const pe = pricePeArray(actions.macs, components.pe, tech);
  add(PE_ARRAY, pe.energyJ * s.energyFactor);

  for (const sram of components.srams) {
    let dynamicJ = 0;
    for (const a of actions.sram.filter((x) => x.buffer === sram.name)) {
      const c = sramCost({ bytes: sram.bytes, portBits: a.portBits, nodeMetres: tech.nodeMetres, flavour: tech.sramFlavour, volts: tech.volts });
      c.notes.forEach((n) => notes.add(`${sramComponentName(sram.name)}: ${n}`));
      dynamicJ += a.reads * c.readEnergyJ + a.writes * c.writeEnergyJ;
    }
    add(sramComponentName(sram.name), dynamicJ);
  }
  for (const a of actions.sram) {
    if (!components.srams.some((x) => x.name === a.buffer)) throw new Error(`SRAM accesses counted for buffer ${a.buffer}, which the components do not have`);
  }

  add(DRAM, dramEnergyJ(components.dram.type, actions.dram.readBytes, actions.dram.writeBytes));

  const vectorJ = actions.vector.reduce((sum, v) => sum + v.count * vectorOpEnergyJ(v.kind, v.bits, units), 0);
  add(VECTOR_UNIT, vectorJ * s.energyFactor);

  const thresholdJ = actions.comparisons.reduce((sum, c) => sum + c.count * comparatorEnergyJ(c.bits), 0);
  add(THRESHOLD_UNIT, thresholdJ * s.energyFactor);

  const noiseJ = actions.noise.reduce(
    (sum, n) => sum + n.additions * adderEnergyJ(n.bits, units) + n.tableReads * registerEnergyJ(components.noise.entryBits),
    0,
  );
  add(NOISE_ADDER, noiseJ * s.energyFactor);

  if (components.twinUniform) {
    // A log shifter's b·log2 b multiplexers switch about as much as a b-bit adder (as for the vector unit's shifts).
    const twinJ = (actions.twinShifts ?? []).reduce((sum, t) => sum + t.count * adderEnergyJ(t.bits, units), 0);
    add(TWIN_UNIFORM, twinJ * s.energyFactor);
  } else if ((actions.twinShifts ?? []).some((t) => t.count > 0)) {
    throw new Error('twin-uniform shifts counted for a design without twin-uniform shifters');
  }

  if (s.interpolated) notes.add(`technology ${s.nm} nm is interpolated between Stillmaker–Baas nodes`);
  const totalJ = out.reduce((sum, c) => sum + c.dynamicJ + c.leakageJ, 0);
  return {
    components: out,
    totalJ,
    latencySeconds,
    zeroGating: { enabled: components.pe.zeroGating, macs: pe.macs, gatedMacs: pe.gatedMacs, savedJ: pe.savedJ * s.energyFactor },
    scaling: s,
    notes: [...notes],
  };
}

/** Area of the whole design by component (DRAM is off chip and has none). */
export function priceArea(components: Components, tech: Technology): AreaBreakdown {
  const s = nodeScaling(tech.nodeMetres, tech.volts);
  const units = unitTable(tech);
  const notes = new Set<string>();
  const out: ComponentArea[] = [{ component: PE_ARRAY, areaM2: components.pe.count * peAreaM2(components.pe, tech.arithmetic) * s.areaFactor }];
  for (const sram of components.srams) {
    const c = sramCost({ bytes: sram.bytes, portBits: sram.portBits, nodeMetres: tech.nodeMetres, flavour: tech.sramFlavour, volts: tech.volts });
    c.notes.forEach((n) => notes.add(`${sramComponentName(sram.name)}: ${n}`));
    out.push({ component: sramComponentName(sram.name), areaM2: c.areaM2 });
  }
  const { vector, threshold, noise } = components;
  out.push(
    { component: VECTOR_UNIT, areaM2: vector.lanes * vectorLaneAreaM2(vector.bits, units) * s.areaFactor },
    { component: THRESHOLD_UNIT, areaM2: threshold.comparators * comparatorAreaM2(threshold.bits) * s.areaFactor },
    {
      component: NOISE_ADDER,
      areaM2: (noise.adders * adderAreaM2(noise.bits, units) + registerAreaM2(noise.tableEntries * noise.entryBits)) * s.areaFactor,
    },
  );
  if (components.twinUniform) {
    const { shifters, bits } = components.twinUniform;
    out.push({ component: TWIN_UNIFORM, areaM2: shifters * (adderAreaM2(bits, units) + registerAreaM2(1)) * s.areaFactor });
  }
  if (s.interpolated) notes.add(`technology ${s.nm} nm is interpolated between Stillmaker–Baas nodes`);
  return { components: out, totalM2: out.reduce((sum, c) => sum + c.areaM2, 0), scaling: s, notes: [...notes] };
}

// ───────────────────────────── helpers ─────────────────────────────

/**
 * MAC energy at 45 nm, nominal supply. With zero gating, every MAC pays a zero detect on both
 * operands (priced as an Aladdin comparator of the operand's width, an upper bound for a NOR tree)
 * and a MAC with a zero operand pays nothing else: its multiplier and adder inputs hold.
 */
function pricePeArray(macs: MacCount[], pe: Components['pe'], tech: Technology): { energyJ: number; macs: number; gatedMacs: number; savedJ: number } {
  let energyJ = 0;
  let ungatedJ = 0;
  let count = 0;
  let gatedMacs = 0;
  for (const m of macs) {
    const zero = m.zeroOperandFraction ?? 0;
    if (!(zero >= 0 && zero <= 1)) throw new Error(`zeroOperandFraction must be in [0, 1], got ${zero}`);
    const full = peMacEnergyJ(pe, m, tech.arithmetic);
    count += m.count;
    ungatedJ += m.count * full;
    if (!pe.zeroGating) {
      energyJ += m.count * full;
      continue;
    }
    const gated = m.count * zero;
    gatedMacs += gated;
    const detect = comparatorEnergyJ(m.actBits) + comparatorEnergyJ(m.weightBits);
    energyJ += (m.count - gated) * full + m.count * detect;
  }
  return { energyJ, macs: count, gatedMacs, savedJ: ungatedJ - energyJ };
}

/** Leakage power by component name, at the node and supply. */
function leakagePowersW(c: Components, tech: Technology, s: NodeScaling): Map<string, number> {
  const leak = new Map<string, number>();
  leak.set(PE_ARRAY, c.pe.count * peLeakageW(c.pe) * s.leakageFactor);
  for (const sram of c.srams) {
    leak.set(sramComponentName(sram.name), sramCost({ bytes: sram.bytes, portBits: sram.portBits, nodeMetres: tech.nodeMetres, flavour: tech.sramFlavour, volts: tech.volts }).leakageW);
  }
  const lane = multiplierLeakageW(c.vector.bits, c.vector.bits) + adderLeakageW(2 * c.vector.bits) + comparatorLeakageW(c.vector.bits);
  leak.set(VECTOR_UNIT, c.vector.lanes * lane * s.leakageFactor);
  leak.set(THRESHOLD_UNIT, c.threshold.comparators * comparatorLeakageW(c.threshold.bits) * s.leakageFactor);
  leak.set(NOISE_ADDER, (c.noise.adders * adderLeakageW(c.noise.bits) + registerLeakageW(c.noise.tableEntries * c.noise.entryBits)) * s.leakageFactor);
  if (c.twinUniform) leak.set(TWIN_UNIFORM, c.twinUniform.shifters * (adderLeakageW(c.twinUniform.bits) + registerLeakageW(1)) * s.leakageFactor);
  return leak;
}

/**
 * One vector-lane operation at 45 nm. A shift is priced as an adder of the same width (a log shifter's
 * b·log2 b multiplexers switch about as much); a divide as `bits` subtractions (restoring division).
 */
function vectorOpEnergyJ(kind: VectorOpKind, bits: number, units: UnitTable): number {
  switch (kind) {
    case 'add':
    case 'shift':
      return adderEnergyJ(bits, units);
    case 'multiply':
      return multiplierEnergyJ(bits, bits, units);
    case 'compare':
      return comparatorEnergyJ(bits);
    case 'divide':
      return bits * adderEnergyJ(bits, units);
  }
}

/** A vector lane: a b×b multiplier, a 2b-bit adder (the product's width) and a b-bit comparator. */
function vectorLaneAreaM2(bits: number, units: UnitTable): number {
  return multiplierAreaM2(bits, bits, units) + adderAreaM2(2 * bits, units) + comparatorAreaM2(bits);
}

/** BitFusion's table has whole PEs only; the other units of a bitfusion-priced design use Horowitz's. */
function unitTable(tech: Technology): UnitTable {
  return tech.arithmetic === 'aladdin' ? 'aladdin' : 'horowitz';
}
