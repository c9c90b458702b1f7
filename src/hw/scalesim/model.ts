/**
 * SCALE-Sim v2's view of one GEMM, computed in closed form instead of by replaying operand traces:
 * the same cycle counts, utilisations, SRAM and DRAM access counts and start/stop cycles that
 * SCALE-Sim writes to COMPUTE_REPORT.csv, BANDWIDTH_REPORT.csv and DETAILED_ACCESS_REPORT.csv, in its
 * counting conventions and with its quirks (docs/scalesim-compat.md lists each one and its formula).
 *
 * What is exact (checked against 237 reference runs in test/hw/scalesim-reference.test.ts): compute
 * cycles, mapping efficiency, compute utilisation, overall utilisation, SRAM reads/writes, and in
 * CALC mode the DRAM reads and writes with their start/stop cycles. USER-mode stalls are vitsim's own
 * bandwidth estimate, not SCALE-Sim's prefetcher (see `userModeStallCycles`).
 */
import { foldMapping, type FoldMapping } from '../fold.js';
import type { Gemm } from '../gemm.js';
import type { ScaleSimConfig } from './config.js';

/** Accesses to one buffer and the cycles of the first and the last. */
export interface Accesses {
  count: number;
  startCycle: number;
  stopCycle: number;
}

export interface OperandAccesses {
  ifmap: Accesses;
  filter: Accesses;
  ofmap: Accesses;
}

/** Words per cycle, averaged the way SCALE-Sim's BANDWIDTH_REPORT does. */
export interface OperandBandwidths {
  ifmap: number;
  filter: number;
  ofmap: number;
}

/** Every figure SCALE-Sim reports for one layer. Percentages are 0–100, as in its reports. */
export interface ScaleSimResult {
  gemm: Gemm;
  mapping: FoldMapping;
  /** Total cycles SCALE-Sim reports (compute + stalls). */
  totalCycles: number;
  stallCycles: number;
  /** Total minus stalls: folds × cycles per fold − 1 (SCALE-Sim counts the last cycle's index). */
  computeCycles: number;
  overallUtilPct: number;
  mappingEfficiencyPct: number;
  computeUtilPct: number;
  /** SRAM accesses by the array: ifmap and filter reads, ofmap writes. */
  sram: OperandAccesses;
  /** DRAM traffic of the three buffers: ifmap and filter reads, ofmap writes. */
  dram: OperandAccesses;
  sramBandwidth: OperandBandwidths;
  dramBandwidth: OperandBandwidths;
}

/** SCALE-Sim's read buffers in CALC mode refill at this many words per cycle ("arbitrary", says its source). */
const CALC_READ_BANDWIDTH = 10;
/** SCALE-Sim splits each read SRAM into 100 sets; half are active, half prefetch. */
const SETS_PER_BUFFER = 100;
const ACTIVE_SETS = 50;
/** Python's sum() adds left to right; above this many folds the closed-form mean is used instead. */
const MAX_FOLDS_SUMMED = 1 << 22;
/** Irregular ofmap drains are stepped one by one up to this many (see approximateWriteTraffic). */
const MAX_DRAINS_STEPPED = 20_000;

