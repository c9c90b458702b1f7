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
 * the same plan cycle by cycle and the tests check that both stall the same number of cycles.
 */
import { UserError } from '../config/errors.js';
import { dramBytesPerCycle, type Arch, type Dataflow } from './arch.js';
import { foldMapping, type FoldMapping } from './fold.js';
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
  const plan = planMemory(arch, gemm, { dataflow, outputBits, where: arch.name });
  const timing = memoryStallCycles(plan, mapping.computeCycles, bytesPerCycle);
  const counts = accessCounts(plan, mapping, gemm);
  const macs = gemmMacs(gemm);
  const pes = mapping.rows * mapping.cols;
  const sum = (buffer: BufferName, kind: 'fillBytes' | 'drainBytes', final?: boolean): number =>
    plan.tiles.filter((t) => t.buffer === buffer && (final === undefined || t.final === final)).reduce((s, t) => s + t[kind], 0);
  const dram = {
    ifmapReadBytes: sum('ifmap', 'fillBytes'),
    filterReadBytes: sum('filter', 'fillBytes'),
    psumReadBytes: sum('ofmap', 'fillBytes'),
    psumWriteBytes: sum('ofmap', 'drainBytes', false),
    ofmapWriteBytes: sum('ofmap', 'drainBytes', true),
    readBytes: 0,
    writeBytes: 0,
  };
  dram.readBytes = dram.ifmapReadBytes + dram.filterReadBytes + dram.psumReadBytes;
  dram.writeBytes = dram.psumWriteBytes + dram.ofmapWriteBytes;
  const tiles = { ifmap: 0, filter: 0, ofmap: 0 };
  for (const t of plan.tiles) tiles[t.buffer]++;
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
    tiling: plan.tiling,
    tiles,
    bytesPerCycle,
  };
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
  const operandElements = { ifmap: gemm.m * gemm.k, filter: gemm.k * gemm.n };

  // Only four fold shapes exist (full or partial in rows and in columns): build each once.
  const shapes = new Map<number, Record<BufferName, FoldStream>>();
  const streamsOf = (ru: number, cu: number): Record<BufferName, FoldStream> => {
    if (dataflow === 'os') {
      const vector = (elements: number): FoldStream => ({ steps: T, elements, first: (s) => s, last: (s) => s, stationary: false });
      return {
        ifmap: vector(ru),
        filter: vector(cu),
        ofmap: { steps: ru, elements: cu, first: (i) => T - 1 + i, last: (i) => T - 1 + i + cu - 1, stationary: false },
      };
    }
    const stationary: FoldStream = { steps: ru, elements: cu, first: (r) => R - 1 - r, last: (r) => R - 1 - r, stationary: true };
    const streamed: FoldStream = { steps: T, elements: ru, first: (s) => R + s, last: (s) => R + s, stationary: false };
    const ofmap: FoldStream = { steps: T, elements: cu, first: (s) => 2 * R - 1 + s, last: (s) => 2 * R - 1 + s + cu - 1, stationary: false };
    return dataflow === 'ws' ? { filter: stationary, ifmap: streamed, ofmap } : { ifmap: stationary, filter: streamed, ofmap };
  };
  const streams = (fold: number): Record<BufferName, FoldStream> => {
    const fc = Math.floor(fold / rowFolds);
    const fr = fold % rowFolds;
    const ru = fr === rowFolds - 1 ? mapping.lastFoldRows : R;
    const cu = fc === colFolds - 1 ? mapping.lastFoldCols : C;
    const id = ru * (C + 1) + cu;
    let shape = shapes.get(id);
    if (shape === undefined) {
      shape = streamsOf(ru, cu);
      shapes.set(id, shape);
    }
    return shape;
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

  const tiles: Tile[] = [];
  const tiling = {} as Record<BufferName, Tiling>;
  const bytes = (elements: number, width: number): number => Math.ceil((elements * width) / 8);

  for (const buffer of BUFFERS) {
    const own: Tile[] = [];
    const add = (tile: Tile): void => {
      own.push(tile);
    };
    // Offsets are monotonic in the step (increasing, or decreasing for a stationary preload).
    const extent = (fold: number, s: FoldStream, stepStart: number, stepEnd: number): [number, number] => {
      const base = fold * cyclesPerFold;
      return [
        base + Math.min(s.first(stepStart), s.first(stepEnd - 1)),
        base + Math.max(s.last(stepStart), s.last(stepEnd - 1)),
      ];
    };
    const accessesOf = (s: FoldStream, steps: number): number => (buffer === 'ofmap' ? steps * s.elements : steps);
    const tooSmall = (what: string, need: number): UserError =>
      new UserError(`${where}: sram.${buffer} is too small for this GEMM: half of it (${half[buffer]} B) cannot hold ${what} (${need} B)`);

    if (buffer !== 'ofmap' && bytes(operandElements[buffer], bits[buffer]) <= half[buffer]) {
      // The whole operand fits in one half: load it once and keep it. It arrives slice by slice in the
      // order the folds first use them, each slice fetched once the array has begun on the one before,
      // so the array starts on the first slice instead of waiting for the whole operand.
      tiling[buffer] = 'resident';
      const slices = new Map<number, Tile>();
      for (let f = 0; f < folds; f++) {
        const st = streams(f)[buffer];
        const key = keyOf(buffer, f);
        let tile = slices.get(key);
        if (tile === undefined) {
          const elements = st.steps * st.elements;
          tile = {
            buffer,
            prev: -1,
            fillAfter: -1,
            fillElements: elements,
            fillBytes: bytes(elements, bits[buffer]),
            drainBytes: 0,
            drainElements: 0,
            accesses: 0,
            segments: [],
            firstAccessCycle: Infinity,
            lastAccessCycle: -Infinity,
            final: true,
          };
          slices.set(key, tile);
          add(tile);
        }
        const [first, last] = extent(f, st, 0, st.steps);
        tile.segments.push({ fold: f, stepStart: 0, stepEnd: st.steps });
        tile.accesses += accessesOf(st, st.steps);
        tile.firstAccessCycle = Math.min(tile.firstAccessCycle, first);
        tile.lastAccessCycle = Math.max(tile.lastAccessCycle, last);
      }
    } else {
      let kind: Tiling = 'per-fold';
      for (let f = 0; f < folds; ) {
        const st = streams(f)[buffer];
        let runEnd = f + 1;
        const key = keyOf(buffer, f);
        while (runEnd < folds && keyOf(buffer, runEnd) === key) runEnd++;
        const sliceElements = st.steps * st.elements;
        const isPsum = buffer === 'ofmap' && dataflow !== 'os';
        if (bytes(sliceElements, bits[buffer]) <= half[buffer]) {
          // The run's slice fits: one tile for the run (for WS/IS ofmap: the partial sums of a column fold).
          if (runEnd - f > 1) kind = kind === 'per-fold' ? 'per-slice' : kind;
          const tile: Tile = {
            buffer,
            prev: -1,
            fillAfter: -1,
            fillElements: buffer === 'ofmap' ? 0 : sliceElements,
            fillBytes: buffer === 'ofmap' ? 0 : bytes(sliceElements, bits[buffer]),
            drainElements: buffer === 'ofmap' ? sliceElements : 0,
            drainBytes: buffer === 'ofmap' ? bytes(sliceElements, outputBits) : 0,
            accesses: 0,
            segments: [],
            firstAccessCycle: Infinity,
            lastAccessCycle: -Infinity,
            final: true,
          };
          for (let g = f; g < runEnd; g++) {
            const sg = streams(g)[buffer];
            const [first, last] = extent(g, sg, 0, sg.steps);
            tile.segments.push({ fold: g, stepStart: 0, stepEnd: sg.steps });
            tile.accesses += accessesOf(sg, sg.steps);
            tile.firstAccessCycle = Math.min(tile.firstAccessCycle, first);
            tile.lastAccessCycle = Math.max(tile.lastAccessCycle, last);
          }
          add(tile);
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
              const [first, last] = extent(g, sg, s0, s1);
              // Spilled partial sums: every K fold but the first reads them back, every one but the last writes them out.
              const readsBack = isPsum && fr > 0;
              const final = !isPsum || fr === rowFolds - 1;
              add({
                buffer,
                prev: -1,
                fillAfter: -1,
                fillElements: buffer === 'ofmap' ? (readsBack ? elements : 0) : elements,
                fillBytes: buffer === 'ofmap' ? (readsBack ? bytes(elements, bits.ofmap) : 0) : bytes(elements, bits[buffer]),
                drainElements: buffer === 'ofmap' ? elements : 0,
                drainBytes: buffer === 'ofmap' ? bytes(elements, final ? outputBits : bits.ofmap) : 0,
                accesses: accessesOf(sg, s1 - s0),
                segments: [{ fold: g, stepStart: s0, stepEnd: s1 }],
                firstAccessCycle: first,
                lastAccessCycle: last,
                final,
              });
            }
          }
        }
        f = runEnd;
      }
      tiling[buffer] = kind;
    }
    const offset = tiles.length;
    const resident = tiling[buffer] === 'resident';
    own.forEach((t, i) => {
      // A resident operand's slices never leave: no half is reused, each waits only for the previous slice.
      t.prev = !resident && i >= 2 ? offset + i - 2 : -1;
      t.fillAfter = resident && i >= 1 ? offset + i - 1 : -1;
      tiles.push(t);
    });
  }

  const keyed: { transfer: Transfer; key: number; drain: number; first: number }[] = [];
  tiles.forEach((tile, id) => {
    if (tile.fillBytes > 0) {
      const key = fillKey(tiles, tile);
      keyed.push({ transfer: { tile: id, kind: 'fill', bytes: tile.fillBytes }, key, drain: 1, first: tile.firstAccessCycle });
    }
    if (tile.drainBytes > 0) {
      keyed.push({ transfer: { tile: id, kind: 'drain', bytes: tile.drainBytes }, key: tile.lastAccessCycle, drain: 0, first: tile.firstAccessCycle });
    }
  });
  keyed.sort((x, y) => x.key - y.key || x.drain - y.drain || x.first - y.first || x.transfer.tile - y.transfer.tile);
  return { tiles, transfers: keyed.map((k) => k.transfer), tiling };
}

