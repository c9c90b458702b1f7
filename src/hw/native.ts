/**
 * vitsim's native view of one GEMM on the systolic array: what the hardware does, for vitsim's own
 * reports and for the energy model. It counts cycles and actions (SRAM and DRAM accesses); cost/
 * prices them. The fold timing is fold.ts's (shared with the SCALE-Sim view); what differs from
 * SCALE-Sim is the memory side, rule by rule in docs/cycle-model.md:
 *
 * - Tiles follow from the SRAM sizes. Every buffer is double-buffered: the array works in one half
 *   while the DMA fills (or drains) the other, so a tile holds at most half a buffer.
 * - An operand crosses the DRAM interface as often as the tiling requires and no more: once if it
 *   fits in half its buffer (slice by slice, in the order the folds first use them); once per run
 *   of consecutive folds that read the same slice (the OS filter slice across the row folds of a
 *   column fold); otherwise once per fold, in chunks of streamed steps when a fold's slice is
 *   larger than half the buffer.
 * - The ofmap SRAM holds accumulator-width values. WS/IS partial sums of a column fold stay there
 *   across its K folds when they fit in half of it; otherwise each K fold's partial sums spill to
 *   DRAM at accBits and come back for the next one (counted both ways). Final results leave at
 *   `outputBits` (activation width by default: the requantiser sits on the way out).
 * - One DRAM port of `bytesPerCycle` moves one transfer at a time, in a fixed queue order (below).
 *   A transfer of b bytes takes ceil(b / bytesPerCycle) whole cycles. The array stalls (all of it,
 *   one clock enable) in a cycle that touches a tile that has not arrived, or an ofmap half that
 *   is still draining. The first tiles' fill is paid, and so is the last tile's write-back.
 *
 * The timing is solved in one pass over the queue (O(tiles log tiles)); register-array.ts executes
 * the same plan cycle by cycle and the tests check that both stall the same number of cycles. A GEMM
 * with many row or column folds is planned and solved for a few of them only, and the repeating middle
 * ones multiplied, once the solver proves they repeat (periodicPlan: exactly the same results).
 */
import { UserError } from '../config/errors.js';
import { dramBytesPerCycle, type Arch, type Dataflow } from './arch.js';
import { DATAFLOW_DIMS, foldMapping, type FoldMapping } from './fold.js';
import { checkGemm, gemmMacs, type Gemm } from './gemm.js';

export type BufferName = 'ifmap' | 'filter' | 'ofmap';
export const BUFFERS: readonly BufferName[] = ['ifmap', 'filter', 'ofmap'];

export interface SimulateGemmOptions {
  /** Overrides the arch's dataflow. */
  dataflow?: Dataflow;
  /** Overrides the arch's DRAM bandwidth (bytes per array cycle); Infinity means an ideal memory. */
  bytesPerCycle?: number;
  /** Width of the final results written to DRAM; default the activation width pe.actBits. */
  outputBits?: number;
  /**
   * Plan and solve every tile (the plain one-pass solver), never the periodic shortcut. The results
   * are the same either way; the tests compare the two.
   */
  exhaustive?: boolean;
  /**
   * Solved shortened GEMMs to share between calls (from newShortcutMemo; simulateTrace keeps one per
   * trace). GEMMs that differ only in their number of middle folds — DeiT's qkv, proj and fc1 — shorten
   * to the same GEMM, which is then planned and solved once. The results are the same with or without.
   */
  memo?: ShortcutMemo;
}

/** Solved shortened GEMMs by everything their solve depends on (opaque; see SimulateGemmOptions.memo). */
export type ShortcutMemo = Map<string, ShortRun | null>;

export function newShortcutMemo(): ShortcutMemo {
  return new Map();
}

/** SRAM accesses of one buffer, in words of `wordBits` (its element width). */
export interface SramCounts {
  reads: number;
  writes: number;
  wordBits: number;
}

export interface NativeGemmResult {
  gemm: Gemm;
  dataflow: Dataflow;
  rows: number;
  cols: number;
  rowFolds: number;
  colFolds: number;
  folds: number;
  cyclesPerFold: number;
  /** folds × cyclesPerFold: the array busy, memory ideal (origin: docs/cycle-model.md). */
  computeCycles: number;
  /** totalCycles − computeCycles: initial fill, mid-run stalls and the final write-back. */
  stallCycles: number;
  /** Of the stalls, the cycles before the array's first cycle (the initial fill). */
  initialFillCycles: number;
  /** Of the stalls, the cycles after the array's last cycle (the final write-back). */
  finalDrainCycles: number;
  totalCycles: number;
  macs: number;
  /** Mean over folds of the share of PEs mapped (fold.ts). */
  mappingEfficiency: number;
  /** MACs / (R·C·computeCycles). */
  computeUtilisation: number;
  /** MACs / (R·C·totalCycles): utilisation with the memory stalls. */
  overallUtilisation: number;
  sram: {
    ifmap: SramCounts;
    filter: SramCounts;
    /**
     * writes include `resultWrites` (by the array) and the partial sums filled back from DRAM; reads
     * include `psumReads` (the array's read-modify-writes of partial sums) and the reads that drain to DRAM.
     */
    ofmap: SramCounts & { psumReads: number; resultWrites: number };
  };
  dram: {
    ifmapReadBytes: number;
    filterReadBytes: number;
    psumReadBytes: number;
    psumWriteBytes: number;
    ofmapWriteBytes: number;
    readBytes: number;
    writeBytes: number;
  };
  /** How each buffer is used: the operand loaded once, once per shared slice, per fold, or in chunks. */
  tiling: Record<BufferName, Tiling>;
  tiles: Record<BufferName, number>;
  bytesPerCycle: number;
}

export type Tiling = 'resident' | 'per-slice' | 'per-fold' | 'chunked' | 'spilled';

/** Steps [stepStart, stepEnd) of one fold's accesses to a buffer (see register-array.ts for what a step is). */
export interface TileSegment {
  fold: number;
  stepStart: number;
  stepEnd: number;
}

/** One half-buffer's worth of data: filled from DRAM before its first access and/or drained after its last. */
export interface Tile {
  buffer: BufferName;
  /** The tile that held the same half before this one (two earlier in the buffer's sequence), or −1. */
  prev: number;
  /** A tile whose first access must have happened before this one's fill may start (resident slices), or −1. */
  fillAfter: number;
  fillBytes: number;
  drainBytes: number;
  fillElements: number;
  drainElements: number;
  /** Vector reads (ifmap, filter) or element writes (ofmap) that fall in this tile. */
  accesses: number;
  segments: TileSegment[];
  /** Stall-free cycle numbers of the first and the last access. */
  firstAccessCycle: number;
  lastAccessCycle: number;
  /** An ofmap drain of final results (at outputBits); false for a spilled partial sum (at accBits). */
  final: boolean;
}

export interface Transfer {
  tile: number;
  kind: 'fill' | 'drain';
  bytes: number;
}

/**
 * The tiles in every buffer and the DMA queue. The queue is sorted by the stall-free cycle after
 * which a transfer could start (a fill: the last access of the tile whose half it reuses, or the
 * first access of the resident slice before it; a drain: its own last access), drains before fills
 * on a tie (a drain frees the half a fill waits for), then by first access. Being in-order is what
 * makes the timing solvable in one pass; it never deadlocks because every fill is keyed strictly
 * before the first access of its tile.
 */