/** The SCALE-Sim view of `gemm` under `config`. Pure; microseconds per call. */
export function simulateScaleSim(config: ScaleSimConfig, gemm: Gemm): ScaleSimResult {
  const mapping = foldMapping(gemm, { rows: config.arrayRows, cols: config.arrayCols, dataflow: config.dataflow });
  const { rows, cols, folds, cyclesPerFold } = mapping;
  const computeCycles = folds * cyclesPerFold - 1;
  const { mappingEfficiency, computeUtilisation } = foldAverages(mapping);
  const streams = operandStreams(mapping, gemm);

  const sramCounts = sramAccessCounts(mapping);
  const user = config.interfaceBandwidth === 'USER';
  const readBandwidth = user ? (config.bandwidthWordsPerCycle ?? CALC_READ_BANDWIDTH) : CALC_READ_BANDWIDTH;
  const ifmapDram = readBufferTraffic(streams.ifmap, config.ifmapSramKB, readBandwidth);
  const filterDram = readBufferTraffic(streams.filter, config.filterSramKB, readBandwidth);

  const stallCycles = user
    ? userModeStallCycles(computeCycles, config, [ifmapDram, filterDram], streams.ofmap)
    : 0;
  const totalCycles = computeCycles + stallCycles;
  const ofmapDram = writeBufferTraffic(streams.ofmap, config.ofmapSramKB, user ? (config.bandwidthWordsPerCycle ?? cols) : cols, totalCycles);

  const sram: OperandAccesses = {
    // The read SRAMs answer one cycle after the request (hit latency 1); ofmap writes are logged at the request cycle.
    ifmap: { count: sramCounts.ifmap, startCycle: streams.ifmap.firstCycle + 1, stopCycle: streams.ifmap.lastCycle + 1 },
    filter: { count: sramCounts.filter, startCycle: streams.filter.firstCycle + 1, stopCycle: streams.filter.lastCycle + 1 },
    ofmap: { count: sramCounts.ofmap, startCycle: streams.ofmap.firstCycle, stopCycle: streams.ofmap.lastCycle },
  };
  const dram: OperandAccesses = { ifmap: ifmapDram, filter: filterDram, ofmap: ofmapDram };
  return {
    gemm,
    mapping,
    totalCycles,
    stallCycles,
    computeCycles,
    overallUtilPct: (gemm.m * gemm.n * gemm.k * 100) / (totalCycles * rows * cols),
    mappingEfficiencyPct: mappingEfficiency * 100,
    computeUtilPct: computeUtilisation * 100,
    sram,
    dram,
    sramBandwidth: {
      ifmap: sram.ifmap.count / totalCycles,
      filter: sram.filter.count / totalCycles,
      ofmap: sram.ofmap.count / totalCycles,
    },
    dramBandwidth: {
      ifmap: dram.ifmap.count / (dram.ifmap.stopCycle - dram.ifmap.startCycle + 1),
      filter: dram.filter.count / (dram.filter.stopCycle - dram.filter.startCycle + 1),
      ofmap: dram.ofmap.count / (dram.ofmap.stopCycle - dram.ofmap.startCycle + 1),
    },
  };
}

/**
 * SCALE-Sim's mapping efficiency and compute utilisation: per-fold ratios averaged over folds, summed
 * in its fold order (column fold outer) so the floating-point result is bit-identical.
 * Quirk: for ws/is the per-fold utilisation divides by a fold C − 1 cycles longer than the one the
 * cycle count uses (it measures the filter demand matrix, which carries extra drain rows).
 */
export function foldAverages(mapping: FoldMapping): { mappingEfficiency: number; computeUtilisation: number } {
  const { rows, cols, rowFolds, colFolds, folds, temporal, cyclesPerFold, dataflow } = mapping;
  const utilFoldCycles = dataflow === 'os' ? cyclesPerFold : cyclesPerFold + cols - 1;
  const pes = rows * cols;
  if (folds > MAX_FOLDS_SUMMED) {
    const used = mapping.spatialRows * mapping.spatialCols;
    return { mappingEfficiency: used / (folds * pes), computeUtilisation: (used * temporal) / (folds * pes * utilFoldCycles) };
  }
  // Only the last row fold and the last column fold are partial: four distinct per-fold values.
  const { lastFoldRows, lastFoldCols } = mapping;
  const effFull = (rows * cols) / pes;
  const utilFull = (rows * cols * temporal) / (pes * utilFoldCycles);
  const effRowEnd = (lastFoldRows * cols) / pes;
  const utilRowEnd = (lastFoldRows * cols * temporal) / (pes * utilFoldCycles);
  const effColEnd = (rows * lastFoldCols) / pes;
  const utilColEnd = (rows * lastFoldCols * temporal) / (pes * utilFoldCycles);
  const effCorner = (lastFoldRows * lastFoldCols) / pes;
  const utilCorner = (lastFoldRows * lastFoldCols * temporal) / (pes * utilFoldCycles);
  let eff = 0;
  let util = 0;
  for (let fc = 0; fc < colFolds - 1; fc++) {
    for (let fr = 0; fr < rowFolds - 1; fr++) {
      eff += effFull;
      util += utilFull;
    }
    eff += effRowEnd;
    util += utilRowEnd;
  }
  for (let fr = 0; fr < rowFolds - 1; fr++) {
    eff += effColEnd;
    util += utilColEnd;
  }
  eff += effCorner;
  util += utilCorner;
  return { mappingEfficiency: eff / folds, computeUtilisation: util / folds };
}

