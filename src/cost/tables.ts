/**
 * The published figures every price starts from, each row carrying the sentence that says where it
 * came from. Values are SI (joules, square metres, watts, joules per bit); picojoules and square
 * micrometres appear only in the source text, as printed in the publication.
 *
 * The rows are transcribed from ../shared/reference/energy-area.md (which tags each as [paper] or
 * [widely cited]); `vitsim cost --sources` prints all of them.
 */

/** What a row's value measures, in SI. `factor` is a dimensionless ratio. */
export type RowUnit = 'J' | 'm²' | 'W' | 'J/bit' | 'factor' | 'V';

/** One default: an SI value and where it came from. */
export interface Row {
  value: number;
  unit: RowUnit;
  source: string;
}

const pJ = 1e-12;
const um2 = 1e-12;
const uW = 1e-6;

function row(value: number, unit: RowUnit, source: string): Row {
  return { value, unit, source };
}

// ───────────────────────────── arithmetic ─────────────────────────────

/** An arithmetic unit priced from a table: dynamic energy per operation, area, and leakage where given. */
export interface UnitRow {
  energy: Row;
  area: Row;
  leakage?: Row;
}

const HOROWITZ = 'Horowitz, "Computing\'s energy problem", ISSCC 2014, 45 nm 0.9 V';
const HOROWITZ_AREA = `${HOROWITZ} (area widely cited from the talk, slide not re-read)`;

/** Integer adders and multipliers at 45 nm (Horowitz). Energy [paper], area [widely cited]. */
export const HOROWITZ_45 = {
  add8: { energy: row(0.03 * pJ, 'J', `${HOROWITZ}: int8 add 0.03 pJ`), area: row(36 * um2, 'm²', `${HOROWITZ_AREA}: int8 add 36 µm²`) },
  add16: { energy: row(0.05 * pJ, 'J', `${HOROWITZ}: int16 add 0.05 pJ`), area: row(67 * um2, 'm²', `${HOROWITZ_AREA}: int16 add 67 µm²`) },
  add32: { energy: row(0.1 * pJ, 'J', `${HOROWITZ}: int32 add 0.1 pJ`), area: row(137 * um2, 'm²', `${HOROWITZ_AREA}: int32 add 137 µm²`) },
  mult8: { energy: row(0.2 * pJ, 'J', `${HOROWITZ}: int8 mult 0.2 pJ`), area: row(282 * um2, 'm²', `${HOROWITZ_AREA}: int8 mult 282 µm²`) },
  mult32: { energy: row(3.1 * pJ, 'J', `${HOROWITZ}: int32 mult 3.1 pJ`), area: row(3495 * um2, 'm²', `${HOROWITZ_AREA}: int32 mult 3,495 µm²`) },
} satisfies Record<string, UnitRow>;

const ALADDIN = 'Aladdin component library, 40 nm, 1 ns cycle, as shipped with Accelergy\'s plug-ins';

/** The pessimistic alternative table (Aladdin, 40 nm); also the only source of leakage, registers and comparators. */
export const ALADDIN_40 = {
  adder32: {
    energy: row(0.21 * pJ, 'J', `${ALADDIN}: adder, 32 bit, 0.21 pJ`),
    area: row(278 * um2, 'm²', `${ALADDIN}: adder, 32 bit, 278 µm²`),
    leakage: row(2.4 * uW, 'W', `${ALADDIN}: adder, 32 bit, 2.4 µW leakage`),
  },
  mult32: {
    energy: row(12.68 * pJ, 'J', `${ALADDIN}: multiplier, 32×32, 12.68 pJ`),
    area: row(6350 * um2, 'm²', `${ALADDIN}: multiplier, 32×32, 6,350 µm²`),
    leakage: row(80 * uW, 'W', `${ALADDIN}: multiplier, 32×32, 80 µW leakage`),
  },
  registerBit: {
    energy: row(0.009 * pJ, 'J', `${ALADDIN}: register, per bit, 0.009 pJ per read`),
    area: row(5.98 * um2, 'm²', `${ALADDIN}: register, per bit, 5.98 µm²`),
    leakage: row(0.07 * uW, 'W', `${ALADDIN}: register, per bit, ~0.07 µW leakage`),
  },
  comparator32: {
    energy: row(0.0295 * pJ, 'J', `${ALADDIN}: comparator, 32 bit, 0.0295 pJ`),
    area: row(71 * um2, 'm²', `${ALADDIN}: comparator, 32 bit, 71 µm²`),
    leakage: row(0.025 * uW, 'W', `${ALADDIN}: comparator, 32 bit, 0.025 µW leakage`),
  },
} satisfies Record<string, UnitRow>;

