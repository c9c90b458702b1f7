/**
 * The register-level systolic array: integer operands move through an R×C grid of PE registers one
 * clock edge at a time, for each dataflow. It exists to prove two things about the fast models on
 * small shapes: that the mapping computes exactly out = in · w, and that the array takes exactly the
 * cycles the fold model (fold.ts) and the native memory model (native.ts) predict.
 *
 * Nothing here uses the analytical formulas: a fold ends when the last PE's result has actually
 * left the array, and a stall happens when the data a cycle needs has not actually arrived from
 * the DRAM port. The only things shared with native.ts are the fold order (column fold outer, row
 * fold inner, as SCALE-Sim walks them) and, when a bandwidth limit is given, the memory plan: which
 * SRAM tile each access falls in and the order of the DMA queue (see MemoryPlan).
 *
 * Clocking: cycle c is one clock period; every register in the array, the skew lines and the
 * controller update together at its end, or all hold when the array is stalled (one clock enable).
 * Cycle counts follow the origin stated in docs/cycle-model.md ("Origin").
 *
 * Timing conventions, per fold, offsets from the fold's first cycle:
 * - The controller reads one operand vector per cycle from an SRAM; a triangular skew line delays
 *   row i (column j) by i (j) registers, so the vector read at offset s reaches PE(i,0) at s + i.
 * - OS: ifmap and filter vector s (the K index) are read at offset s. PE(i,j) does its last MAC at
 *   T − 1 + i + j and drives the sum onto its column's output bus in that cycle (one PE per column
 *   finishes per cycle, so one bus per column suffices).
 * - WS/IS: the stationary tile is shifted in from the top, bottom row first, one row per cycle at
 *   offsets 0…R − 1 (padding rows carry zeros and need no SRAM read); streamed vector s is read at
 *   R + s; partial sums flow down and leave the bottom of column j at 2R − 1 + s + j, written to the
 *   ofmap SRAM in that cycle (read-modify-write when an earlier K fold left a partial sum there).
 * - A partial fold runs the full R×C schedule on zero padding: the controller does not know which
 *   PEs are padding, only the ofmap address generator drops their results.
 */
import type { Dataflow } from './arch.js';
import type { Gemm } from './gemm.js';
import type { BufferName, MemoryPlan } from './native.js';

/** The array's shape and dataflow (a subset of SystolicArray). */
export interface ArrayShape {
  rows: number;
  cols: number;
  dataflow: Dataflow;
}

/** A DRAM port that moves `bytesPerCycle` bytes per cycle, executing `plan`'s DMA queue in order. */
export interface MemoryFeeder {
  bytesPerCycle: number;
  plan: MemoryPlan;
}

export interface RegisterArrayRun {
  /** out[M,N], row-major, as the ofmap SRAM holds it at the end. */
  out: Float64Array;
  /** Cycles from the first cycle to the end of the last one (array done and DMA queue empty). */
  cycles: number;
  /** Cycles the array advanced (its clock enabled). */
  busyCycles: number;
  /** cycles − busyCycles: waiting for data, for a free buffer half, or for the last write-back. */
  stallCycles: number;
  /** Cycles each fold kept the array busy, in fold order. */
  foldCycles: number[];
  /**
   * Elements the array read from the ifmap and filter SRAMs (padding is injected as zeros, not read),
   * results it wrote to the ofmap SRAM, and of those the writes that first read back a partial sum.
   */
  sram: { ifmapReads: number; filterReads: number; ofmapWrites: number; psumReads: number };
}

/**
 * Runs out[M,N] = a[M,K] · w[K,N] (both row-major) on the register-level array. Operands are integers;
 * sums are exact while every partial sum stays below 2^53 in magnitude. Without `feeder` the SRAMs
 * always hold what the array needs (no stalls); with it, data arrives through the DRAM port.
 */