/**
 * SRAM accesses as SCALE-Sim counts them: every element of every fold's demand, so an operand that
 * is re-streamed for each fold along the other array side is counted each time.
 * Quirks: os adds (R + C) ofmap writes per fold on top of the M·N results; ws and is write every
 * K-fold's partial sums (rowFolds · M · N) and never count reading them back.
 */
export function sramAccessCounts(mapping: FoldMapping): { ifmap: number; filter: number; ofmap: number } {
  const { dataflow, rowFolds, colFolds, folds, rows, cols, spatialRows, spatialCols, temporal } = mapping;
  if (dataflow === 'os') {
    // Sr = M, Sc = N, T = K.
    return { ifmap: colFolds * spatialRows * temporal, filter: rowFolds * temporal * spatialCols, ofmap: spatialRows * spatialCols + folds * (rows + cols) };
  }
  if (dataflow === 'ws') {
    // Sr = K, Sc = N, T = M.
    return { ifmap: colFolds * temporal * spatialRows, filter: spatialRows * spatialCols, ofmap: rowFolds * temporal * spatialCols };
  }
  // is: Sr = K, Sc = M, T = N.
  return { ifmap: spatialRows * spatialCols, filter: colFolds * spatialRows * temporal, ofmap: rowFolds * spatialCols * temporal };
}

// ---------------------------------------------------------------------------------------------
// Operand streams: when, within a fold, each demanded element reaches the SRAM port.

/**
 * The demand one fold puts on a buffer, as SCALE-Sim lays out its demand matrices (one row per cycle):
 * - `skew`: `rows` waves of `cols` lanes, lane c delayed by c cycles (systolic skew), starting `pre`
 *   cycles into the fold; within a cycle lanes are served in order.
 * - `flat`: `lines` cycles of `perLine` elements each, starting `pre` cycles into the fold.
 */
type FoldDemand = { kind: 'skew'; pre: number; rows: number; cols: number } | { kind: 'flat'; pre: number; lines: number; perLine: number };

/**
 * A run of `size` distinct addresses read `passes` times back to back, and `repeat` such runs of
 * other addresses one after the other: the reuse pattern of one operand.
 */
interface Block {
  size: number;
  passes: number;
  repeat: number;
}

interface Stream {
  mapping: FoldMapping;
  /** Fold demands: full, last row fold, last column fold, both last (see variantIndex). */
  variants: FoldDemand[];
  counts: number[];
  /** Elements of a whole column fold that is not the last one, and of the whole stream. */
  perColFold: number;
  count: number;
  /** Most elements any one cycle of any fold serves. */
  maxPerCycle: number;
  /** The operand's reuse pattern in stream order; read streams only. */
  blocks: Block[];
  firstCycle: number;
  lastCycle: number;
}

type Operand = 'ifmap' | 'filter' | 'ofmap';

function operandStreams(mapping: FoldMapping, { m: M, k: K, n: N }: Gemm): { ifmap: Stream; filter: Stream; ofmap: Stream } {
  const { rowFolds, colFolds, dataflow } = mapping;
  let ifmapBlocks: Block[];
  let filterBlocks: Block[];
  if (dataflow === 'os') {
    // The whole ifmap is re-streamed for every column fold; each filter column block for every row fold.
    ifmapBlocks = [{ size: M * K, passes: colFolds, repeat: 1 }];
    filterBlocks = [
      { size: K * mapping.cols, passes: rowFolds, repeat: colFolds - 1 },
      { size: K * mapping.lastFoldCols, passes: rowFolds, repeat: 1 },
    ];
  } else if (dataflow === 'ws') {
    // The ifmap is re-streamed for every column fold; each weight tile is loaded once.
    ifmapBlocks = [{ size: M * K, passes: colFolds, repeat: 1 }];
    filterBlocks = [{ size: K * N, passes: 1, repeat: 1 }];
  } else {
    ifmapBlocks = [{ size: M * K, passes: 1, repeat: 1 }];
    filterBlocks = [{ size: K * N, passes: colFolds, repeat: 1 }];
  }
  return { ifmap: stream(mapping, 'ifmap', ifmapBlocks), filter: stream(mapping, 'filter', filterBlocks), ofmap: stream(mapping, 'ofmap', []) };
}