// ───────────────────────────── BitFusion PEs ─────────────────────────────

/** One synthesized BitFusion PE: area, power at 500 MHz, and energy per cycle (= power / 500 MHz). */
export interface BitFusionRow {
  bits: number;
  area: Row;
  power: Row;
  energyPerCycle: Row;
}

const BITFUSION = 'Sharma et al., "Bit Fusion", ISCA 2018, authors\' synthesis at 45 nm, 500 MHz, single PE';

function bitFusion(bits: number, what: string, areaUm2: number, powerUw: number, energyPj: number): BitFusionRow {
  return {
    bits,
    area: row(areaUm2 * um2, 'm²', `${BITFUSION}: ${what}, ${areaUm2.toLocaleString('en-US')} µm²`),
    power: row(powerUw * uW, 'W', `${BITFUSION}: ${what}, ${powerUw.toLocaleString('en-US')} µW`),
    energyPerCycle: row(energyPj * pJ, 'J', `${BITFUSION}: ${what}, ${energyPj} pJ per cycle`),
  };
}

/** Fixed-precision PEs (one b×b MAC per cycle), ascending in bits. */
export const BITFUSION_FIXED_45: readonly BitFusionRow[] = [
  bitFusion(2, 'fixed 2 bit', 124.9, 31.6, 0.063),
  bitFusion(4, 'fixed 4 bit', 282.2, 67.9, 0.136),
  bitFusion(8, 'fixed 8 bit', 687.6, 171.8, 0.344),
  bitFusion(16, 'fixed 16 bit', 2203, 542.7, 1.085),
];

/** Fusion units of 2-bit bricks, by maximum operand width, ascending. */
export const BITFUSION_FUSION_45: readonly BitFusionRow[] = [
  bitFusion(4, 'fusion unit, 4 bit max, 2-bit bricks', 431.5, 92.0, 0.184),
  bitFusion(8, 'fusion unit, 8 bit max, 2-bit bricks (16 bricks)', 1733, 344.3, 0.689),
  bitFusion(16, 'fusion unit, 16 bit max, 2-bit bricks', 7492, 1440, 2.88),
];

// ───────────────────────────── DRAM ─────────────────────────────

const DRAM = 'Accelergy DRAM model (per-bit interface energy by memory type)';

/** Energy per bit moved, by memory type. DDR4 has no row: the reference gives none. */
export const DRAM_ENERGY_PER_BIT: Readonly<Record<string, Row>> = {
  LPDDR4: row(8 * pJ, 'J/bit', `${DRAM}: LPDDR4 8 pJ/bit`),
  DDR3: row(70 * pJ, 'J/bit', `${DRAM}: DDR3 70 pJ/bit`),
  GDDR5: row(14 * pJ, 'J/bit', `${DRAM}: GDDR5 14 pJ/bit`),
  HBM2: row(3.9 * pJ, 'J/bit', `${DRAM}: HBM2 3.9 pJ/bit`),
  HMC: row(4.2 * pJ, 'J/bit', `${DRAM}: HMC 4.2 pJ/bit`),
};

// ───────────────────────────── technology ─────────────────────────────

/** E ∝ a·V² + b·V + c at one node (Stillmaker & Baas' HP fits). */
export interface VddQuadratic {
  a: number;
  b: number;
  c: number;
  source: string;
}

/** One technology node: factors relative to 45 nm, and the voltage law where the paper fits one. */
export interface NodeRow {
  nm: number;
  area: Row;
  /** Missing where the reference gives none (65 nm): such a node is refused. */
  energy?: Row;
  /** The paper's quadratic for this node; interpolated nodes borrow their nearest fitted neighbour's. */
  vdd?: VddQuadratic;
  /** Nominal supply of the node: the voltage at which the quadratic reproduces the energy factor. */
  nominalVolts?: Row;
  interpolated: boolean;
}

const SB = 'Stillmaker & Baas, "Scaling equations ... from 180 nm to 7 nm", Integration 58, 2017';

function quad(nm: number, a: number, b: number, c: number): VddQuadratic {
  return { a, b, c, source: `${SB}: HP${nm} energy fit (${a}, ${b}, ${c})` };
}