export function runRegisterArray(
  gemm: Gemm,
  a: ArrayLike<number>,
  w: ArrayLike<number>,
  array: ArrayShape,
  feeder?: MemoryFeeder,
): RegisterArrayRun {
  const { m, k, n } = gemm;
  if (a.length !== m * k || w.length !== k * n) throw new Error(`operand sizes ${a.length}, ${w.length} do not match ${m}x${k}x${n}`);
  const { rows: R, cols: C, dataflow } = array;
  const out = new Float64Array(m * n);
  const written = new Uint8Array(m * n);
  const sram = { ifmapReads: 0, filterReads: 0, ofmapWrites: 0, psumReads: 0 };
  const [spatialRows, spatialCols] = dataflow === 'os' ? [m, n] : dataflow === 'ws' ? [k, n] : [k, m];
  const rowFolds = Math.ceil(spatialRows / R);
  const colFolds = Math.ceil(spatialCols / C);
  const memory = feeder ? new FeederState(feeder, rowFolds * colFolds) : undefined;

  const foldCycles: number[] = [];
  let cycle = 0;
  let busy = 0;
  let foldBusy = 0;
  let foldIndex = 0;
  let fold: Fold | undefined = makeFold(0);

  function makeFold(index: number): Fold | undefined {
    if (index >= rowFolds * colFolds) return undefined;
    const fc = Math.floor(index / rowFolds);
    const fr = index % rowFolds;
    const r0 = fr * R;
    const c0 = fc * C;
    const ru = Math.min(R, spatialRows - r0);
    const cu = Math.min(C, spatialCols - c0);
    // The accessors are the SRAM ports: every call is one element read or written.
    const readIn = (row: number, col: number): number => {
      sram.ifmapReads++;
      return a[row * k + col];
    };
    const readW = (row: number, col: number): number => {
      sram.filterReads++;
      return w[row * n + col];
    };
    const writeOut = (row: number, col: number, v: number, accumulate: boolean): void => {
      const idx = row * n + col;
      sram.ofmapWrites++;
      if (accumulate && written[idx] === 1) sram.psumReads++;
      out[idx] = accumulate ? out[idx] + v : v;
      written[idx] = 1;
    };
    if (dataflow === 'os') {
      return new OutputStationaryFold(R, C, k, ru, cu, (i, s) => readIn(r0 + i, s), (s, j) => readW(s, c0 + j), (i, j, v) => writeOut(r0 + i, c0 + j, v, false));
    }
    if (dataflow === 'ws') {
      return new StationaryFold(R, C, m, ru, cu, 'filter', 'ifmap', (i, j) => readW(r0 + i, c0 + j), (s, i) => readIn(s, r0 + i), (s, j, v) =>
        writeOut(s, c0 + j, v, true),
      );
    }
    return new StationaryFold(R, C, n, ru, cu, 'ifmap', 'filter', (i, j) => readIn(c0 + j, r0 + i), (s, i) => readW(r0 + i, s), (s, j, v) =>
      writeOut(c0 + j, s, v, true),
    );
  }

  while (fold !== undefined || (memory !== undefined && !memory.queueEmpty())) {
    memory?.startTransfer(cycle);
    if (fold !== undefined) {
      const accesses = memory === undefined ? [] : fold.accesses();
      if (memory === undefined || memory.allReady(foldIndex, accesses, cycle)) {
        memory?.performed(foldIndex, accesses, cycle);
        fold.step();
        busy++;
        foldBusy++;
        if (fold.done()) {
          foldCycles.push(foldBusy);
          foldBusy = 0;
          fold = makeFold(++foldIndex);
        }
      }
    }
    memory?.advanceTransfer(cycle);
    cycle++;
    if (memory !== undefined && cycle > memory.cycleLimit(busy)) {
      throw new Error('register array: DMA queue deadlocked (the memory plan does not match the accesses)');
    }
  }
  return { out, cycles: cycle, busyCycles: busy, stallCycles: cycle - busy, foldCycles, sram };
}

/** One SRAM access the array makes in a cycle: a vector read (col −1) or one result written (col j). */
export interface Access {
  buffer: BufferName;
  step: number;
  col: number;
}

interface Fold {
  /** The SRAM accesses the next cycle makes, known before the clock edge (the controller's state). */
  accesses(): Access[];
  step(): void;
  done(): boolean;
}

/** A skew line per row: register i of row r holds what was injected i + 1 cycles ago. */
class SkewLines {
  private readonly values: Float64Array[];
  private readonly tags: Int32Array[];

  constructor(lines: number) {
    this.values = Array.from({ length: lines }, (_, i) => new Float64Array(i));
    this.tags = Array.from({ length: lines }, (_, i) => new Int32Array(i).fill(-1));
  }

  /** What line `i` presents to the array this cycle when `value`/`tag` is injected now. */
  outValue(i: number, value: number): number {
    return i === 0 ? value : this.values[i][i - 1];
  }

  outTag(i: number, tag: number): number {
    return i === 0 ? tag : this.tags[i][i - 1];
  }

  shift(i: number, value: number, tag: number): void {
    const v = this.values[i];
    const t = this.tags[i];
    for (let d = v.length - 1; d > 0; d--) {
      v[d] = v[d - 1];
      t[d] = t[d - 1];
    }
    if (v.length > 0) {
      v[0] = value;
      t[0] = tag;
    }
  }
}