export interface MemoryPlan {
  tiles: Tile[];
  transfers: Transfer[];
}

/** The native cycle, stall and access counts of `gemm` on `arch`. Pure. */
export function simulateGemm(arch: Arch, gemm: Gemm, options: SimulateGemmOptions = {}): NativeGemmResult {
  checkGemm(gemm, 'gemm');
  const dataflow = options.dataflow ?? arch.array.dataflow;
  const bytesPerCycle = options.bytesPerCycle ?? dramBytesPerCycle(arch);
  if (!(bytesPerCycle > 0)) throw new UserError(`${arch.name}: DRAM bandwidth must be greater than zero, got ${bytesPerCycle} bytes per cycle`);
  const mapping = foldMapping(gemm, { ...arch.array, dataflow });
  const outputBits = options.outputBits ?? arch.pe.actBits;
  // The shortcut over row and column folds (tried only where it saves more than a failed try costs),
  // first with SHORT_FOLDS row folds, then with half of them (when the DMA backlog drifts from one
  // row fold to the next, the state repeats only once the backlog has drained: later in the column
  // fold); else over column folds only, else every tile.
  const shortcut = (shortRows: number): PlannedGemm | undefined =>
    options.exhaustive ? undefined : periodicPlan(arch, gemm, mapping, outputBits, bytesPerCycle, shortRows, options.memo);
  const withRows = mapping.rowFolds >= 4 * SHORT_FOLDS ? (shortcut(SHORT_FOLDS) ?? shortcut(Math.ceil(mapping.rowFolds / 2))) : undefined;
  const planned = withRows ?? shortcut(0) ?? exhaustivePlan(arch, gemm, mapping, outputBits, bytesPerCycle);
  const { tiling, timing, sums } = planned;
  const counts = accessCounts(sums, mapping, gemm);
  const macs = gemmMacs(gemm);
  const pes = mapping.rows * mapping.cols;
  const dram = {
    ifmapReadBytes: sums.fillBytes[0],
    filterReadBytes: sums.fillBytes[1],
    psumReadBytes: sums.fillBytes[2],
    psumWriteBytes: sums.psumDrainBytes,
    ofmapWriteBytes: sums.finalDrainBytes,
    readBytes: 0,
    writeBytes: 0,
  };
  const tiles = { ifmap: sums.tiles[0], filter: sums.tiles[1], ofmap: sums.tiles[2] };
  dram.readBytes = dram.ifmapReadBytes + dram.filterReadBytes + dram.psumReadBytes;
  dram.writeBytes = dram.psumWriteBytes + dram.ofmapWriteBytes;
  return {
    gemm: { m: gemm.m, k: gemm.k, n: gemm.n },
    dataflow,
    rows: mapping.rows,
    cols: mapping.cols,
    rowFolds: mapping.rowFolds,
    colFolds: mapping.colFolds,
    folds: mapping.folds,
    cyclesPerFold: mapping.cyclesPerFold,
    computeCycles: mapping.computeCycles,
    stallCycles: timing.totalCycles - mapping.computeCycles,
    initialFillCycles: timing.initialFillCycles,
    finalDrainCycles: timing.finalDrainCycles,
    totalCycles: timing.totalCycles,
    macs,
    mappingEfficiency: mapping.mappingEfficiency,
    computeUtilisation: macs / (pes * mapping.computeCycles),
    overallUtilisation: macs / (pes * timing.totalCycles),
    sram: {
      ifmap: { ...counts.ifmap, wordBits: arch.pe.actBits },
      filter: { ...counts.filter, wordBits: arch.pe.weightBits },
      ofmap: { ...counts.ofmap, wordBits: arch.pe.accBits },
    },
    dram,
    tiling,
    tiles,
    bytesPerCycle,
  };
}



/** Sums over the tiles of a plan, by buffer (indices as in BUFFERS): what the counts need of it. */
interface TileSums {
  tiles: number[];
  fillBytes: number[];
  fillElements: number[];
  drainElements: number[];
  /** Ofmap drains: spilled partial sums (at accBits) and final results (at outputBits). */
  psumDrainBytes: number;
  finalDrainBytes: number;
}

interface PlannedGemm {
  tiling: Record<BufferName, Tiling>;
  timing: { totalCycles: number; initialFillCycles: number; finalDrainCycles: number };
  sums: TileSums;
}

/** Every tile planned, the whole queue solved: the plain model. */
function exhaustivePlan(arch: Arch, gemm: Gemm, mapping: FoldMapping, outputBits: number, bytesPerCycle: number): PlannedGemm {
  const { table, tiling } = planTiles(arch, gemm, { dataflow: mapping.dataflow, outputBits, where: arch.name });
  const queue = queueOrder(table);
  const timing = solveStalls(table, queue, queueBytesOf(table, queue), mapping.computeCycles, bytesPerCycle)!;
  const sums = sumTiles(table, -Infinity, Infinity);
  table.release();
  return { tiling, timing, sums };
}

/**
 * Row folds per column fold and column folds of the shortened GEMM, and the window of folds a
 * checkpoint's state covers: folds i − WINDOW_BACK … i + WINDOW_AHEAD − 1 around checkpoint i. Comparing
 * i with i + 1 needs folds i − WINDOW_BACK … i + 2 to be middle ones (fold i + 2: the tiles that fold
 * i + 1's transfers may prefetch), so i runs from WINDOW_BACK + 1 to SHORT_FOLDS − 4: folds 2 and 3. On
 * the shipped presets the state repeats from fold 2 or 3 on. A wider window only makes the states
 * longer and the repeat later: a value it leaves out is checked, not assumed (`valid` below). A longer
 * shortened column fold (periodicPlan's shortRows) has its row checkpoints at its last middle row folds
 * instead, rowFolds − 5 … rowFolds − 3: the same comparisons, later in the column fold.
 */
const SHORT_FOLDS = 7;
const WINDOW_BACK = 1;
const WINDOW_AHEAD = 2;

/**
 * The same result as exhaustivePlan, from a GEMM shortened to `shortRows` row folds per column fold and
 * SHORT_FOLDS column folds, when the solver shows that its middle row folds (in every column fold) and
 * its middle column folds repeat; undefined when they do not (or the GEMM is short).
 *
 * Why this is exact. Column folds 1 … colFolds−2 are identical: the same fold shapes, the same tiles,
 * the same DMA transfers, each column fold P = rowFolds·cyclesPerFold stall-free cycles after the one
 * before (only column fold 0, with the slices of a resident operand, and the last, partial, one differ;
 * whether an operand is resident is decided on the whole GEMM, not the shortened one). Likewise, inside
 * a column fold, row folds 1 … rowFolds−2 are identical, cyclesPerFold apart, except for the few tiles
 * that span the column fold (the WS/IS partial sums, the OS filter slice): those are accessed first in
 * row fold 0 and drained after the last. The queue is sorted by stall-free key, and its ties are broken
 * by shift-invariant comparisons, so the transfers keyed in one middle fold (row or column) are a
 * shifted copy of those keyed in the next, and inserting one more middle fold shifts every later key by
 * its length. The solver is a deterministic function of its state and the transfers still to come. At
 * a checkpoint (where the keys of row fold i of a column fold, or of column fold i, begin) solveStalls
 * records its state relative to the fold's start B_i plus the stall so far: the port's free time, the
 * stall after every resolved access from fold i−1 on (and the last one before), and the fill and drain
 * ends of the tiles first accessed in folds i−1 … i+1 (a fill end only until its tile's first access,
 * its only reader). Every value used after the checkpoint is then in that state, or computed after it
 * (shifted along), or outside it (older, or a tile prefetched beyond the window); such a value only
 * enters a max(), and the checkpoint is rejected if one ever decides it (binds). One that does not bind still does not bind when everything after it moves later. Both i and
 * i + 1 must hold (after i + 1, the run continues from i + 1's state, not i's). So when the
 * states at i and i + 1 are equal, every further middle fold starts from the same relative state and
 * adds the same cyclesPerFold (or P) + Δstall cycles; the rest of the run is the shortened one, shifted.
 * Rows are inserted column fold by column fold (each insertion shifts the rest, whose states relative to
 * their folds stay the same), the repeated middle column folds each taking the rows of the one they
 * copy. Counts are sums over tiles: each extra fold adds those first accessed in one middle fold.
 * test/hw/native-periodic.test.ts compares this with { exhaustive: true }.
 */