/*
 * Nominal voltages are not in the reference; they are the supplies at which q_node(V)/q_45(1.0 V)
 * reproduces the tabulated energy factor (test/cost/technology.test.ts checks every node within 3%),
 * and they agree with the PTM HP nominal supplies (45 nm: 1.0 V).
 */
function nominal(nm: number, volts: number): Row {
  return row(volts, 'V', `${SB}: HP${nm} nominal Vdd ${volts} V (the supply at which the HP${nm} fit gives the tabulated energy factor)`);
}

/** Factors relative to 45 nm (Stillmaker & Baas), descending in node. */
export const NODES: readonly NodeRow[] = [
  {
    nm: 65,
    area: row(1.5, 'factor', `${SB}: 65 nm area factor 1.5`),
    interpolated: false,
  },
  {
    nm: 45,
    area: row(1, 'factor', `${SB}: 45 nm, the reference node`),
    energy: row(1, 'factor', `${SB}: 45 nm, the reference node`),
    vdd: quad(45, 1.018, -0.3107, 0.1539),
    nominalVolts: nominal(45, 1.0),
    interpolated: false,
  },
  {
    nm: 32,
    area: row(0.46, 'factor', `${SB}: 32 nm area factor 0.46`),
    energy: row(0.53, 'factor', `${SB}: 32 nm energy factor 0.53 at nominal Vdd`),
    vdd: quad(32, 0.8367, -0.4341, 0.1701),
    nominalVolts: nominal(32, 0.9),
    interpolated: false,
  },
  {
    nm: 28,
    area: row(0.37, 'factor', `interpolated, not in ${SB}: 28 nm area ≈0.37 (log-log between 32 and 20 nm, as in the reference table)`),
    energy: row(0.42, 'factor', `interpolated, not in ${SB}: 28 nm energy ≈0.42 (log-log between 32 nm 0.53 and 20 nm 0.23, by vitsim)`),
    vdd: { ...quad(32, 0.8367, -0.4341, 0.1701), source: `interpolated node: voltage law borrowed from the nearest fit, ${SB}: HP32` },
    nominalVolts: nominal(32, 0.9),
    interpolated: true,
  },
  {
    nm: 22,
    area: row(0.25, 'factor', `interpolated, not in ${SB}: 22 nm area ≈0.25 (log-log between 32 and 20 nm, as in the reference table)`),
    energy: row(0.27, 'factor', `interpolated, not in ${SB}: 22 nm energy ≈0.27 (log-log between 32 nm 0.53 and 20 nm 0.23, by vitsim)`),
    vdd: { ...quad(20, 0.373, -0.1582, 0.04104), source: `interpolated node: voltage law borrowed from the nearest fit, ${SB}: HP20` },
    nominalVolts: nominal(20, 0.9),
    interpolated: true,
  },
  {
    nm: 20,
    area: row(0.21, 'factor', `${SB}: 20 nm area factor 0.21`),
    energy: row(0.23, 'factor', `${SB}: 20 nm energy factor 0.23 at nominal Vdd`),
    vdd: quad(20, 0.373, -0.1582, 0.04104),
    nominalVolts: nominal(20, 0.9),
    interpolated: false,
  },
  {
    nm: 16,
    area: row(0.19, 'factor', `${SB}: 16 nm area factor 0.19`),
    energy: row(0.16, 'factor', `${SB}: 16 nm energy factor 0.16 at nominal Vdd`),
    vdd: quad(16, 0.2958, -0.1241, 0.03024),
    nominalVolts: nominal(16, 0.85),
    interpolated: false,
  },
  {
    nm: 14,
    area: row(0.17, 'factor', `${SB}: 14 nm area factor 0.17`),
    energy: row(0.11, 'factor', `${SB}: 14 nm energy factor 0.11 at nominal Vdd`),
    vdd: quad(14, 0.2363, -0.09675, 0.02239),
    nominalVolts: nominal(14, 0.8),
    interpolated: false,
  },
  {
    nm: 10,
    area: row(0.1, 'factor', `${SB}: 10 nm area factor 0.10`),
    energy: row(0.082, 'factor', `${SB}: 10 nm energy factor 0.082 at nominal Vdd`),
    vdd: quad(10, 0.2068, -0.09311, 0.02375),
    nominalVolts: nominal(10, 0.75),
    interpolated: false,
  },
  {
    nm: 7,
    area: row(0.059, 'factor', `${SB}: 7 nm area factor 0.059`),
    energy: row(0.056, 'factor', `${SB}: 7 nm energy factor 0.056 at nominal Vdd`),
    vdd: quad(7, 0.1776, -0.09097, 0.02447),
    nominalVolts: nominal(7, 0.7),
    interpolated: false,
  },
];