/**
 * Output stationary: PE(i,j) keeps out[i,j] in its accumulator; ifmap values move right, weights move
 * down, each tagged with its K index so the PE knows its last MAC (and so the test of the skew is
 * built in: the two operands meeting in a PE must carry the same K index).
 */
class OutputStationaryFold implements Fold {
  private readonly aVal: Float64Array;
  private readonly aTag: Int32Array;
  private readonly wVal: Float64Array;
  private readonly wTag: Int32Array;
  private readonly acc: Float64Array;
  private readonly rowSkew: SkewLines;
  private readonly colSkew: SkewLines;
  private readonly edgeA: Float64Array;
  private readonly edgeATag: Int32Array;
  private readonly edgeW: Float64Array;
  private readonly edgeWTag: Int32Array;
  private t = 0;
  private emitted = 0;

  constructor(
    private readonly R: number,
    private readonly C: number,
    private readonly T: number,
    private readonly ru: number,
    private readonly cu: number,
    private readonly ifmap: (i: number, s: number) => number,
    private readonly filter: (s: number, j: number) => number,
    private readonly write: (i: number, j: number, v: number) => void,
  ) {
    this.aVal = new Float64Array(R * C);
    this.aTag = new Int32Array(R * C).fill(-1);
    this.wVal = new Float64Array(R * C);
    this.wTag = new Int32Array(R * C).fill(-1);
    this.acc = new Float64Array(R * C);
    this.rowSkew = new SkewLines(R);
    this.colSkew = new SkewLines(C);
    this.edgeA = new Float64Array(R);
    this.edgeATag = new Int32Array(R);
    this.edgeW = new Float64Array(C);
    this.edgeWTag = new Int32Array(C);
  }

  done(): boolean {
    return this.emitted === this.R * this.C;
  }

  accesses(): Access[] {
    const list: Access[] = [];
    if (this.t < this.T) list.push({ buffer: 'ifmap', step: this.t, col: -1 }, { buffer: 'filter', step: this.t, col: -1 });
    for (let i = 0; i < this.ru; i++) {
      for (let j = 0; j < this.cu; j++) {
        if (this.incomingATag(i, j) === this.T - 1) list.push({ buffer: 'ofmap', step: i, col: j });
      }
    }
    return list;
  }

  private incomingATag(i: number, j: number): number {
    const injected = this.t < this.T ? this.t : -1;
    return j === 0 ? this.rowSkew.outTag(i, injected) : this.aTag[i * this.C + j - 1];
  }

  step(): void {
    const { R, C, T } = this;
    const s = this.t < T ? this.t : -1;
    for (let i = 0; i < R; i++) {
      const v = s >= 0 && i < this.ru ? this.ifmap(i, s) : 0;
      this.edgeA[i] = this.rowSkew.outValue(i, v);
      this.edgeATag[i] = this.rowSkew.outTag(i, s);
      this.rowSkew.shift(i, v, s);
    }
    for (let j = 0; j < C; j++) {
      const v = s >= 0 && j < this.cu ? this.filter(s, j) : 0;
      this.edgeW[j] = this.colSkew.outValue(j, v);
      this.edgeWTag[j] = this.colSkew.outTag(j, s);
      this.colSkew.shift(j, v, s);
    }
    // Bottom-right first, so every PE reads its neighbours' registers before they are overwritten.
    for (let i = R - 1; i >= 0; i--) {
      for (let j = C - 1; j >= 0; j--) {
        const p = i * C + j;
        const aIn = j === 0 ? this.edgeA[i] : this.aVal[p - 1];
        const aTag = j === 0 ? this.edgeATag[i] : this.aTag[p - 1];
        const wIn = i === 0 ? this.edgeW[j] : this.wVal[p - C];
        const wTag = i === 0 ? this.edgeWTag[j] : this.wTag[p - C];
        if (aTag !== wTag) throw new Error(`OS skew broken: PE(${i},${j}) got K ${aTag} and ${wTag}`);
        if (aTag >= 0) {
          this.acc[p] += aIn * wIn;
          if (aTag === T - 1) {
            if (i < this.ru && j < this.cu) this.write(i, j, this.acc[p]);
            this.emitted++;
          }
        }
        this.aVal[p] = aIn;
        this.aTag[p] = aTag;
        this.wVal[p] = wIn;
        this.wTag[p] = wTag;
      }
    }
    this.t++;
  }
}

/**
 * Weight or input stationary: a stationary tile S[R,C] is shifted in from the top, then streamed
 * vectors v_s[R] enter from the left and partial sums Σ_i v_s[i]·S[i,j] flow down column j.
 * WS: S = w[K-block, N-block], v_s = in[s, K-block]; IS: S = inᵀ[K-block, M-block], v_s = w[K-block, s].
 */
