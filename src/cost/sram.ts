/**
 * SRAM energy per access, leakage and area from the CACTI 7 runs in data/cacti-sram.csv
 * (single-port scratchpads, 16 KiB–4 MiB, 64- and 128-bit ports, 45/32/22 nm, itrs-hp and itrs-lstp).
 *
 * Size: for each (flavour, port width, node) the listed points are joined piecewise-linearly in
 * log(value) against log(size) — a power law between neighbours, so every listed point comes back
 * exactly; leakage and area grow about linearly in size and energy sub-linearly, which a power law
 * follows and a straight line in log(size) does not (leave-one-out, docs/cost-model.md). Outside
 * 16 KiB–4 MiB the end segment's slope is extended, and the result says so.
 * Port width: between 64 and 128 bits, the same log-log interpolation; outside, the 64→128 slope is
 * extended from the nearer width, clamped to [0, 1] — a wider port never costs less per access, and
 * never more than in proportion.
 * Node: 45, 32 and 22 nm are CACTI's own; any other node is scaled from the nearest CACTI node (in
 * log) by the Stillmaker–Baas factors of technology.ts, and the result says so.
 */
import { readFileSync } from 'node:fs';
import { nanometres, nodeScaling, type SramFlavour } from './technology.js';

export interface SramQuery {
  bytes: number;
  portBits: number;
  nodeMetres: number;
  flavour: SramFlavour;
  /** Supply voltage; absent means the node's nominal. */
  volts?: number;
}

export interface SramCost {
  readEnergyJ: number;
  writeEnergyJ: number;
  leakageW: number;
  areaM2: number;
  /** Where the answer left the CACTI points: extrapolated size or width, node scaled from another. */
  notes: string[];
}

/** One CACTI 7 run, in SI units. */
export interface CactiPoint {
  config: string;
  flavour: SramFlavour;
  bytes: number;
  portBits: number;
  nm: number;
  readEnergyJ: number;
  writeEnergyJ: number;
  leakageW: number;
  areaM2: number;
}

export type SramQuantity = 'readEnergyJ' | 'writeEnergyJ' | 'leakageW' | 'areaM2';
export const SRAM_QUANTITIES: readonly SramQuantity[] = ['readEnergyJ', 'writeEnergyJ', 'leakageW', 'areaM2'];

export const CACTI_NODES_NM: readonly number[] = [45, 32, 22];
export const CACTI_PORT_BITS: readonly number[] = [64, 128];

/** The modelled cost of one SRAM. */
export function sramCost(q: SramQuery): SramCost {
  const notes: string[] = [];
  const nm = nanometres(q.nodeMetres);
  const cactiNm = nearestCactiNode(nm);
  const target = nodeScaling(q.nodeMetres, q.volts);
  const base = nodeScaling(cactiNm * 1e-9);
  if (cactiNm !== nm) {
    notes.push(
      `${nm} nm is not a CACTI node: scaled from CACTI ${cactiNm} nm by Stillmaker–Baas factors (energy ×${round(target.energyFactor / base.energyFactor)}, area ×${round(target.areaFactor / base.areaFactor)})`,
    );
  } else if (q.volts !== undefined) {
    notes.push(`supply ${q.volts} V: dynamic energy ×${round(target.voltageFactor)} by the Stillmaker–Baas voltage fit`);
  }
  const points = cactiPoints().filter((p) => p.flavour === q.flavour && p.nm === cactiNm);
  const sizeNotes = new Set<string>();
  const widthNotes = new Set<string>();
  const at = (quantity: SramQuantity): number => {
    const byWidth = CACTI_PORT_BITS.map((w) => {
      const series = points.filter((p) => p.portBits === w).map((p): [number, number] => [p.bytes, p[quantity]]);
      const r = logLog(series, q.bytes);
      if (r.extrapolated) sizeNotes.add(`${q.bytes} bytes is ${r.extrapolated} the CACTI sizes (16 KiB–4 MiB): extrapolated with the end segment's log-log slope`);
      return r.value;
    });
    return acrossWidth(byWidth[0], byWidth[1], q.portBits, widthNotes);
  };
  const energy = target.energyFactor / base.energyFactor;
  const leakage = target.leakageFactor / base.leakageFactor;
  const area = target.areaFactor / base.areaFactor;
  const cost = {
    readEnergyJ: at('readEnergyJ') * energy,
    writeEnergyJ: at('writeEnergyJ') * energy,
    leakageW: at('leakageW') * leakage,
    areaM2: at('areaM2') * area,
  };
  return { ...cost, notes: [...notes, ...sizeNotes, ...widthNotes] };
}

