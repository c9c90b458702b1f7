/**
 * The closed-form SCALE-Sim model against a literal replay of what SCALE-Sim v2 does: build its
 * demand matrices element by element (one row per cycle, with its prefixes, suffixes, skews and
 * flips), stream them through its CALC-mode buffers (read buffers that keep sets of missed addresses
 * and flush half at a time; a write buffer that packs results into lines and drains half at a time),
 * and count. Small random shapes and tiny SRAMs exercise partial folds and many flushes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Dataflow } from '../../src/hw/arch.js';
import type { ScaleSimConfig } from '../../src/hw/scalesim/config.js';
import { simulateScaleSim } from '../../src/hw/scalesim/model.js';

type Demand = number[][];

interface Replay {
  computeCycles: number;
  mappingEfficiencyPct: number;
  computeUtilPct: number;
  sram: { ifmap: number; filter: number; ofmap: number };
  sramCycles: number[];
  dram: { count: number; startCycle: number; stopCycle: number }[];
}

function replay(config: ScaleSimConfig, m: number, k: number, n: number): Replay {
  const R = config.arrayRows;
  const C = config.arrayCols;
  const df = config.dataflow;
  const ifmapAddr = (mi: number, ki: number) => config.ifmapOffset + mi * k + ki;
  const filterAddr = (ki: number, ni: number) => config.filterOffset + ki * n + ni;
  const ofmapAddr = (mi: number, ni: number) => config.ofmapOffset + mi * n + ni;
  const [Sr, Sc, T] = df === 'os' ? [m, n, k] : df === 'ws' ? [k, n, m] : [k, m, n];
  const rowFolds = Math.ceil(Sr / R);
  const colFolds = Math.ceil(Sc / C);
  const ifmap: Demand = [];
  const filter: Demand = [];
  const ofmap: Demand = [];
  let effSum = 0;
  let utilSum = 0;
  const empty = (rows: number, lanes: number): Demand => Array.from({ length: rows }, () => new Array<number>(lanes).fill(-1));
  const skew = (mat: Demand): Demand => {
    const lanes = mat[0].length;
    const out = empty(mat.length + lanes - 1, lanes);
    mat.forEach((row, r) => row.forEach((v, c) => (out[r + c][c] = v)));
    return out;
  };
  const grid = (rows: number, lanes: number, at: (r: number, c: number) => number | undefined): Demand =>
    Array.from({ length: rows }, (_, r) => Array.from({ length: lanes }, (_, c) => at(r, c) ?? -1));
  for (let fcI = 0; fcI < colFolds; fcI++) {
    for (let fr = 0; fr < rowFolds; fr++) {
      const u = Math.min(R, Sr - fr * R);
      const v = Math.min(C, Sc - fcI * C);
      let i: Demand;
      let f: Demand;
      let o: Demand;
      let utilFoldCycles: number;
      if (df === 'os') {
        i = skew([...grid(T, R, (t, c) => (c < u ? ifmapAddr(fr * R + c, t) : undefined)), ...empty(C - 1, R)]);
        f = skew([...grid(T, C, (t, c) => (c < v ? filterAddr(t, fcI * C + c) : undefined)), ...empty(R - 1, C)]);
        const tile = grid(R, C, (r, c) => (r < u && c < v ? ofmapAddr(fr * R + r, fcI * C + c) : undefined)).reverse();
        o = skew([...empty(T - 1, C), ...tile]);
        utilFoldCycles = T - 1 + R + C - 1;
      } else if (df === 'ws') {
        i = skew([...empty(R, R), ...grid(T, R, (t, c) => (c < u ? ifmapAddr(t, fr * R + c) : undefined)), ...empty(C - 1, R)]);
        const tile = grid(R, C, (r, c) => (r < u && c < v ? filterAddr(fr * R + r, fcI * C + c) : undefined)).reverse();
        f = [...tile, ...empty(R + C + T - 2, C)];
        o = skew([...empty(2 * R - 1, C), ...grid(T, C, (t, c) => (c < v ? ofmapAddr(t, fcI * C + c) : undefined))]);
        utilFoldCycles = f.length + C - 1;
      } else {
        const tile = grid(R, C, (r, c) => (r < u && c < v ? ifmapAddr(fcI * C + c, fr * R + r) : undefined)).reverse();
        i = [...tile, ...empty(R + C + T - 2, C)];
        f = skew([...empty(R, R), ...grid(T, R, (t, c) => (c < u ? filterAddr(fr * R + c, t) : undefined)), ...empty(C - 1, R)]);
        o = skew([...empty(2 * R - 1, C), ...grid(T, C, (t, c) => (c < v ? ofmapAddr(fcI * C + c, t) : undefined))]);
        utilFoldCycles = i.length + C - 1;
      }
      expect(i.length).toBe(f.length);
      expect(o.length).toBe(f.length);
      ifmap.push(...i);
      filter.push(...f);
      ofmap.push(...o);
      effSum += (u * v) / (R * C);
      utilSum += (u * v * T) / (R * C * utilFoldCycles);
    }
  }
  const folds = rowFolds * colFolds;
  const count = (d: Demand) => d.reduce((s, row) => s + row.filter((a) => a !== -1).length, 0);
  const lines = ofmap.length;
  const first = (d: Demand) => d.findIndex((row) => row.some((a) => a !== -1));
  const last = (d: Demand) => lines - 1 - [...d].reverse().findIndex((row) => row.some((a) => a !== -1));
  const ofmapWrites = count(ofmap) + (df === 'os' ? folds * (R + C) : 0);
  return {
    computeCycles: lines - 1,
    mappingEfficiencyPct: (effSum / folds) * 100,
    computeUtilPct: (utilSum / folds) * 100,
    sram: { ifmap: count(ifmap), filter: count(filter), ofmap: ofmapWrites },
    sramCycles: [first(ifmap) + 1, last(ifmap) + 1, first(filter) + 1, last(filter) + 1, first(ofmap), last(ofmap)],
    dram: [readBuffer(ifmap, config.ifmapSramKB), readBuffer(filter, config.filterSramKB), writeBuffer(ofmap, config.ofmapSramKB, C)],
  };
}

/** SCALE-Sim's bandwidth-estimating read buffer, replayed address by address. */
function readBuffer(demand: Demand, kB: number) {
  const bandwidth = 10;
  const setWords = Math.floor((kB * 1024) / 100);
  const sets: (Set<number> | null)[] = [];
  let current = new Set<number>();
  let currentId = 0;
  let readStart = 0;
  let readEnd = 49;
  let prefetchStart = -1;
  let prefetchEnd = -1;
  let prefetchDone = false;
  let firstRequest = -1;
  let lastStart = -2;
  let lastEnd = -1;
  let reads = 0;
  let traceStart: number | undefined;
  let traceStop = 0;
  const prefetch = (from: number, to: number) => {
    for (let s = from; s <= to; s++) reads += sets[s]?.size ?? 0;
    traceStart ??= lastStart + 1;
    traceStop = lastEnd + 1;
  };
  demand.forEach((row, cycle) => {
    for (const addr of row) {
      if (addr === -1) continue;
      if (firstRequest < 0) firstRequest = cycle;
      let hit = false;
      for (let s = readStart; s < Math.min(currentId, readEnd + 1); s++) if (sets[s]?.has(addr)) hit = true;
      if (hit || current.has(addr)) continue;
      current.add(addr);
      if (current.size < setWords) continue;
      sets.push(current);
      current = new Set();
      currentId++;
      if (currentId !== readEnd + 1) continue;
      if (!prefetchDone) {
        lastEnd = firstRequest - 2;
        lastStart = lastEnd - Math.ceil((50 * setWords) / bandwidth) + 1;
        prefetch(0, 49);
        prefetchStart = readEnd + 1;
        prefetchEnd = prefetchStart + 49;
        prefetchDone = true;
      } else {
        prefetch(prefetchStart, prefetchEnd);
        prefetchStart += 50;
        prefetchEnd += 50;
      }
      for (let s = readStart; s < readStart + 50; s++) sets[s] = null;
      readStart += 50;
      readEnd += 50;
      lastStart = lastEnd + 1;
      lastEnd = cycle;
    }
  });
  if (current.size > 0) sets.push(current);
  else currentId--;
  if (!prefetchDone) {
    lastEnd = -2;
    lastStart = lastEnd - Math.ceil(((currentId + 1) * setWords) / bandwidth) + 1;
    prefetch(0, currentId);
  } else {
    prefetch(prefetchStart, currentId);
  }
  return { count: reads, startCycle: traceStart ?? 0, stopCycle: traceStop };
}

