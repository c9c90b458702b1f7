/**
 * Arithmetic units and processing elements at 45 nm, nominal supply: energy per operation (J), area
 * (m²), leakage (W). Node and voltage are applied by the caller (price.ts) with technology.ts.
 *
 * Width laws: a multiplier grows with b_a·b_w (an array multiplier has b_a·b_w partial-product cells),
 * adders, comparators and registers with their width.
 */
import { UserError } from '../config/errors.js';
import { ALADDIN_40, ALADDIN_TO_45, BITFUSION_FIXED_45, BITFUSION_FUSION_45, HOROWITZ_45, type BitFusionRow, type Row } from './tables.js';
import type { ArithmeticTable } from './technology.js';

/** Tables that price a multiplier or adder by composition (BitFusion only has whole PEs). */
export type UnitTable = 'horowitz' | 'aladdin';

/** Whether a PE has fixed operand widths or BitFusion's 2-bit bricks that fuse to the operand width. */
export type PeKind = 'fixed' | 'bitfusion';
export const PE_KINDS: readonly PeKind[] = ['fixed', 'bitfusion'];

/** A PE's native widths: for a fusion unit, the widest operand it takes in one pass. */
export interface PeSpec {
  kind: PeKind;
  actBits: number;
  weightBits: number;
  accBits: number;
}

// ───────────────────────────── processing elements ─────────────────────────────

/**
 * Energy of one MAC at (actBits, weightBits) on `pe`, 45 nm. A fixed PE prices every MAC at its
 * native widths — narrower operands arrive sign-extended and switch the same datapath — and an operand
 * wider than native takes ceil(bits/native) passes per operand. A fusion unit spends one cycle's
 * energy on (max/b_a)·(max/b_w) MACs at once (BitFusion: 16 2b·2b MACs or one 8b·8b per cycle).
 */
export function peMacEnergyJ(pe: PeSpec, mac: { actBits: number; weightBits: number }, table: ArithmeticTable): number {
  if (pe.kind === 'bitfusion') {
    const unit = rowAtLeast(BITFUSION_FUSION_45, Math.max(pe.actBits, pe.weightBits), 'BitFusion fusion unit');
    return (unit.energyPerCycle.value * fusionPasses(unit.bits, mac.actBits) * fusionPasses(unit.bits, mac.weightBits)) / fusionMacsPerCycle(unit.bits, mac.actBits, mac.weightBits);
  }
  const passes = Math.ceil(mac.actBits / pe.actBits) * Math.ceil(mac.weightBits / pe.weightBits);
  if (table === 'bitfusion') return passes * fixedRow(pe).energyPerCycle.value;
  return passes * macEnergyJ(pe.actBits, pe.weightBits, pe.accBits, table);
}

/** Area of one PE at 45 nm: a BitFusion row, or multiplier + accumulator adder + operand and accumulator registers. */
export function peAreaM2(pe: PeSpec, table: ArithmeticTable): number {
  if (pe.kind === 'bitfusion') return rowAtLeast(BITFUSION_FUSION_45, Math.max(pe.actBits, pe.weightBits), 'BitFusion fusion unit').area.value;
  if (table === 'bitfusion') return fixedRow(pe).area.value;
  return multiplierAreaM2(pe.actBits, pe.weightBits, table) + adderAreaM2(pe.accBits, table) + registerAreaM2(pe.actBits + pe.weightBits + pe.accBits);
}

/**
 * Leakage of one PE at 45 nm. Only Aladdin gives leakage, so every PE kind leaks like its Aladdin
 * datapath: multiplier at the native (or fused maximum) widths, accumulator adder, registers.
 * BitFusion's synthesized power already holds its own leakage; the overlap is small at 45 nm.
 */
export function peLeakageW(pe: PeSpec): number {
  return multiplierLeakageW(pe.actBits, pe.weightBits) + adderLeakageW(pe.accBits) + registerLeakageW(pe.actBits + pe.weightBits + pe.accBits);
}

/** MACs a fusion unit of `maxBits` runs per cycle on operands of these widths (bricks are 2 bits). */
export function fusionMacsPerCycle(maxBits: number, actBits: number, weightBits: number): number {
  return (maxBits / brickWidth(maxBits, actBits)) * (maxBits / brickWidth(maxBits, weightBits));
}

function fusionPasses(maxBits: number, bits: number): number {
  return Math.ceil(bits / maxBits);
}

/** The fused width an operand occupies: 2, 4, 8, … bits, at most the unit's maximum. */
function brickWidth(maxBits: number, bits: number): number {
  let width = 2;
  while (width < bits && width < maxBits) width *= 2;
  return width;
}

/** A fixed PE priced from BitFusion's synthesis: the next synthesized width up from the wider operand. */
function fixedRow(pe: PeSpec): BitFusionRow {
  return rowAtLeast(BITFUSION_FIXED_45, Math.max(pe.actBits, pe.weightBits), 'BitFusion fixed PE');
}

function rowAtLeast(rows: readonly BitFusionRow[], bits: number, what: string): BitFusionRow {
  const found = rows.find((r) => r.bits >= bits);
  if (!found) throw new UserError(`${what}: no synthesized row for ${bits}-bit operands (rows go up to ${rows[rows.length - 1].bits} bits)`);
  return found;
}