/**
 * Aladdin's rows are at 40 nm, a node the scaling table does not list. They are brought to the
 * 45 nm baseline with factors interpolated log-log between 45 and 32 nm (0.765 area, 0.803 energy).
 */
export const ALADDIN_TO_45 = {
  area: row(0.765, 'factor', `interpolated, not in ${SB}: 40 nm area ≈0.765 of 45 nm (log-log between 45 and 32 nm); Aladdin areas are divided by it`),
  energy: row(0.803, 'factor', `interpolated, not in ${SB}: 40 nm energy ≈0.803 of 45 nm (log-log between 45 and 32 nm); Aladdin energies and leakage are divided by it`),
};

/**
 * Supplies accepted when a design names its voltage. Decision (the paper's fitted range could not be
 * re-read here): 0.6–1.1 V brackets every HP nominal supply in the table (0.7 V at 7 nm to 1.0 V at
 * 45 nm) with a margin of about 0.1 V, which is where a quadratic fit of dynamic energy still means
 * something; near-threshold operation is outside what the fits describe.
 */
export const VOLTAGE_RANGE = {
  min: row(0.6, 'V', 'vitsim decision: lowest supply priced with the Stillmaker–Baas quadratics (about 0.1 V below the lowest HP nominal, 7 nm 0.7 V)'),
  max: row(1.1, 'V', 'vitsim decision: highest supply priced with the Stillmaker–Baas quadratics (0.1 V above the highest HP nominal, 45 nm 1.0 V)'),
};

/** One line of `vitsim cost --sources`; `display` replaces the value where a row is a law, not a number. */
export interface SourceLine {
  table: string;
  name: string;
  row: Row;
  display?: string;
}

/** Every default as (table, name, row), for `vitsim cost --sources`. */
export function allRows(): SourceLine[] {
  const out: SourceLine[] = [];
  const units = (table: string, units: Record<string, UnitRow>): void => {
    for (const [name, u] of Object.entries(units)) {
      out.push({ table, name: `${name} energy`, row: u.energy }, { table, name: `${name} area`, row: u.area });
      if (u.leakage) out.push({ table, name: `${name} leakage`, row: u.leakage });
    }
  };
  units('horowitz-45nm', HOROWITZ_45);
  units('aladdin-40nm', ALADDIN_40);
  out.push({ table: 'aladdin-40nm', name: '40→45 nm area', row: ALADDIN_TO_45.area }, { table: 'aladdin-40nm', name: '40→45 nm energy', row: ALADDIN_TO_45.energy });
  for (const [table, rows] of [['bitfusion-fixed-45nm', BITFUSION_FIXED_45], ['bitfusion-fusion-45nm', BITFUSION_FUSION_45]] as const) {
    for (const r of rows) {
      out.push(
        { table, name: `${r.bits}-bit area`, row: r.area },
        { table, name: `${r.bits}-bit power`, row: r.power },
        { table, name: `${r.bits}-bit energy/cycle`, row: r.energyPerCycle },
      );
    }
  }
  for (const [name, r] of Object.entries(DRAM_ENERGY_PER_BIT)) out.push({ table: 'dram', name, row: r });
  for (const n of NODES) {
    out.push({ table: 'technology', name: `${n.nm} nm area`, row: n.area });
    if (n.energy) out.push({ table: 'technology', name: `${n.nm} nm energy`, row: n.energy });
    if (n.nominalVolts) out.push({ table: 'technology', name: `${n.nm} nm nominal Vdd`, row: n.nominalVolts });
    if (n.vdd) {
      const { a, b, c, source } = n.vdd;
      out.push({ table: 'technology', name: `${n.nm} nm Vdd law`, row: row(a, 'factor', source), display: `${a}·V² ${b < 0 ? '−' : '+'} ${Math.abs(b)}·V + ${c}` });
    }
  }
  out.push({ table: 'technology', name: 'lowest Vdd', row: VOLTAGE_RANGE.min }, { table: 'technology', name: 'highest Vdd', row: VOLTAGE_RANGE.max });
  return out;
}