/** What one fold using `usedRows` × `usedCols` of the array demands of one buffer. */
function buildFoldDemand(mapping: FoldMapping, operand: Operand, usedRows: number, usedCols: number): FoldDemand {
  const { rows: R, temporal: T, dataflow } = mapping;
  if (dataflow === 'os') {
    // Rows of the ifmap enter from the left, columns of the filter from the top, both skewed;
    // results leave bottom row first after the T − 1 cycles of accumulation.
    if (operand === 'ifmap') return { kind: 'skew', pre: 0, rows: T, cols: usedRows };
    if (operand === 'filter') return { kind: 'skew', pre: 0, rows: T, cols: usedCols };
    return { kind: 'skew', pre: T - 1 + R - usedRows, rows: usedRows, cols: usedCols };
  }
  // ws and is: R cycles to load the stationary tile (bottom row first), then the other operand
  // streams skewed; partial sums leave after 2R − 1 cycles.
  if (operand === 'ofmap') return { kind: 'skew', pre: 2 * R - 1, rows: T, cols: usedCols };
  const stationary = dataflow === 'ws' ? 'filter' : 'ifmap';
  if (operand === stationary) return { kind: 'flat', pre: R - usedRows, lines: usedRows, perLine: usedCols };
  return { kind: 'skew', pre: R, rows: T, cols: usedRows };
}

function stream(mapping: FoldMapping, operand: Operand, blocks: Block[]): Stream {
  // Only the last row fold and the last column fold are partial: four fold shapes, built once.
  const { rows, cols, lastFoldRows, lastFoldCols, rowFolds, colFolds } = mapping;
  const variants = [
    buildFoldDemand(mapping, operand, rows, cols),
    buildFoldDemand(mapping, operand, lastFoldRows, cols),
    buildFoldDemand(mapping, operand, rows, lastFoldCols),
    buildFoldDemand(mapping, operand, lastFoldRows, lastFoldCols),
  ];
  const counts = [demandCount(variants[0]), demandCount(variants[1]), demandCount(variants[2]), demandCount(variants[3])];
  let maxPerCycle = 0;
  for (const d of variants) maxPerCycle = Math.max(maxPerCycle, d.kind === 'skew' ? Math.min(d.rows, d.cols) : d.perLine);
  const perColFold = (rowFolds - 1) * counts[0] + counts[1];
  return {
    mapping,
    variants,
    counts,
    perColFold,
    count: (colFolds - 1) * perColFold + (rowFolds - 1) * counts[2] + counts[3],
    maxPerCycle,
    blocks,
    firstCycle: firstLine(variants[rowFolds === 1 ? (colFolds === 1 ? 3 : 1) : colFolds === 1 ? 2 : 0]),
    lastCycle: (mapping.folds - 1) * mapping.cyclesPerFold + lastLine(variants[3]),
  };
}

/** The demand of fold (rowFold, colFold). */
function foldDemand(s: Stream, rowFold: number, colFold: number): FoldDemand {
  return s.variants[variantIndex(s, rowFold, colFold)];
}

/** Elements in a fold of column fold `colFold` that is not the last row fold. */
function perFold(s: Stream, colFold: number): number {
  return s.counts[colFold === s.mapping.colFolds - 1 ? 2 : 0];
}

function variantIndex(s: Stream, rowFold: number, colFold: number): number {
  return (rowFold === s.mapping.rowFolds - 1 ? 1 : 0) + (colFold === s.mapping.colFolds - 1 ? 2 : 0);
}

function demandCount(d: FoldDemand): number {
  return d.kind === 'skew' ? d.rows * d.cols : d.lines * d.perLine;
}