function periodicPlan(
  arch: Arch,
  gemm: Gemm,
  mapping: FoldMapping,
  outputBits: number,
  bytesPerCycle: number,
  /** Row folds per column fold of the shortened GEMM; 0: the row folds are not shortened. */
  shortRows: number,
  memo: ShortcutMemo | undefined,
): PlannedGemm | undefined {
  const extraRows = shortRows > 0 ? Math.max(0, mapping.rowFolds - shortRows) : 0;
  const extraCols = Math.max(0, mapping.colFolds - SHORT_FOLDS);
  if (extraRows === 0 && extraCols === 0) return undefined;
  const rowFolds = mapping.rowFolds - extraRows;
  const colFolds = mapping.colFolds - extraCols;
  const { rowDim, colDim } = DATAFLOW_DIMS[mapping.dataflow];
  const short: Gemm = { ...gemm, [rowDim]: (rowFolds - 1) * mapping.rows + mapping.lastFoldRows, [colDim]: (colFolds - 1) * mapping.cols + mapping.lastFoldCols };
  // The solve of the shortened GEMM depends on the GEMM only through `short`, the operands' residency
  // (decided on the whole GEMM) and which folds are shortened.
  const key = [
    mapping.dataflow,
    arch.array.rows,
    arch.array.cols,
    arch.pe.actBits,
    arch.pe.weightBits,
    arch.pe.accBits,
    arch.sram.ifmapBytes,
    arch.sram.filterBytes,
    arch.sram.ofmapBytes,
    outputBits,
    bytesPerCycle,
    short.m,
    short.k,
    short.n,
    isResident(arch, gemm, 'ifmap'),
    isResident(arch, gemm, 'filter'),
    extraRows > 0,
    extraCols > 0,
  ].join(',');
  let run = memo?.get(key);
  if (run === undefined) {
    run = solveShortened(arch, mapping.dataflow, gemm, short, mapping.cyclesPerFold, rowFolds, colFolds, outputBits, bytesPerCycle, extraRows > 0, extraCols > 0) ?? null;
    memo?.set(key, run);
  }
  if (run === null) return undefined;
  const fold = mapping.cyclesPerFold;
  const period = rowFolds * fold;
  const parts: { sums: TileSums; times: number }[] = [{ sums: run.all, times: 1 }];
  let totalCycles = run.timing.totalCycles;
  if (run.col !== undefined) {
    totalCycles += extraCols * (period + run.col.stall);
    parts.push({ sums: run.col.sums, times: extraCols });
  }
  run.rows.forEach((row, c) => {
    // This column fold, and the extra column folds if they copy it, each take extraRows more row folds.
    const times = extraRows * (1 + (run.col !== undefined && c === run.col.copied ? extraCols : 0));
    totalCycles += times * (fold + row.stall);
    parts.push({ sums: row.sums, times });
  });
  const sum = (get: (s: TileSums) => number): number => parts.reduce((t, p) => t + p.times * get(p.sums), 0);
  const perBuffer = (get: (s: TileSums) => number[]): number[] => BUFFERS.map((_, b) => sum((s) => get(s)[b]));
  return {
    tiling: run.tiling,
    timing: { totalCycles, initialFillCycles: run.timing.initialFillCycles, finalDrainCycles: run.timing.finalDrainCycles },
    sums: {
      tiles: perBuffer((s) => s.tiles),
      fillBytes: perBuffer((s) => s.fillBytes),
      fillElements: perBuffer((s) => s.fillElements),
      drainElements: perBuffer((s) => s.drainElements),
      psumDrainBytes: sum((s) => s.psumDrainBytes),
      finalDrainBytes: sum((s) => s.finalDrainBytes),
    },
  };
}

/** What periodicPlan learns from the shortened GEMM, before multiplying by the numbers of extra folds. */
interface ShortRun {
  tiling: Record<BufferName, Tiling>;
  timing: { totalCycles: number; initialFillCycles: number; finalDrainCycles: number };
  /** Sums over every tile of the shortened GEMM. */
  all: TileSums;
  /** With extra column folds: the column fold they copy, its tiles and its stall beyond the first one's. */
  col: { copied: number; sums: TileSums; stall: number } | undefined;
  /** With extra row folds, per column fold: the row fold they copy, its tiles and its Δstall. */
  rows: { sums: TileSums; stall: number }[];
}

/** Plans and solves the shortened GEMM `short` with checkpoints; undefined when a state does not repeat. */
function solveShortened(
  arch: Arch,
  dataflow: Dataflow,
  gemm: Gemm,
  short: Gemm,
  fold: number,
  rowFolds: number,
  colFolds: number,
  outputBits: number,
  bytesPerCycle: number,
  extraRows: boolean,
  extraCols: boolean,
): ShortRun | undefined {
  const { table, tiling } = planTiles(arch, short, { dataflow, outputBits, where: arch.name, residentOf: gemm });
  const queue = queueOrder(table);
  const period = rowFolds * fold;
  // Checkpoints at column folds WINDOW_BACK + 1 … SHORT_FOLDS − 3 (the last for comparing i with i + 1
  // only), and in every column fold at its last few middle row folds (the first ones when it has
  // SHORT_FOLDS: WINDOW_BACK + 1 … rowFolds − 3).
  const firstRowCheck = Math.max(WINDOW_BACK + 1, rowFolds - SHORT_FOLDS + 2);
  const checkpoints: Checkpoint[] = [];
  const at = (start: number, length: number, i: number): Checkpoint => ({
    at: start + i * length,
    floor: start + (i - WINDOW_BACK) * length,
    end: start + (i + WINDOW_AHEAD) * length,
  });
  const colChecks: number[] = [];
  const rowChecks: number[][] = [];
  for (let c = 0; c < colFolds; c++) {
    if (extraCols && c > WINDOW_BACK && c <= SHORT_FOLDS - 3) colChecks[c] = checkpoints.push(at(0, period, c)) - 1;
    rowChecks[c] = [];
    for (let r = firstRowCheck; extraRows && r <= rowFolds - 3; r++) rowChecks[c][r] = checkpoints.push(at(c * period, fold, r)) - 1;
  }
  /** The first i whose state the one at i + 1 repeats: [i, Δstall]. */
  const repeat = (states: readonly CheckpointState[], ids: number[]): [number, number] | undefined => {
    for (let i = 0; i + 1 < ids.length; i++) {
      if (ids[i] === undefined || ids[i + 1] === undefined) continue;
      const x = states[ids[i]];
      const y = states[ids[i + 1]];
      if (x?.valid && y?.valid && x.state !== undefined && y?.state !== undefined && sameState(x.state, y.state)) return [i, y.stall - x.stall];
    }
    return undefined;
  };
  // Stop as soon as a column fold's row folds have not repeated (validity can only be lost later, never
  // regained): the shortcut over column folds only may still apply.
  const keepGoing = (states: readonly CheckpointState[]): boolean => {
    const ids = rowChecks.find((r) => r[r.length - 1] === states.length - 1);
    return ids === undefined || repeat(states, ids) !== undefined;
  };
  const timing = solveStalls(table, queue, queueBytesOf(table, queue), colFolds * period, bytesPerCycle, checkpoints, keepGoing);
  const fail = (): undefined => {
    table.release();
    return undefined;
  };
  if (timing === undefined) return fail();
  const states = timing.checkpoints ?? [];
  const run: ShortRun = { tiling, timing, all: sumTiles(table, -Infinity, Infinity), col: undefined, rows: [] };
  if (extraCols) {
    const col = repeat(states, colChecks);
    if (col === undefined) return fail();
    const copied = col[0];
    run.col = { copied, sums: sumTiles(table, copied * period, (copied + 1) * period), stall: col[1] };
  }
  for (let c = 0; extraRows && c < colFolds; c++) {
    const row = repeat(states, rowChecks[c]);
    if (row === undefined) return fail();
    const start = c * period + row[0] * fold;
    run.rows.push({ sums: sumTiles(table, start, start + fold), stall: row[1] });
  }
  table.release();
  return run;
}