class StationaryFold implements Fold {
  private readonly stat: Float64Array;
  private readonly aVal: Float64Array;
  private readonly aTag: Int32Array;
  private readonly psum: Float64Array;
  private readonly psumTag: Int32Array;
  private readonly skew: SkewLines;
  private readonly edgeA: Float64Array;
  private readonly edgeTag: Int32Array;
  private t = 0;
  private emitted = 0;

  constructor(
    private readonly R: number,
    private readonly C: number,
    private readonly T: number,
    private readonly ru: number,
    private readonly cu: number,
    private readonly stationaryBuffer: BufferName,
    private readonly streamBuffer: BufferName,
    private readonly stationary: (i: number, j: number) => number,
    private readonly stream: (s: number, i: number) => number,
    private readonly write: (s: number, j: number, v: number) => void,
  ) {
    this.stat = new Float64Array(R * C);
    this.aVal = new Float64Array(R * C);
    this.aTag = new Int32Array(R * C).fill(-1);
    this.psum = new Float64Array(R * C);
    this.psumTag = new Int32Array(R * C).fill(-1);
    this.skew = new SkewLines(R);
    this.edgeA = new Float64Array(R);
    this.edgeTag = new Int32Array(R);
  }

  done(): boolean {
    return this.emitted === this.T * this.C;
  }

  accesses(): Access[] {
    const { R, t } = this;
    const list: Access[] = [];
    if (t < R) {
      const row = R - 1 - t;
      if (row < this.ru) list.push({ buffer: this.stationaryBuffer, step: row, col: -1 });
      return list;
    }
    if (t - R < this.T) list.push({ buffer: this.streamBuffer, step: t - R, col: -1 });
    for (let j = 0; j < this.cu; j++) {
      const tag = this.incomingTag(R - 1, j);
      if (tag >= 0) list.push({ buffer: 'ofmap', step: tag, col: j });
    }
    return list;
  }

  private incomingTag(i: number, j: number): number {
    const s = this.t - this.R;
    const injected = s >= 0 && s < this.T ? s : -1;
    return j === 0 ? this.skew.outTag(i, injected) : this.aTag[i * this.C + j - 1];
  }

  step(): void {
    const { R, C, t } = this;
    if (t < R) {
      // Preload: rows shift down one register per cycle; the bottom row goes in first.
      const row = R - 1 - t;
      for (let i = R - 1; i > 0; i--) this.stat.copyWithin(i * C, (i - 1) * C, i * C);
      for (let j = 0; j < C; j++) this.stat[j] = row < this.ru && j < this.cu ? this.stationary(row, j) : 0;
      this.t++;
      return;
    }
    const s = t - R < this.T ? t - R : -1;
    for (let i = 0; i < R; i++) {
      const v = s >= 0 && i < this.ru ? this.stream(s, i) : 0;
      this.edgeA[i] = this.skew.outValue(i, v);
      this.edgeTag[i] = this.skew.outTag(i, s);
      this.skew.shift(i, v, s);
    }
    for (let i = R - 1; i >= 0; i--) {
      for (let j = C - 1; j >= 0; j--) {
        const p = i * C + j;
        const aIn = j === 0 ? this.edgeA[i] : this.aVal[p - 1];
        const tag = j === 0 ? this.edgeTag[i] : this.aTag[p - 1];
        const above = i === 0 ? 0 : this.psum[p - C];
        if (i > 0 && tag !== this.psumTag[p - C]) throw new Error(`stationary skew broken: PE(${i},${j}) got vector ${tag}, partial sum of ${this.psumTag[p - C]}`);
        const sum = tag >= 0 ? above + aIn * this.stat[p] : 0;
        if (tag >= 0 && i === R - 1) {
          if (j < this.cu) this.write(tag, j, sum);
          this.emitted++;
        }
        this.psum[p] = sum;
        this.psumTag[p] = tag;
        this.aVal[p] = aIn;
        this.aTag[p] = tag;
      }
    }
    this.t++;
  }
}

/**
 * The SRAM side of a bandwidth-limited run: which tiles have arrived, which buffer halves are free,
 * and the DMA queue, moving `bytesPerCycle` bytes in every cycle a transfer is active. A transfer
 * occupies whole cycles (what is left of its last cycle is not given to the next one), and its
 * effect (data ready, half free) is visible from the cycle after it finishes.
 */