/** The stall-free cycle after which a fill may start: its half is free and the slice before it is in use. */
function fillKey(tiles: readonly Tile[], tile: Tile): number {
  const free = tile.prev < 0 ? -1 : tiles[tile.prev].lastAccessCycle;
  const after = tile.fillAfter < 0 ? -1 : tiles[tile.fillAfter].firstAccessCycle;
  return Math.max(free, after);
}

/** Cycles of a transfer: whole cycles, the tolerance absorbing the rounding of fractional bandwidths. */
export function transferCycles(bytes: number, bytesPerCycle: number): number {
  if (bytesPerCycle === Infinity) return 0;
  return Math.max(1, Math.ceil(bytes / bytesPerCycle - 1e-9));
}

/**
 * Runs the DMA queue against the array's stall-free schedule and returns the total cycles.
 * actual(t) = t + S(t), where S(t) is the stall accumulated at the accesses at or before stall-free
 * cycle t (the array freezes before a cycle whose tile is not usable). Before a transfer keyed at
 * cycle k is placed, every access up to k is resolved; those only wait on transfers keyed earlier.
 */
export function memoryStallCycles(
  plan: MemoryPlan,
  computeCycles: number,
  bytesPerCycle: number,
): { totalCycles: number; initialFillCycles: number; finalDrainCycles: number } {
  const { tiles, transfers } = plan;
  const fillEnd = new Float64Array(tiles.length).fill(NaN);
  const drainEnd = new Float64Array(tiles.length).fill(NaN);
  const needs = tiles.map((_, id) => id).sort((x, y) => tiles[x].firstAccessCycle - tiles[y].firstAccessCycle);
  const needCycle: number[] = [];
  const stallAfter: number[] = [];
  let resolved = 0;
  let stall = 0;

  const actual = (t: number): number => {
    // Stall accumulated at the needs at or before t (binary search over the resolved prefix).
    let lo = 0;
    let hi = resolved;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (needCycle[mid] <= t) lo = mid + 1;
      else hi = mid;
    }
    return t + (lo === 0 ? 0 : stallAfter[lo - 1]);
  };
  const release = (id: number): number => {
    const tile = tiles[id];
    if (tile.drainBytes > 0) {
      if (Number.isNaN(drainEnd[id])) throw new Error('memory plan: a half is reused before its drain was queued');
      return drainEnd[id];
    }
    return actual(tile.lastAccessCycle) + 1;
  };
  const resolveUpTo = (k: number): void => {
    while (resolved < needs.length && tiles[needs[resolved]].firstAccessCycle <= k) {
      const id = needs[resolved];
      const tile = tiles[id];
      let ready = 0;
      if (tile.fillBytes > 0) ready = fillEnd[id];
      else if (tile.prev >= 0) ready = release(tile.prev);
      if (Number.isNaN(ready)) throw new Error('memory plan: a tile is needed before its fill was queued');
      const at = tile.firstAccessCycle + stall;
      if (ready > at) stall += ready - at;
      needCycle.push(tile.firstAccessCycle);
      stallAfter.push(stall);
      resolved++;
    }
  };

  let portFree = 0;
  for (const transfer of transfers) {
    const tile = tiles[transfer.tile];
    let ready: number;
    if (transfer.kind === 'fill') {
      resolveUpTo(fillKey(tiles, tile));
      ready = tile.prev < 0 ? 0 : release(tile.prev);
      if (tile.fillAfter >= 0) ready = Math.max(ready, actual(tiles[tile.fillAfter].firstAccessCycle) + 1);
    } else {
      resolveUpTo(tile.lastAccessCycle);
      ready = actual(tile.lastAccessCycle) + 1;
    }
    const start = Math.max(portFree, ready);
    portFree = start + transferCycles(transfer.bytes, bytesPerCycle);
    if (transfer.kind === 'fill') fillEnd[transfer.tile] = portFree;
    else drainEnd[transfer.tile] = portFree;
  }
  resolveUpTo(Infinity);
  // The initial fill is the stall at the first cycle that touches memory.
  let first = 0;
  while (first + 1 < needCycle.length && needCycle[first + 1] === needCycle[0]) first++;
  const initialFillCycles = needCycle.length > 0 ? stallAfter[first] : 0;
  const arrayEnd = computeCycles + stall;
  const totalCycles = Math.max(arrayEnd, portFree);
  return { totalCycles, initialFillCycles, finalDrainCycles: totalCycles - arrayEnd };
}

/** SRAM accesses in elements, from the plan and the fold shapes. */
function accessCounts(
  plan: MemoryPlan,
  mapping: FoldMapping,
  gemm: Gemm,
): {
  ifmap: { reads: number; writes: number };
  filter: { reads: number; writes: number };
  ofmap: { reads: number; writes: number; psumReads: number; resultWrites: number };
} {
  const { m, k, n } = gemm;
  const { rowFolds, colFolds, dataflow } = mapping;
  const fills = { ifmap: 0, filter: 0, ofmap: 0 };
  const drains = { ifmap: 0, filter: 0, ofmap: 0 };
  for (const t of plan.tiles) {
    fills[t.buffer] += t.fillElements;
    drains[t.buffer] += t.drainElements;
  }
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