/** Sums over the tiles whose first access falls in [from, to). */
function sumTiles(table: TileTable, from: number, to: number): TileSums {
  const sums: TileSums = { tiles: [0, 0, 0], fillBytes: [0, 0, 0], fillElements: [0, 0, 0], drainElements: [0, 0, 0], psumDrainBytes: 0, finalDrainBytes: 0 };
  for (let id = 0; id < table.count; id++) {
    if (table.first[id] < from || table.first[id] >= to) continue;
    const b = table.buffer[id];
    sums.tiles[b]++;
    sums.fillBytes[b] += table.fillBytes[id];
    sums.fillElements[b] += table.fillElements[id];
    sums.drainElements[b] += table.drainElements[id];
    if (b === 2) {
      if (table.final[id]) sums.finalDrainBytes += table.drainBytes[id];
      else sums.psumDrainBytes += table.drainBytes[id];
    }
  }
  return sums;
}

function queueBytesOf(table: TileTable, queue: Int32Array): Float64Array {
  const queueBytes = new Float64Array(queue.length);
  for (let q = 0; q < queue.length; q++) queueBytes[q] = queue[q] & 1 ? table.drainBytes[queue[q] >> 1] : table.fillBytes[queue[q] >> 1];
  return queueBytes;
}

/** How one fold touches one buffer: `steps` accesses of `elements` values each, at stall-free offsets. */
interface FoldStream {
  steps: number;
  /** Values per step (a vector read, or the results of one output step). */
  elements: number;
  /** Stall-free offsets of the first and last access of step s from the fold's first cycle. */
  first: (s: number) => number;
  last: (s: number) => number;
  /** The stationary operand of WS/IS: read once per fold in the preload, cannot be chunked. */
  stationary: boolean;
  /** The extent of the whole fold's accesses: min of first, max of last over all its steps. */
  firstOfAll: number;
  lastOfAll: number;
}

/** A fold stream with its whole-fold extent (offsets are monotonic in the step: the ends give it). */
function foldStream(steps: number, elements: number, first: (s: number) => number, last: (s: number) => number, stationary: boolean): FoldStream {
  return { steps, elements, first, last, stationary, firstOfAll: Math.min(first(0), first(steps - 1)), lastOfAll: Math.max(last(0), last(steps - 1)) };
}

/**
 * Tiles and DMA queue for `gemm` on `arch` in `dataflow` (the rules in the file comment).
 * Exported so the register-level array can execute the very same plan cycle by cycle.
 */
export function planMemory(
  arch: Pick<Arch, 'array' | 'pe' | 'sram'>,
  gemm: Gemm,
  options: { dataflow?: Dataflow; outputBits?: number; where?: string } = {},
): MemoryPlan & { tiling: Record<BufferName, Tiling> } {
  const { table, tiling } = planTiles(arch, gemm, { ...options, segments: true });
  const tiles: Tile[] = [];
  for (let id = 0; id < table.count; id++) {
    tiles.push({
      buffer: BUFFERS[table.buffer[id]],
      prev: table.prev[id],
      fillAfter: table.fillAfter[id],
      fillBytes: table.fillBytes[id],
      drainBytes: table.drainBytes[id],
      fillElements: table.fillElements[id],
      drainElements: table.drainElements[id],
      accesses: table.accesses[id],
      segments: [],
      firstAccessCycle: table.first[id],
      lastAccessCycle: table.last[id],
      final: table.final[id] === 1,
    });
  }
  const seg = table.segments;
  for (let i = 0; i < seg.length; i += 4) tiles[seg[i]].segments.push({ fold: seg[i + 1], stepStart: seg[i + 2], stepEnd: seg[i + 3] });
  const transfers = Array.from(queueOrder(table), (x): Transfer => {
    const id = x >> 1;
    return x & 1 ? { tile: id, kind: 'drain', bytes: table.drainBytes[id] } : { tile: id, kind: 'fill', bytes: table.fillBytes[id] };
  });
  table.release();
  return { tiles, transfers, tiling };
}

/**
 * The tiles of a plan as columns, entry `id` holding the fields of Tile `id` (buffer as its index in
 * BUFFERS, final as 0/1). simulateGemm plans and solves on these directly: a GEMM has thousands of
 * tiles on the small arrays, and one object per tile and per segment was most of its time (garbage
 * collection included). The columns are typed arrays that double when full. `segments` holds [tile,
 * fold, stepStart, stepEnd] per segment, in the order added (only when asked for: the register-level
 * array needs them, the timing does not).
 */
class TileTable {
  count = 0;
  fillBytes!: Float64Array;
  drainBytes!: Float64Array;
  fillElements!: Float64Array;
  drainElements!: Float64Array;
  accesses!: Float64Array;
  first!: Float64Array;
  last!: Float64Array;
  prev!: Int32Array;
  fillAfter!: Int32Array;
  buffer!: Uint8Array;
  final!: Uint8Array;
  segments: number[] = [];
  private memory: ArrayBuffer | undefined;

  constructor(capacity: number) {
    this.allocate(Math.max(16, capacity));
  }

  /** A new tile of buffer `b` with no accesses yet (first +∞, last −∞) and no neighbours; returns its id. */
  add(b: number, fillElements: number, fillBytes: number, drainElements: number, drainBytes: number, final: boolean): number {
    if (this.count === this.buffer.length) this.allocate(2 * this.buffer.length);
    const id = this.count++;
    this.buffer[id] = b;
    this.prev[id] = -1;
    this.fillAfter[id] = -1;
    this.fillBytes[id] = fillBytes;
    this.drainBytes[id] = drainBytes;
    this.fillElements[id] = fillElements;
    this.drainElements[id] = drainElements;
    this.accesses[id] = 0;
    this.first[id] = Infinity;
    this.last[id] = -Infinity;
    this.final[id] = final ? 1 : 0;
    return id;
  }

