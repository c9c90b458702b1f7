/**
 * The technology a design is priced in: node, optional supply voltage, which arithmetic table, which
 * SRAM device flavour. Every table row is a 45 nm figure (Aladdin's 40 nm rows are brought to 45 nm
 * first); `nodeScaling` says by how much energy, leakage and area change at another node and supply
 * (Stillmaker & Baas 2017).
 */
import { UserError } from '../config/errors.js';
import { NODES, VOLTAGE_RANGE, type NodeRow, type VddQuadratic } from './tables.js';

/** Which published table prices a fixed-precision PE (precision-scalable PEs always use BitFusion's). */
export type ArithmeticTable = 'horowitz' | 'aladdin' | 'bitfusion';
export const ARITHMETIC_TABLES: readonly ArithmeticTable[] = ['horowitz', 'aladdin', 'bitfusion'];

/** CACTI's ITRS device flavours: high performance, or low standby power. */
export type SramFlavour = 'hp' | 'lstp';
export const SRAM_FLAVOURS: readonly SramFlavour[] = ['hp', 'lstp'];

export interface Technology {
  nodeMetres: number;
  /** Supply voltage; absent means the node's nominal supply. */
  volts?: number;
  arithmetic: ArithmeticTable;
  sramFlavour: SramFlavour;
}

/** The defaults: Horowitz arithmetic and high-performance SRAM at the node's nominal supply. */
export function technology(nodeMetres: number, options: Partial<Omit<Technology, 'nodeMetres'>> = {}): Technology {
  const tech: Technology = { nodeMetres, arithmetic: options.arithmetic ?? 'horowitz', sramFlavour: options.sramFlavour ?? 'hp' };
  if (options.volts !== undefined) tech.volts = options.volts;
  return tech;
}

/** How one node and supply scale a 45 nm figure. */
export interface NodeScaling {
  nm: number;
  /** × 45 nm area. */
  areaFactor: number;
  /** × 45 nm dynamic energy, at the chosen supply. */
  energyFactor: number;
  /** × 45 nm leakage power, at the chosen supply. */
  leakageFactor: number;
  /** The part of energyFactor due to the supply alone (1 at nominal). */
  voltageFactor: number;
  volts: number;
  nominalVolts: number;
  /** True when the node is not in the paper (28, 22 nm). */
  interpolated: boolean;
  sources: string[];
}

/** The nodes that can be priced, descending. */
export function pricedNodesNm(): number[] {
  return NODES.filter((n) => n.energy !== undefined).map((n) => n.nm);
}

/**
 * Scaling of a 45 nm figure to `nodeMetres` at `volts` (nominal when absent). Unknown nodes and
 * supplies outside the fitted range are user mistakes: one line, UserError.
 */
export function nodeScaling(nodeMetres: number, volts?: number): NodeScaling {
  const node = findNode(nodeMetres);
  const { energy, vdd, nominalVolts } = node;
  if (!energy || !vdd || !nominalVolts) {
    throw new UserError(
      `technology ${node.nm} nm has an area factor but no energy factor in the Stillmaker–Baas table; priced nodes are ${pricedNodesNm().join(', ')} nm`,
    );
  }
  const vNom = nominalVolts.value;
  const v = volts ?? vNom;
  const { min, max } = VOLTAGE_RANGE;
  if (!(v >= min.value && v <= max.value)) {
    throw new UserError(`supply ${v} V is outside ${min.value}–${max.value} V, the range vitsim prices with the Stillmaker–Baas voltage fits`);
  }
  // Dynamic energy follows the node's fitted quadratic, normalised at its nominal supply so that
  // naming the nominal voltage changes nothing.
  const voltageFactor = quadratic(vdd, v) / quadratic(vdd, vNom);
  // Leakage: CACTI's hp SRAM leakage falls 45→32 nm by 0.53×, the same as the energy factor, so leakage
  // power is scaled with the energy factor; in the supply it is taken as first order (P = V·I_leak).
  const leakageVoltage = v / vNom;
  const sources = [node.area.source, energy.source];
  if (volts !== undefined) sources.push(vdd.source, nominalVolts.source);
  return {
    nm: node.nm,
    areaFactor: node.area.value,
    energyFactor: energy.value * voltageFactor,
    leakageFactor: energy.value * leakageVoltage,
    voltageFactor,
    volts: v,
    nominalVolts: vNom,
    interpolated: node.interpolated,
    sources,
  };
}

/** The Stillmaker–Baas energy law E ∝ a·V² + b·V + c. */
export function quadratic(q: VddQuadratic, volts: number): number {
  return q.a * volts * volts + q.b * volts + q.c;
}

/** A node in nanometres, rounded so that 28e-9 m reads as 28. */
export function nanometres(metres: number): number {
  return Math.round(metres * 1e9 * 1000) / 1000;
}

function findNode(nodeMetres: number): NodeRow {
  const nm = nanometres(nodeMetres);
  const node = NODES.find((n) => Math.abs(n.nm - nm) < 1e-6);
  if (!node) {
    throw new UserError(`technology ${nm} nm is not in the Stillmaker–Baas table; priced nodes are ${pricedNodesNm().join(', ')} nm`);
  }
  return node;
}