/** The CACTI node a node is scaled from: the nearest in log(size). */
export function nearestCactiNode(nm: number): number {
  return CACTI_NODES_NM.reduce((best, n) => (Math.abs(Math.log(n / nm)) < Math.abs(Math.log(best / nm)) ? n : best));
}

/**
 * Piecewise power law through `points` (x ascending after sorting): exact at every point, the end
 * segments' slopes beyond them.
 */
export function logLog(points: [number, number][], x: number): { value: number; extrapolated?: 'below' | 'above' } {
  const sorted = [...points].sort((a, b) => a[0] - b[0]);
  const n = sorted.length;
  const segment = (i: number): number => {
    const [x0, y0] = sorted[i];
    const [x1, y1] = sorted[i + 1];
    const t = Math.log(x / x0) / Math.log(x1 / x0);
    return Math.exp(Math.log(y0) + t * Math.log(y1 / y0));
  };
  if (x < sorted[0][0]) return { value: segment(0), extrapolated: 'below' };
  if (x > sorted[n - 1][0]) return { value: segment(n - 2), extrapolated: 'above' };
  for (let i = 0; i < n - 1; i++) if (x <= sorted[i + 1][0]) return { value: segment(i) };
  return { value: sorted[n - 1][1] };
}

function acrossWidth(at64: number, at128: number, portBits: number, notes: Set<string>): number {
  if (portBits === 64) return at64;
  if (portBits === 128) return at128;
  const slope = Math.log(at128 / at64) / Math.log(2);
  if (portBits > 64 && portBits < 128) return at64 * Math.pow(portBits / 64, slope);
  notes.add(`a ${portBits}-bit port is outside CACTI's 64–128 bits: extrapolated from the nearer width with the 64→128 log-log slope clamped to [0, 1]`);
  const clamped = Math.min(1, Math.max(0, slope));
  return portBits < 64 ? at64 * Math.pow(portBits / 64, clamped) : at128 * Math.pow(portBits / 128, clamped);
}

let cache: CactiPoint[] | undefined;

/**
 * The CACTI points, read once. The CSV is shipped data, found from the package root so the same path
 * works from src/ (tests) and dist/ (the built CLI): tsc does not copy non-TypeScript files.
 */
export function cactiPoints(): CactiPoint[] {
  if (cache) return cache;
  const text = readFileSync(new URL('../../src/cost/data/cacti-sram.csv', import.meta.url), 'utf8');
  const [header, ...lines] = text.trim().split('\n');
  const columns = header.split(',');
  const col = (name: string): number => {
    const i = columns.indexOf(name);
    if (i < 0) throw new Error(`cacti-sram.csv: no column ${name}`);
    return i;
  };
  const c = {
    config: col('config'), flavour: col('flavour'), bytes: col('size_bytes'), port: col('port_bits'), nm: col('tech_nm'),
    read: col('read_pJ_per_access'), write: col('write_pJ_per_access'), leak: col('standby_leakage_mW'), area: col('area_mm2'),
  };
  cache = lines.map((line) => {
    const f = line.split(',');
    const num = (i: number): number => Number(f[i]);
    return {
      config: f[c.config],
      flavour: flavour(f[c.flavour]),
      bytes: num(c.bytes),
      portBits: num(c.port),
      nm: num(c.nm),
      readEnergyJ: num(c.read) * 1e-12,
      writeEnergyJ: num(c.write) * 1e-12,
      // standby_leakage_mW is sub-threshold plus gate leakage (leakage_mW + gate_leakage_mW).
      leakageW: num(c.leak) * 1e-3,
      areaM2: num(c.area) * 1e-6,
    };
  });
  return cache;
}

function flavour(text: string): SramFlavour {
  if (text !== 'hp' && text !== 'lstp') throw new Error(`cacti-sram.csv: unknown flavour ${text}`);
  return text;
}

function round(x: number): number {
  return Number(x.toPrecision(3));
}