  /**
   * Columns for `capacity` tiles, keeping the first `count`. They are views into one ArrayBuffer (7
   * float columns, then 2 int32, then 2 bytes): one allocation instead of eleven, which is most of
   * what a small table costs.
   */
  private allocate(atLeast: number): void {
    const old = this.memory;
    const memory = borrowMemory(atLeast * TILE_BYTES);
    const capacity = Math.floor(memory.byteLength / TILE_BYTES);
    let offset = 0;
    const column = <T extends Float64Array | Int32Array | Uint8Array>(make: new (b: ArrayBuffer, offset: number, length: number) => T, old: T | undefined): T => {
      const view = new make(memory, offset, capacity);
      offset += capacity * make.prototype.BYTES_PER_ELEMENT;
      if (old !== undefined) view.set(old.subarray(0, this.count));
      return view;
    };
    this.fillBytes = column(Float64Array, this.fillBytes);
    this.drainBytes = column(Float64Array, this.drainBytes);
    this.fillElements = column(Float64Array, this.fillElements);
    this.drainElements = column(Float64Array, this.drainElements);
    this.accesses = column(Float64Array, this.accesses);
    this.first = column(Float64Array, this.first);
    this.last = column(Float64Array, this.last);
    this.prev = column(Int32Array, this.prev);
    this.fillAfter = column(Int32Array, this.fillAfter);
    this.buffer = column(Uint8Array, this.buffer);
    this.final = column(Uint8Array, this.final);
    this.memory = memory;
    if (old !== undefined) returnMemory(old);
  }

  /** Gives the columns' memory back for the next table: the table must not be used after this. */
  release(): void {
    if (this.memory !== undefined) returnMemory(this.memory);
    this.memory = undefined;
  }
}

/** Bytes per tile of TileTable's columns. */
const TILE_BYTES = 7 * 8 + 2 * 4 + 2;

/**
 * ArrayBuffers kept between plans for the tile tables, the solver and the queue order: a fresh
 * buffer per plan, freed by the garbage collector, cost more than planning a small GEMM. A buffer is
 * lent to one user at a time and given back when that user is done with it; no result handed to a
 * caller points into one. Up to SPARE_BUFFERS of at most MAX_SPARE_BYTES (4 MiB) each are kept: a worker
 * that simulated a huge GEMM holds on to at most 16 MiB.
 */
const spareMemory: ArrayBuffer[] = [];
const SPARE_BUFFERS = 4;
const MAX_SPARE_BYTES = 1 << 22;

/** The smallest spare buffer of at least `bytes` bytes (taken out of the spares), or a new one. */
function borrowMemory(bytes: number): ArrayBuffer {
  let best = -1;
  for (let i = 0; i < spareMemory.length; i++) {
    if (spareMemory[i].byteLength >= bytes && (best < 0 || spareMemory[i].byteLength < spareMemory[best].byteLength)) best = i;
  }
  if (best < 0) return new ArrayBuffer(bytes);
  const memory = spareMemory[best];
  spareMemory[best] = spareMemory[spareMemory.length - 1];
  spareMemory.pop();
  return memory;
}

function returnMemory(memory: ArrayBuffer): void {
  if (memory.byteLength > MAX_SPARE_BYTES) return;
  if (spareMemory.length < SPARE_BUFFERS) {
    spareMemory.push(memory);
    return;
  }
  // Full: keep the larger buffers.
  let smallest = 0;
  for (let i = 1; i < spareMemory.length; i++) if (spareMemory[i].byteLength < spareMemory[smallest].byteLength) smallest = i;
  if (spareMemory[smallest].byteLength < memory.byteLength) spareMemory[smallest] = memory;
}

/** Whether the whole operand fits in one half of its buffer: it is then loaded once and kept (planTiles). */
function isResident(arch: Pick<Arch, 'pe' | 'sram'>, gemm: Gemm, buffer: 'ifmap' | 'filter'): boolean {
  const elements = buffer === 'ifmap' ? gemm.m * gemm.k : gemm.k * gemm.n;
  const bits = buffer === 'ifmap' ? arch.pe.actBits : arch.pe.weightBits;
  const half = Math.floor((buffer === 'ifmap' ? arch.sram.ifmapBytes : arch.sram.filterBytes) / 2);
  return Math.ceil((elements * bits) / 8) <= half;
}