function firstLine(d: FoldDemand): number {
  return d.pre;
}

function lastLine(d: FoldDemand): number {
  return d.kind === 'skew' ? d.pre + d.rows + d.cols - 2 : d.pre + d.lines - 1;
}

/** Elements a skewed demand serves before cycle `line` of its own timeline: Σ_c clamp(line − c, 0, rows). */
function skewServedBefore(rows: number, cols: number, line: number): number {
  // Lanes c < line − rows are done (rows each); lanes line − rows ≤ c < min(line, cols) are part-way.
  const done = Math.min(cols, Math.max(0, line - rows));
  const partEnd = Math.min(cols, line);
  const n = partEnd - done;
  // Σ_{c=done}^{partEnd−1} (line − c)
  const partial = n > 0 ? n * line - (n * (done + partEnd - 1)) / 2 : 0;
  return done * rows + partial;
}

/** Cycle within its fold at which the fold's element number `index` (0-based, service order) is served. */
function lineOfElement(d: FoldDemand, index: number): number {
  if (d.kind === 'flat') return d.pre + Math.floor(index / d.perLine);
  let lo = 0;
  let hi = d.rows + d.cols - 2;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (skewServedBefore(d.rows, d.cols, mid + 1) > index) hi = mid;
    else lo = mid + 1;
  }
  return d.pre + lo;
}

/** Cycle at which element number `index` (0-based) of the whole stream is served, without stalls. */
function cycleOfElement(s: Stream, index: number): number {
  const { rowFolds, colFolds, cyclesPerFold } = s.mapping;
  const fc = colFolds === 1 ? 0 : Math.min(Math.floor(index / s.perColFold), colFolds - 1);
  let rest = index - fc * s.perColFold;
  const full = perFold(s, fc);
  const fr = rowFolds === 1 ? 0 : Math.min(Math.floor(rest / full), rowFolds - 1);
  rest -= fr * full;
  return (fc * rowFolds + fr) * cyclesPerFold + lineOfElement(foldDemand(s, fr, fc), rest);
}

/** Elements of the whole stream served before `cycle`, without stalls (the inverse of cycleOfElement). */
function servedBefore(s: Stream, cycle: number): number {
  const { rowFolds, cyclesPerFold, folds } = s.mapping;
  if (cycle <= 0) return 0;
  if (cycle >= folds * cyclesPerFold) return s.count;
  const fold = Math.floor(cycle / cyclesPerFold);
  const fc = Math.floor(fold / rowFolds);
  const fr = fold - fc * rowFolds;
  const before = fc * s.perColFold + fr * perFold(s, fc);
  const d = foldDemand(s, fr, fc);
  const line = cycle - fold * cyclesPerFold - d.pre;
  if (line <= 0) return before;
  return before + (d.kind === 'skew' ? skewServedBefore(d.rows, d.cols, line) : Math.min(line, d.lines) * d.perLine);
}

// ---------------------------------------------------------------------------------------------
// DRAM side of the buffers.

/**
 * DRAM reads of one read SRAM under SCALE-Sim's bandwidth-estimating buffer (CALC mode).
 * The buffer keeps every address missed since its last flush; a miss adds the address, and every
 * 50 sets' worth of misses (half the SRAM, in sets of ⌊size/100⌋ words) the whole active half is
 * dropped at once. So a block of distinct addresses read several times misses until it has been
 * read once in full since the last flush, and the count follows from the reuse pattern alone.
 * The first fill is fetched before cycle 0; the last fetch ends one cycle after the last flush.
 */