// ───────────────────────────── MAC, multiplier, adder ─────────────────────────────

/**
 * One multiply-accumulate at 45 nm: a b_a×b_w multiply and an accBits-wide add. Horowitz's int8
 * MAC with a 32-bit accumulator is his int8 mult plus int32 add, 0.2 pJ + 0.1 pJ.
 */
export function macEnergyJ(actBits: number, weightBits: number, accBits: number, table: UnitTable): number {
  return multiplierEnergyJ(actBits, weightBits, table) + adderEnergyJ(accBits, table);
}

/*
 * Horowitz gives int8 and int32 multipliers; a power law in b_a·b_w through both rows reproduces each
 * exactly (int8→int32 is 15.5× for a 16× product: exponent ln 15.5 / ln 16 ≈ 0.988 for energy,
 * ln(3495/282) / ln 16 ≈ 0.908 for area).
 */
export function multiplierEnergyJ(actBits: number, weightBits: number, table: UnitTable): number {
  if (table === 'aladdin') return aladdinEnergy(ALADDIN_40.mult32.energy) * ((actBits * weightBits) / 1024);
  return powerLaw(HOROWITZ_45.mult8.energy, HOROWITZ_45.mult32.energy, actBits * weightBits);
}

export function multiplierAreaM2(actBits: number, weightBits: number, table: UnitTable): number {
  if (table === 'aladdin') return aladdinArea(ALADDIN_40.mult32.area) * ((actBits * weightBits) / 1024);
  return powerLaw(HOROWITZ_45.mult8.area, HOROWITZ_45.mult32.area, actBits * weightBits);
}

/** Accelergy scales Aladdin's multiplier quadratically in width: here, with b_a·b_w. */
export function multiplierLeakageW(actBits: number, weightBits: number): number {
  return aladdinEnergy(ALADDIN_40.mult32.leakage) * ((actBits * weightBits) / 1024);
}

/** Horowitz's 8, 16 and 32-bit adders joined piecewise-linearly; outside, proportional to the nearest row. */
export function adderEnergyJ(bits: number, table: UnitTable): number {
  if (table === 'aladdin') return aladdinEnergy(ALADDIN_40.adder32.energy) * (bits / 32);
  const { add8, add16, add32 } = HOROWITZ_45;
  return piecewise([[8, add8.energy.value], [16, add16.energy.value], [32, add32.energy.value]], bits);
}

export function adderAreaM2(bits: number, table: UnitTable): number {
  if (table === 'aladdin') return aladdinArea(ALADDIN_40.adder32.area) * (bits / 32);
  const { add8, add16, add32 } = HOROWITZ_45;
  return piecewise([[8, add8.area.value], [16, add16.area.value], [32, add32.area.value]], bits);
}

export function adderLeakageW(bits: number): number {
  return aladdinEnergy(ALADDIN_40.adder32.leakage) * (bits / 32);
}

// ───────────────────────────── comparators and registers (Aladdin only) ─────────────────────────────

/** Horowitz has no comparator; both tables use Aladdin's, linear in width. */
export function comparatorEnergyJ(bits: number): number {
  return aladdinEnergy(ALADDIN_40.comparator32.energy) * (bits / 32);
}

export function comparatorAreaM2(bits: number): number {
  return aladdinArea(ALADDIN_40.comparator32.area) * (bits / 32);
}

export function comparatorLeakageW(bits: number): number {
  return aladdinEnergy(ALADDIN_40.comparator32.leakage) * (bits / 32);
}

/** Reading `bits` register bits (Aladdin's per-bit register read). */
export function registerEnergyJ(bits: number): number {
  return aladdinEnergy(ALADDIN_40.registerBit.energy) * bits;
}

export function registerAreaM2(bits: number): number {
  return aladdinArea(ALADDIN_40.registerBit.area) * bits;
}

export function registerLeakageW(bits: number): number {
  return aladdinEnergy(ALADDIN_40.registerBit.leakage) * bits;
}

// ───────────────────────────── helpers ─────────────────────────────

/** value = lo·(x/x_lo)^k with k chosen so that the hi row is met exactly; x measured in bit products. */
function powerLaw(lo: Row, hi: Row, bitProduct: number): number {
  const k = Math.log(hi.value / lo.value) / Math.log(1024 / 64);
  return lo.value * Math.pow(bitProduct / 64, k);
}

function piecewise(points: [number, number][], x: number): number {
  const [x0, y0] = points[0];
  const [xn, yn] = points[points.length - 1];
  if (x <= x0) return (y0 * x) / x0;
  if (x >= xn) return (yn * x) / xn;
  for (let i = 1; i < points.length; i++) {
    const [xa, ya] = points[i - 1];
    const [xb, yb] = points[i];
    if (x <= xb) return ya + ((yb - ya) * (x - xa)) / (xb - xa);
  }
  return yn;
}

function aladdinEnergy(r: Row): number {
  return r.value / ALADDIN_TO_45.energy.value;
}

function aladdinArea(r: Row): number {
  return r.value / ALADDIN_TO_45.area.value;
}