/** planMemory's rules, writing the tiles into a TileTable. */
function planTiles(
  arch: Pick<Arch, 'array' | 'pe' | 'sram'>,
  gemm: Gemm,
  options: { dataflow?: Dataflow; outputBits?: number; where?: string; segments?: boolean; residentOf?: Gemm },
): { table: TileTable; tiling: Record<BufferName, Tiling> } {
  const withSegments = options.segments === true;
  const where = options.where ?? 'arch';
  const dataflow = options.dataflow ?? arch.array.dataflow;
  const outputBits = options.outputBits ?? arch.pe.actBits;
  const mapping = foldMapping(gemm, { ...arch.array, dataflow });
  const { rows: R, cols: C, temporal: T, rowFolds, colFolds, folds, cyclesPerFold } = mapping;
  const bits: Record<BufferName, number> = { ifmap: arch.pe.actBits, filter: arch.pe.weightBits, ofmap: arch.pe.accBits };
  const half: Record<BufferName, number> = {
    ifmap: Math.floor(arch.sram.ifmapBytes / 2),
    filter: Math.floor(arch.sram.filterBytes / 2),
    ofmap: Math.floor(arch.sram.ofmapBytes / 2),
  };
  // Whether an operand is resident is decided on the whole GEMM (periodicPlan plans a shortened one).
  const whole = options.residentOf ?? gemm;

  // Only four fold shapes exist (full or partial in rows and in columns): build each once.
  const shapes: (Record<BufferName, FoldStream> | undefined)[] = [undefined, undefined, undefined, undefined];
  const streamsOf = (ru: number, cu: number): Record<BufferName, FoldStream> => {
    if (dataflow === 'os') {
      const vector = (elements: number): FoldStream => foldStream(T, elements, (s) => s, (s) => s, false);
      return {
        ifmap: vector(ru),
        filter: vector(cu),
        ofmap: foldStream(ru, cu, (i) => T - 1 + i, (i) => T - 1 + i + cu - 1, false),
      };
    }
    const stationary = foldStream(ru, cu, (r) => R - 1 - r, (r) => R - 1 - r, true);
    const streamed = foldStream(T, ru, (s) => R + s, (s) => R + s, false);
    const ofmap = foldStream(T, cu, (s) => 2 * R - 1 + s, (s) => 2 * R - 1 + s + cu - 1, false);
    return dataflow === 'ws' ? { filter: stationary, ifmap: streamed, ofmap } : { ifmap: stationary, filter: streamed, ofmap };
  };
  const streams = (fold: number): Record<BufferName, FoldStream> => {
    const fc = Math.floor(fold / rowFolds);
    const lastRow = fold - fc * rowFolds === rowFolds - 1;
    const lastCol = fc === colFolds - 1;
    const shape = (lastRow ? 1 : 0) + (lastCol ? 2 : 0);
    return (shapes[shape] ??= streamsOf(lastRow ? mapping.lastFoldRows : R, lastCol ? mapping.lastFoldCols : C));
  };
  /** Folds with the same key read the same data from the buffer (fold order: column fold outer). */
  const keyOf = (buffer: BufferName, fold: number): number => {
    const fc = Math.floor(fold / rowFolds);
    const fr = fold % rowFolds;
    if (dataflow === 'os') return buffer === 'ifmap' ? fr : buffer === 'filter' ? fc : fold;
    if (buffer === 'ofmap') return fc;
    const stationary = dataflow === 'ws' ? 'filter' : 'ifmap';
    return buffer === stationary ? fold : fr;
  };

  // About one tile per fold and buffer (more when chunked: the table grows).
  const table = new TileTable(3 * folds + 8);
  const tiling = {} as Record<BufferName, Tiling>;
  const bytes = (elements: number, width: number): number => Math.ceil((elements * width) / 8);

  for (let b = 0; b < BUFFERS.length; b++) {
    const buffer = BUFFERS[b];
    const isOfmap = buffer === 'ofmap';
    const width = bits[buffer];
    const halfBytes = half[buffer];
    const keyOfFold = (fold: number): number => keyOf(buffer, fold);
    const offset = table.count;
    /** A new tile with no accesses yet; returns its id. */
    const add = (fillElements: number, fillBytes: number, drainElements: number, drainBytes: number, final: boolean): number =>
      table.add(b, fillElements, fillBytes, drainElements, drainBytes, final);
    // Steps [stepStart, stepEnd) of `fold` join tile `id`. Offsets are monotonic in the step
    // (increasing, or decreasing for a stationary preload), so the ends give the extent.
    const access = (id: number, fold: number, s: FoldStream, stepStart: number, stepEnd: number): void => {
      const base = fold * cyclesPerFold;
      if (withSegments) table.segments.push(id, fold, stepStart, stepEnd);
      table.accesses[id] += isOfmap ? (stepEnd - stepStart) * s.elements : stepEnd - stepStart;
      const whole = stepStart === 0 && stepEnd === s.steps;
      table.first[id] = Math.min(table.first[id], base + (whole ? s.firstOfAll : Math.min(s.first(stepStart), s.first(stepEnd - 1))));
      table.last[id] = Math.max(table.last[id], base + (whole ? s.lastOfAll : Math.max(s.last(stepStart), s.last(stepEnd - 1))));
    };
    const tooSmall = (what: string, need: number): UserError =>
      new UserError(`${where}: sram.${buffer} is too small for this GEMM: half of it (${half[buffer]} B) cannot hold ${what} (${need} B)`);

    if (buffer !== 'ofmap' && isResident(arch, whole, buffer)) {
      // The whole operand fits in one half: load it once and keep it. It arrives slice by slice in the
      // order the folds first use them, each slice fetched once the array has begun on the one before,
      // so the array starts on the first slice instead of waiting for the whole operand.
      tiling[buffer] = 'resident';
      const slices = new Map<number, number>();
      for (let f = 0; f < folds; f++) {
        const st = streams(f)[buffer];
        const key = keyOf(buffer, f);
        let id = slices.get(key);
        if (id === undefined) {
          const elements = st.steps * st.elements;
          id = add(elements, bytes(elements, bits[buffer]), 0, 0, true);
          slices.set(key, id);
        }
        access(id, f, st, 0, st.steps);
      }
    } else {
      let kind: Tiling = 'per-fold';
      for (let f = 0; f < folds; ) {
        const st = streams(f)[buffer];
        let runEnd = f + 1;
        const key = keyOfFold(f);
        while (runEnd < folds && keyOfFold(runEnd) === key) runEnd++;
        const sliceElements = st.steps * st.elements;
        const isPsum = isOfmap && dataflow !== 'os';
        if (bytes(sliceElements, width) <= halfBytes) {
          // The run's slice fits: one tile for the run (for WS/IS ofmap: the partial sums of a column fold).
          if (runEnd - f > 1) kind = kind === 'per-fold' ? 'per-slice' : kind;
          const id = isOfmap ? add(0, 0, sliceElements, bytes(sliceElements, outputBits), true) : add(sliceElements, bytes(sliceElements, width), 0, 0, true);
          for (let g = f; g < runEnd; g++) {
            const sg = streams(g)[buffer];
            access(id, g, sg, 0, sg.steps);
          }
        } else {
          if (st.stationary) throw tooSmall(`a ${st.steps}x${st.elements} stationary tile`, bytes(sliceElements, bits[buffer]));
          const stepBits = st.elements * bits[buffer];
          const chunk = Math.floor((half[buffer] * 8) / stepBits);
          // Results of consecutive ofmap steps are written over overlapping windows of C cycles (the skew),
          // so a half must hold at least C steps for a half to be free again before its next tile starts.
          const minChunk = buffer === 'ofmap' ? Math.min(C, st.steps) : 1;
          if (chunk < minChunk) {
            const what = buffer === 'ofmap' ? `${minChunk} rows of ${st.elements} results` : `one ${st.elements}-element operand vector`;
            throw tooSmall(what, bytes(minChunk * st.elements, bits[buffer]));
          }
          kind = isPsum ? 'spilled' : 'chunked';
          for (let g = f; g < runEnd; g++) {
            const sg = streams(g)[buffer];
            const fr = g % rowFolds;
            for (let s0 = 0; s0 < sg.steps; s0 += chunk) {
              const s1 = Math.min(sg.steps, s0 + chunk);
              const elements = (s1 - s0) * sg.elements;
              // Spilled partial sums: every K fold but the first reads them back, every one but the last writes them out.
              const readsBack = isPsum && fr > 0;
              const final = !isPsum || fr === rowFolds - 1;
              const id =
                buffer === 'ofmap'
                  ? add(readsBack ? elements : 0, readsBack ? bytes(elements, bits.ofmap) : 0, elements, bytes(elements, final ? outputBits : bits.ofmap), final)
                  : add(elements, bytes(elements, bits[buffer]), 0, 0, final);
              access(id, g, sg, s0, s1);
            }
          }
        }
        f = runEnd;
      }
      tiling[buffer] = kind;
    }
    const resident = tiling[buffer] === 'resident';
    for (let i = 0; offset + i < table.count; i++) {
      // A resident operand's slices never leave: no half is reused, each waits only for the previous slice.
      table.prev[offset + i] = !resident && i >= 2 ? offset + i - 2 : -1;
      table.fillAfter[offset + i] = resident && i >= 1 ? offset + i - 1 : -1;
    }
  }
  return { table, tiling };
}

/**
 * The DMA queue in the order of the MemoryPlan comment: by key, drains before fills, then by first
 * access, then by tile. That order is total (a tile has at most one fill and one drain), so any
 * method that sorts by it gives the same queue. A transfer is encoded as 2·tile + (1 for a drain).
 * The transfers come in six lists (fills and drains of each buffer, in tile order), each normally
 * already in queue order because a buffer's tiles follow the folds; then merging the six heads
 * replaces the O(n log n) sort. A list out of order (none of the shipped shapes has one, but nothing
 * forbids it) falls back to sorting everything.
 */