function readBufferTraffic(stream: Stream, sramKB: number, wordsPerCycle: number): Accesses {
  const setWords = Math.floor((sramKB * 1024) / SETS_PER_BUFFER);
  const flushEvery = ACTIVE_SETS * setWords;
  let misses = 0;
  let flushes = 0;
  let lastFlushElement = -1;
  let blockStart = 0;
  for (const { size, passes, repeat } of stream.blocks) {
    const accesses = size * passes;
    for (let r = 0; r < repeat; r++) {
      let pos = 0;
      let loaded = 0;
      while (pos < accesses && loaded < size) {
        if (loaded === 0 && size > flushEvery) {
          // Every stretch between flushes is shorter than the block: the rest of its passes all miss.
          const rest = accesses - pos;
          const lastFlushMiss = Math.floor((misses + rest) / flushEvery) * flushEvery;
          if (lastFlushMiss > misses) {
            flushes += (lastFlushMiss - misses) / flushEvery;
            lastFlushElement = blockStart + pos + (lastFlushMiss - misses) - 1;
          }
          misses += rest;
          pos = accesses;
          break;
        }
        const toFlush = flushEvery - (misses % flushEvery);
        const step = Math.min(toFlush, size - loaded, accesses - pos);
        misses += step;
        pos += step;
        loaded += step;
        if (step === toFlush) {
          flushes++;
          lastFlushElement = blockStart + pos - 1;
          loaded = 0;
        }
      }
      blockStart += accesses;
    }
  }
  if (flushes === 0) {
    const sets = Math.ceil(misses / setWords);
    return { count: misses, startCycle: -Math.ceil((sets * setWords) / wordsPerCycle), stopCycle: -1 };
  }
  return {
    count: misses,
    startCycle: stream.firstCycle - Math.ceil((ACTIVE_SETS * setWords) / wordsPerCycle),
    stopCycle: cycleOfElement(stream, lastFlushElement) + 1,
  };
}

/**
 * DRAM writes of the ofmap SRAM under SCALE-Sim's write buffer, one step per drain. Results are
 * packed into lines of `lineWords` (the array width in CALC mode). When more than half the SRAM holds
 * results and no drain is running, the line being filled is closed early (padded) and half the SRAM's
 * worth of lines leaves, one line per cycle. Quirk: a padded line counts as full unless it is the
 * last line of its drain, so the writes exceed the results (by C − 1 when C divides half the SRAM).
 * What is left drains after the last cycle. The free space is given back at once, so in CALC mode the
 * buffer never fills and never stalls the array. Quirk: the reported stop cycle is the end of the last
 * drain started, even when a drain started mid-layer runs past it.
 */
function writeBufferTraffic(stream: Stream, sramKB: number, lineWords: number, lastCycle: number): Accesses {
  const results = stream.count;
  const totalWords = sramKB * 1024;
  const drainWords = totalWords - Math.ceil(totalWords * 0.5);
  const linesPerDrain = Math.ceil(drainWords / lineWords);
  const b: WriteBuffer = { lineWords, lineStart: 0, lines: 0, drainedLines: 0, writes: 0, paddedLines: [], paddings: [], nextPadded: 0, startCycle: -1, stopCycle: -1 };
  // Once a drain leaves whole lines and moves exactly half the SRAM, and the array cannot write more
  // results per cycle than a line holds, every later drain repeats it unblocked: D results later.
  const periodic = drainWords % lineWords === 0 && stream.maxPerCycle <= lineWords;
  let drainEnd = 0;
  if (!periodic && results / drainWords > MAX_DRAINS_STEPPED) return approximateWriteTraffic(stream, b, drainWords, linesPerDrain, lastCycle);
  for (;;) {
    // The result that pushes the occupancy past half, or the first one written once the running drain is done.
    const trigger = Math.max(b.writes + drainWords, servedBefore(stream, drainEnd));
    if (trigger >= results) break;
    const partial = closeLines(b, trigger + 1);
    const before = b.writes;
    drainEnd = drainLines(b, cycleOfElement(stream, trigger), linesPerDrain);
    const skip = Math.floor((results - 1 - b.writes) / drainWords) - 1;
    if (periodic && partial === 0 && b.writes - before === drainWords && skip > 0) {
      const last = b.writes + skip * drainWords;
      closeLines(b, last + 1);
      b.writes += skip * drainWords;
      b.drainedLines += skip * linesPerDrain;
      drainEnd = b.stopCycle = cycleOfElement(stream, last) + linesPerDrain - 1;
    }
  }
  closeLines(b, results);
  for (let cycle = lastCycle; b.drainedLines < b.lines; ) cycle = drainLines(b, cycle, linesPerDrain) + 1;
  return { count: b.writes, startCycle: b.startCycle, stopCycle: b.stopCycle };
}