/** SCALE-Sim's ofmap write buffer in CALC mode (lines as wide as the array), replayed result by result. */
function writeBuffer(demand: Demand, kB: number, width: number) {
  const total = kB * 1024;
  const drainWords = total - Math.ceil(total * 0.5);
  const linesPerDrain = Math.ceil(drainWords / width);
  const lines: number[] = [];
  let partial = 0;
  let free = total;
  let drained = 0;
  let writes = 0;
  let drainEnd = 0;
  const cycles: number[] = [];
  const drain = (cycle: number) => {
    const take = lines.slice(drained, drained + linesPerDrain);
    drained += take.length;
    const words = take.length * width - (width - take[take.length - 1]);
    writes += words;
    free += words;
    take.forEach((_, i) => cycles.push(cycle + i));
    return cycle + take.length - 1;
  };
  let lastCycle = 0;
  demand.forEach((row, cycle) => {
    lastCycle = cycle;
    for (const addr of row) {
      if (addr === -1) continue;
      partial++;
      free--;
      if (partial === width) {
        lines.push(width);
        partial = 0;
      }
      if (cycle >= drainEnd && free < total - drainWords) {
        if (partial > 0) lines.push(partial);
        partial = 0;
        drainEnd = drain(cycle);
      }
    }
  });
  if (partial > 0) lines.push(partial);
  let cycle = lastCycle;
  while (drained < lines.length) cycle = drain(cycle) + 1;
  // SCALE-Sim reports the first and the last drain cycle in the order the drains were issued.
  return { count: writes, startCycle: cycles[0], stopCycle: cycles[cycles.length - 1] };
}