function queueOrder(table: TileTable): Int32Array {
  const n = table.count;
  // The key of every possible transfer x = 2·tile + (1 for a drain), and the six lists one after
  // another in `lists` (list l at [starts[l], starts[l + 1])), in one allocation.
  const memory = borrowMemory(2 * n * (8 + 4));
  const key = new Float64Array(memory, 0, 2 * n);
  for (let id = 0; id < n; id++) {
    key[2 * id] = fillKey(table, id);
    key[2 * id + 1] = table.last[id];
  }
  const before = (x: number, y: number): number =>
    key[x] - key[y] || (1 - (x & 1)) - (1 - (y & 1)) || table.first[x >> 1] - table.first[y >> 1] || (x >> 1) - (y >> 1);
  const lists = new Int32Array(memory, 16 * n, 2 * n);
  const starts = [0];
  let count = 0;
  for (let b = 0; b < BUFFERS.length; b++) {
    for (let drain = 0; drain < 2; drain++) {
      const bytes = drain === 1 ? table.drainBytes : table.fillBytes;
      for (let id = 0; id < n; id++) if (table.buffer[id] === b && bytes[id] > 0) lists[count++] = 2 * id + drain;
      starts.push(count);
    }
  }
  for (let l = 0; l + 1 < starts.length; l++) {
    for (let i = starts[l] + 1; i < starts[l + 1]; i++) {
      if (before(lists[i - 1], lists[i]) >= 0) {
        const sorted = lists.slice(0, count).sort(before);
        returnMemory(memory);
        return sorted;
      }
    }
  }
  const heads = starts.slice(0, -1);
  const queue = new Int32Array(count);
  for (let q = 0; q < count; q++) {
    let best = -1;
    for (let l = 0; l < heads.length; l++) {
      if (heads[l] < starts[l + 1] && (best < 0 || before(lists[heads[l]], lists[heads[best]]) < 0)) best = l;
    }
    queue[q] = lists[heads[best]++];
  }
  returnMemory(memory);
  return queue;
}

/** The stall-free cycle after which a fill may start: its half is free and the slice before it is in use. */
function fillKey(table: TileTable, id: number): number {
  const free = table.prev[id] < 0 ? -1 : table.last[table.prev[id]];
  const after = table.fillAfter[id] < 0 ? -1 : table.first[table.fillAfter[id]];
  return Math.max(free, after);
}

/** Cycles of a transfer: whole cycles, the tolerance absorbing the rounding of fractional bandwidths. */
export function transferCycles(bytes: number, bytesPerCycle: number): number {
  if (bytesPerCycle === Infinity) return 0;
  return Math.max(1, Math.ceil(bytes / bytesPerCycle - 1e-9));
}

/** Runs the DMA queue of `plan` against the array's stall-free schedule (solveStalls) and returns the total cycles. */
export function memoryStallCycles(
  plan: MemoryPlan,
  computeCycles: number,
  bytesPerCycle: number,
): { totalCycles: number; initialFillCycles: number; finalDrainCycles: number } {
  const table = new TileTable(plan.tiles.length);
  for (const t of plan.tiles) {
    const id = table.add(BUFFERS.indexOf(t.buffer), t.fillElements, t.fillBytes, t.drainElements, t.drainBytes, t.final);
    table.prev[id] = t.prev;
    table.fillAfter[id] = t.fillAfter;
    table.accesses[id] = t.accesses;
    table.first[id] = t.firstAccessCycle;
    table.last[id] = t.lastAccessCycle;
  }
  const queue = new Int32Array(plan.transfers.length);
  const queueBytes = new Float64Array(plan.transfers.length);
  plan.transfers.forEach((x, q) => {
    queue[q] = 2 * x.tile + (x.kind === 'drain' ? 1 : 0);
    queueBytes[q] = x.bytes;
  });
  const { totalCycles, initialFillCycles, finalDrainCycles } = solveStalls(table, queue, queueBytes, computeCycles, bytesPerCycle)!;
  table.release();
  return { totalCycles, initialFillCycles, finalDrainCycles };
}

/**
 * Runs the DMA queue against the array's stall-free schedule and returns the total cycles.
 * actual(t) = t + S(t), where S(t) is the stall accumulated at the accesses at or before stall-free
 * cycle t (the array freezes before a cycle whose tile is not usable). Before a transfer keyed at
 * cycle k is placed, every access up to k is resolved; those only wait on transfers keyed earlier.
 * `queue` holds 2·tile + (1 for a drain) per transfer, `queueBytes` what each moves.
 *
 * With `checkpoints` (sorted by `at`), it records its state relative to each checkpoint where the
 * keys from `at` on begin (see periodicPlan for why that state is all the rest of the run depends on),
 * and whether a value from outside that state ever decided a max() after it (then `valid` is false).
 */