/**
 * For layers that would need more than MAX_DRAINS_STEPPED irregular drains (far beyond any ViT layer):
 * the drains are taken as regular — one every D results, the first padding the line being filled —
 * which is what SCALE-Sim does whenever the line width divides half the SRAM.
 */
function approximateWriteTraffic(stream: Stream, b: WriteBuffer, drainWords: number, linesPerDrain: number, lastCycle: number): Accesses {
  const drains = Math.floor((stream.count - 1) / drainWords);
  const padding = (b.lineWords - ((drainWords + 1) % b.lineWords)) % b.lineWords;
  const count = stream.count + padding;
  const linesLeft = Math.ceil(count / b.lineWords) - drains * linesPerDrain;
  return { count, startCycle: cycleOfElement(stream, drainWords), stopCycle: lastCycle + Math.max(linesLeft, 1) - 1 };
}

/** The ofmap write buffer's lines as SCALE-Sim keeps them. */
interface WriteBuffer {
  lineWords: number;
  /** First result of the line being filled, and the lines closed before it. */
  lineStart: number;
  lines: number;
  drainedLines: number;
  writes: number;
  paddedLines: number[];
  paddings: number[];
  /** First padded line not yet behind the drained ones. */
  nextPadded: number;
  startCycle: number;
  stopCycle: number;
}

/** Closes every line up to result `upTo` (exclusive), padding a partial last one; returns the results in it. */
function closeLines(b: WriteBuffer, upTo: number): number {
  const run = upTo - b.lineStart;
  const partial = run % b.lineWords;
  b.lines += Math.floor(run / b.lineWords);
  if (partial > 0) {
    b.paddedLines.push(b.lines++);
    b.paddings.push(b.lineWords - partial);
  }
  b.lineStart = upTo;
  return partial;
}

/** Drains up to `maxLines` lines from `cycle`, one per cycle; returns the cycle of the last. */
function drainLines(b: WriteBuffer, cycle: number, maxLines: number): number {
  const n = Math.min(maxLines, b.lines - b.drainedLines);
  b.drainedLines += n;
  // Only the last line of a drain has its padding discounted; drains move forward, and so does the search.
  const last = b.drainedLines - 1;
  while (b.nextPadded < b.paddedLines.length && b.paddedLines[b.nextPadded] < last) b.nextPadded++;
  b.writes += n * b.lineWords - (b.paddedLines[b.nextPadded] === last ? b.paddings[b.nextPadded] : 0);
  if (b.startCycle < 0) b.startCycle = cycle;
  b.stopCycle = cycle + n - 1;
  return b.stopCycle;
}

/**
 * vitsim's estimate of USER-mode stalls — not SCALE-Sim's. With double buffering a refill overlaps
 * compute, so a buffer stalls the array only when its DRAM traffic (after the first fill, which
 * SCALE-Sim fetches before cycle 0) needs more cycles at `Bandwidth` words per cycle than the layer
 * computes; the three buffers have their own interfaces, so the slowest one sets the stall.
 * SCALE-Sim's USER-mode prefetcher over-fetches when an operand fills between half and all of its
 * SRAM (its issues #82, #111), which this does not reproduce.
 */
export function userModeStallCycles(computeCycles: number, config: ScaleSimConfig, reads: Accesses[], ofmap: Stream): number {
  const bandwidth = config.bandwidthWordsPerCycle ?? CALC_READ_BANDWIDTH;
  const sizes = [config.ifmapSramKB, config.filterSramKB];
  let worst = 0;
  for (let i = 0; i < reads.length; i++) {
    const firstFill = Math.min(reads[i].count, (sizes[i] * 1024) / 2);
    worst = Math.max(worst, Math.ceil((reads[i].count - firstFill) / bandwidth));
  }
  // Results that still fit in the ofmap SRAM at the end drain after the last cycle, outside the count.
  const drainedDuringRun = Math.max(0, ofmap.count - config.ofmapSramKB * 1024);
  worst = Math.max(worst, Math.ceil(drainedDuringRun / bandwidth));
  return Math.max(0, worst - computeCycles);
}