class FeederState {
  private readonly plan: MemoryPlan;
  private readonly bytesPerCycle: number;
  /** tile id per (buffer, fold, step), built from the plan's segments. */
  private readonly lookup: Map<string, Int32Array>;
  private readonly remaining: Int32Array;
  /** First cycle from which a tile's fill has arrived / its half is free again / its drain may start. */
  private readonly filledAt: Float64Array;
  private readonly releasedAt: Float64Array;
  private readonly drainableAt: Float64Array;
  private readonly firstAccessedAt: Float64Array;
  /** Upper bound on the cycles the queue keeps the port busy. */
  private readonly queueCycles: number;
  private next = 0;
  private active = false;
  private delivered = 0;

  constructor(feeder: MemoryFeeder, folds: number) {
    this.plan = feeder.plan;
    this.bytesPerCycle = feeder.bytesPerCycle;
    const tiles = this.plan.tiles;
    this.remaining = Int32Array.from(tiles, (t) => t.accesses);
    this.queueCycles = this.plan.transfers.reduce((sum, t) => sum + 1 + t.bytes / this.bytesPerCycle, 0);
    this.filledAt = new Float64Array(tiles.length).fill(Infinity);
    this.releasedAt = new Float64Array(tiles.length).fill(Infinity);
    this.drainableAt = new Float64Array(tiles.length).fill(Infinity);
    this.firstAccessedAt = new Float64Array(tiles.length).fill(Infinity);
    this.lookup = new Map();
    tiles.forEach((tile, id) => {
      for (const seg of tile.segments) {
        if (seg.fold >= folds) throw new Error(`memory plan names fold ${seg.fold} of ${folds}`);
        const key = `${tile.buffer}:${seg.fold}`;
        let steps = this.lookup.get(key);
        if (steps === undefined || steps.length < seg.stepEnd) {
          const grown = new Int32Array(Math.max(seg.stepEnd, steps?.length ?? 0)).fill(-1);
          if (steps) grown.set(steps);
          steps = grown;
          this.lookup.set(key, steps);
        }
        steps.fill(id, seg.stepStart, seg.stepEnd);
      }
    });
  }

  /** Generous bound on the run length; exceeding it means the plan and the array disagree. */
  cycleLimit(busy: number): number {
    return 10 * (busy + this.queueCycles) + 1000;
  }

  queueEmpty(): boolean {
    return this.next >= this.plan.transfers.length;
  }

  private tileOf(fold: number, access: Access): number {
    const id = this.lookup.get(`${access.buffer}:${fold}`)?.[access.step] ?? -1;
    if (id < 0) throw new Error(`memory plan has no tile for ${access.buffer} step ${access.step} of fold ${fold}`);
    return id;
  }

  private usable(id: number, cycle: number): boolean {
    const tile = this.plan.tiles[id];
    if (tile.fillBytes > 0) return this.filledAt[id] <= cycle;
    return tile.prev < 0 || this.releasedAt[tile.prev] <= cycle;
  }

  allReady(fold: number, accesses: Access[], cycle: number): boolean {
    return accesses.every((acc) => this.usable(this.tileOf(fold, acc), cycle));
  }

  /**
   * The accesses happened in `cycle`: from the next cycle, a tile accessed for the first time lets the
   * fill queued after it start, and a tile accessed for the last time frees its half (or may drain).
   */
  performed(fold: number, accesses: Access[], cycle: number): void {
    for (const acc of accesses) {
      const id = this.tileOf(fold, acc);
      if (this.firstAccessedAt[id] === Infinity) this.firstAccessedAt[id] = cycle + 1;
      if (--this.remaining[id] === 0) {
        if (this.plan.tiles[id].drainBytes > 0) this.drainableAt[id] = cycle + 1;
        else this.releasedAt[id] = cycle + 1;
      }
    }
  }

  startTransfer(cycle: number): void {
    if (this.active || this.queueEmpty()) return;
    const transfer = this.plan.transfers[this.next];
    const tile = this.plan.tiles[transfer.tile];
    const ready =
      transfer.kind === 'drain'
        ? this.drainableAt[transfer.tile] <= cycle
        : (tile.prev < 0 || this.releasedAt[tile.prev] <= cycle) && (tile.fillAfter < 0 || this.firstAccessedAt[tile.fillAfter] <= cycle);
    if (ready) {
      this.active = true;
      this.delivered = 0;
    }
  }

  advanceTransfer(cycle: number): void {
    if (!this.active) return;
    const transfer = this.plan.transfers[this.next];
    this.delivered += this.bytesPerCycle;
    if (this.delivered < transfer.bytes - 1e-9) return;
    if (transfer.kind === 'fill') this.filledAt[transfer.tile] = cycle + 1;
    else this.releasedAt[transfer.tile] = cycle + 1;
    this.active = false;
    this.next++;
  }
}