function solveStalls(
  table: TileTable,
  queue: Int32Array,
  queueBytes: ArrayLike<number>,
  computeCycles: number,
  bytesPerCycle: number,
  checkpoints: readonly Checkpoint[] = [],
  /** Called after each checkpoint's state is recorded; false stops the solve (the result is then undefined). */
  keepGoing: (states: readonly CheckpointState[]) => boolean = () => true,
): { totalCycles: number; initialFillCycles: number; finalDrainCycles: number; checkpoints?: CheckpointState[] } | undefined {
  const n = table.count;
  // Six columns of n entries in one allocation (see TileTable.allocate).
  const memory = borrowMemory(n * (4 * 8 + 2 * 4));
  const fillEnd = new Float64Array(memory, 0, n).fill(NaN);
  const drainEnd = new Float64Array(memory, 8 * n, n).fill(NaN);
  const needs = byFirstAccess(table);
  const needCycle = new Float64Array(memory, 16 * n, n);
  const stallAfter = new Float64Array(memory, 24 * n, n);
  let resolved = 0;
  let stall = 0;
  // For checkpoints: `states.length` of them are recorded; a fill or drain end computed after k of them
  // (fillEpoch, drainEpoch) is in the state of, or shifted along with, the first k.
  const states: CheckpointState[] = [];
  const fillEpoch = new Int32Array(memory, 32 * n, n);
  const drainEpoch = new Int32Array(memory, 36 * n, n);
  // Where the value actual() or release() last returned comes from: a time of the array at stall-free
  // cycle `origin` (since < 0; in a checkpoint's state from its floor on), or the fill or drain end of the
  // tile first accessed at `origin`, computed after `since` checkpoints (in the state of the ones before
  // it, shifted along; of the others, only when the tile is in their window).
  let origin = 0;
  let since = -1;
  /** The value decided a max() after the checkpoints recorded so far: the ones whose state does not hold it are invalid. */
  // The latest floor of the recorded checkpoints: a value from at or after it is in every window from below.
  let latestFloor = -Infinity;
  const binding = (from: number, after: number): void => {
    if (after < 0 && from >= latestFloor) return;
    for (let c = Math.max(0, after); c < states.length; c++) {
      if (from < checkpoints[c].floor || (after >= 0 && from >= checkpoints[c].end)) states[c].valid = false;
    }
  };

  const actual = (t: number): number => {
    origin = t;
    since = -1;
    // Stall accumulated at the needs at or before t (binary search over the resolved prefix).
    const lo = resolvedAtOrBefore(t);
    return t + (lo === 0 ? 0 : stallAfter[lo - 1]);
  };
  const resolvedAtOrBefore = (t: number): number => {
    let lo = 0;
    let hi = resolved;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (needCycle[mid] <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const release = (id: number): number => {
    if (table.drainBytes[id] > 0) {
      if (Number.isNaN(drainEnd[id])) throw new Error('memory plan: a half is reused before its drain was queued');
      origin = table.first[id];
      since = drainEpoch[id];
      return drainEnd[id];
    }
    return actual(table.last[id]) + 1;
  };
  const resolveUpTo = (k: number): void => {
    while (resolved < n && table.first[needs[resolved]] <= k) {
      const id = needs[resolved];
      // A need outside a checkpoint's window resolved after it: not in its state.
      if (states.length > 0) binding(table.first[id], -1);
      let ready = 0;
      if (table.fillBytes[id] > 0) {
        ready = fillEnd[id];
        origin = table.first[id];
        since = fillEpoch[id];
      } else if (table.prev[id] >= 0) ready = release(table.prev[id]);
      if (Number.isNaN(ready)) throw new Error('memory plan: a tile is needed before its fill was queued');
      const at = table.first[id] + stall;
      if (ready > at) {
        stall += ready - at;
        binding(origin, since);
      }
      needCycle[resolved] = table.first[id];
      stallAfter[resolved] = stall;
      resolved++;
    }
  };

  let portFree = 0;
  const snapshot = (cp: Checkpoint): void => {
    const shift = cp.at + stall;
    const oldest = resolvedAtOrBefore(cp.floor - 1);
    // The window's tiles: needs[from … to) (first access in [floor, end)).
    let from = 0;
    let to = n;
    while (from < to) {
      const mid = (from + to) >> 1;
      if (table.first[needs[mid]] < cp.floor) from = mid + 1;
      else to = mid;
    }
    to = from;
    while (to < n && table.first[needs[to]] < cp.end) to++;
    const state = new Array<number>(3 + 2 * (resolved - oldest) + 3 * (to - from));
    let k = 0;
    state[k++] = portFree - shift;
    state[k++] = resolved - oldest;
    state[k++] = oldest === 0 ? -Infinity : stallAfter[oldest - 1] - stall;
    for (let i = oldest; i < resolved; i++) {
      state[k++] = needCycle[i] - cp.at;
      state[k++] = stallAfter[i] - stall;
    }
    for (let i = from; i < to; i++) {
      const id = needs[i];
      // A fill end is read only by its tile's first access: once that is resolved, it no longer matters.
      state[k++] = table.buffer[id];
      state[k++] = i < resolved ? Infinity : fillEnd[id] - shift;
      state[k++] = drainEnd[id] - shift;
    }
    states.push({ state, stall, valid: true });
    latestFloor = Math.max(latestFloor, cp.floor);
  };
  for (let q = 0; q < queue.length; q++) {
    const id = queue[q] >> 1;
    const drain = (queue[q] & 1) === 1;
    const key = drain ? table.last[id] : fillKey(table, id);
    while (states.length < checkpoints.length && key >= checkpoints[states.length].at) {
      snapshot(checkpoints[states.length]);
      if (!keepGoing(states)) {
        returnMemory(memory);
        return undefined;
      }
    }
    resolveUpTo(key);
    // What the transfer waits for besides the port: up to two values, each checked for binding.
    let ready = 0;
    if (drain) {
      ready = actual(table.last[id]) + 1;
      if (ready > portFree) binding(origin, since);
    } else {
      let other = -Infinity;
      let otherFrom = 0;
      let otherSince = -1;
      if (table.prev[id] >= 0) {
        other = release(table.prev[id]);
        otherFrom = origin;
        otherSince = since;
      }
      if (table.fillAfter[id] >= 0) {
        ready = actual(table.first[table.fillAfter[id]]) + 1;
        if (ready > portFree && ready >= other) binding(origin, since);
      }
      if (other > portFree && other >= ready) binding(otherFrom, otherSince);
      ready = Math.max(ready, other, 0);
    }
    const start = Math.max(portFree, ready);
    portFree = start + transferCycles(queueBytes[q], bytesPerCycle);
    if (drain) {
      drainEnd[id] = portFree;
      drainEpoch[id] = states.length;
    } else {
      fillEnd[id] = portFree;
      fillEpoch[id] = states.length;
    }
  }
  resolveUpTo(Infinity);
  // The initial fill is the stall at the first cycle that touches memory.
  let first = 0;
  while (first + 1 < resolved && needCycle[first + 1] === needCycle[0]) first++;
  const initialFillCycles = resolved > 0 ? stallAfter[first] : 0;
  const arrayEnd = computeCycles + stall;
  const totalCycles = Math.max(arrayEnd, portFree);
  const timing = { totalCycles, initialFillCycles, finalDrainCycles: totalCycles - arrayEnd };
  returnMemory(memory);
  return checkpoints.length === 0 ? timing : { ...timing, checkpoints: states };
}

/** Where solveStalls records its state: at the first transfer keyed at or after `at`, holding the tiles first accessed in [floor, end). */
interface Checkpoint {
  at: number;
  floor: number;
  end: number;
}

interface CheckpointState {
  state: number[] | undefined;
  stall: number;
  /** No value outside the state decided a max() after the checkpoint. */
  valid: boolean;
}

function sameState(x: number[], y: number[]): boolean {
  return x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
}

/**
 * Tile ids in order of first access, ties by id (what a stable sort by first access gives). A buffer's
 * tiles are contiguous and normally already in that order, so the buffers' runs are merged (a tie goes
 * to the earlier run, whose ids are lower); a run out of order falls back to the sort.
 */
function byFirstAccess(table: TileTable): Int32Array {
  const n = table.count;
  const first = table.first;
  const order = new Int32Array(n);
  const starts: number[] = [0];
  for (let id = 1; id < n; id++) {
    if (table.buffer[id] !== table.buffer[id - 1]) starts.push(id);
    else if (first[id] < first[id - 1]) {
      order.set(Array.from({ length: n }, (_, i) => i).sort((x, y) => first[x] - first[y]));
      return order;
    }
  }
  starts.push(n);
  const heads = starts.slice(0, -1);
  for (let q = 0; q < n; q++) {
    let best = -1;
    for (let l = 0; l < heads.length; l++) {
      if (heads[l] < starts[l + 1] && (best < 0 || first[heads[l]] < first[heads[best]])) best = l;
    }
    order[q] = heads[best]++;
  }
  return order;
}

/** SRAM accesses in elements, from the plan's sums and the fold shapes. */
function accessCounts(
  sums: TileSums,
  mapping: FoldMapping,
  gemm: Gemm,
): {
  ifmap: { reads: number; writes: number };
  filter: { reads: number; writes: number };
  ofmap: { reads: number; writes: number; psumReads: number; resultWrites: number };
} {
  const { m, k, n } = gemm;
  const { rowFolds, colFolds, dataflow } = mapping;
  const fills = { ifmap: sums.fillElements[0], filter: sums.fillElements[1], ofmap: sums.fillElements[2] };
  const drains = { ofmap: sums.drainElements[2] };
  // Every fold reads its real operand values once (padding is injected as zeros, not read):
  // OS reads all of in per column fold and all of w once per row fold; WS reads in per column fold
  // and w once; IS reads in once and w per column fold.
  const ifmapReads = dataflow === 'is' ? m * k : colFolds * m * k;
  const filterReads = dataflow === 'os' ? rowFolds * k * n : dataflow === 'ws' ? k * n : colFolds * k * n;
  // Results written by the array: OS once; WS/IS once per K fold, each after the first reading the partial sum back.
  const arrayWrites = dataflow === 'os' ? m * n : rowFolds * m * n;
  const psumReads = dataflow === 'os' ? 0 : (rowFolds - 1) * m * n;
  return {
    ifmap: { reads: ifmapReads, writes: fills.ifmap },
    filter: { reads: filterReads, writes: fills.filter },
    ofmap: { reads: psumReads + drains.ofmap, writes: arrayWrites + fills.ofmap, psumReads, resultWrites: arrayWrites },
  };
}