const shape = fc.record({
  rows: fc.integer({ min: 1, max: 9 }),
  cols: fc.integer({ min: 1, max: 9 }),
  dataflow: fc.constantFrom<Dataflow>('os', 'ws', 'is'),
  m: fc.integer({ min: 1, max: 40 }),
  k: fc.integer({ min: 1, max: 40 }),
  n: fc.integer({ min: 1, max: 40 }),
  sram: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
});

function configOf(g: fc.Arbitrary<unknown> extends never ? never : { rows: number; cols: number; dataflow: Dataflow; sram: [number, number, number] }): ScaleSimConfig {
  return {
    runName: 'replay', arrayRows: g.rows, arrayCols: g.cols, ifmapSramKB: g.sram[0], filterSramKB: g.sram[1], ofmapSramKB: g.sram[2],
    ifmapOffset: 0, filterOffset: 10_000_000, ofmapOffset: 20_000_000, dataflow: g.dataflow, interfaceBandwidth: 'CALC', bandwidthWordsPerCycle: undefined,
  };
}

describe('closed-form SCALE-Sim model against a replay of SCALE-Sim', () => {
  it('agrees on cycles, utilisations and SRAM counts for every small shape', () => {
    fc.assert(
      fc.property(shape, (g) => {
        const config = configOf(g);
        const want = replay(config, g.m, g.k, g.n);
        const got = simulateScaleSim(config, { m: g.m, k: g.k, n: g.n });
        expect(got.computeCycles).toBe(want.computeCycles);
        expect(got.mappingEfficiencyPct).toBe(want.mappingEfficiencyPct);
        expect(got.computeUtilPct).toBe(want.computeUtilPct);
        expect([got.sram.ifmap.count, got.sram.filter.count, got.sram.ofmap.count]).toEqual([want.sram.ifmap, want.sram.filter, want.sram.ofmap]);
        expect([got.sram.ifmap.startCycle, got.sram.ifmap.stopCycle, got.sram.filter.startCycle, got.sram.filter.stopCycle, got.sram.ofmap.startCycle, got.sram.ofmap.stopCycle]).toEqual(want.sramCycles);
      }),
      { numRuns: 120 },
    );
  });

  it('agrees on DRAM reads and their first and last cycles through tiny, often-flushed SRAMs', () => {
    fc.assert(
      fc.property(shape, (g) => {
        const config = configOf(g);
        const want = replay(config, g.m, g.k, g.n);
        const got = simulateScaleSim(config, { m: g.m, k: g.k, n: g.n });
        expect(got.dram.ifmap).toEqual(want.dram[0]);
        expect(got.dram.filter).toEqual(want.dram[1]);
      }),
      { numRuns: 120 },
    );
  });

  it('agrees on DRAM writes and their first and last cycles, drains that outlast the layer included', () => {
    fc.assert(
      fc.property(shape, (g) => {
        const config = configOf(g);
        const want = replay(config, g.m, g.k, g.n);
        const got = simulateScaleSim(config, { m: g.m, k: g.k, n: g.n });
        expect(got.dram.ofmap).toEqual(want.dram[2]);
      }),
      { numRuns: 120 },
    );
  });
});
