/**
 * The fold mapping every view of the systolic array shares (SCALE-Sim's, the register-level array's,
 * the native stall model's): which GEMM dimensions lie along the array's rows and columns, which one
 * streams through in time, how many folds (tiles of R×C) the spatial dimensions need, and how long
 * one fold takes including pipeline fill and drain.
 *
 * For out[M,N] = in[M,K] · w[K,N] on an R×C array (SCALE-Sim v2's mapping):
 *
 * | dataflow | stays in the PEs | array rows | array cols | streamed (T) | cycles per fold |
 * | -------- | ---------------- | ---------- | ---------- | ------------ | --------------- |
 * | os       | outputs          | M          | N          | K            | T + R + C − 2   |
 * | ws       | weights          | K          | N          | M            | 2R + C + T − 2  |
 * | is       | inputs           | K          | M          | N            | 2R + C + T − 2  |
 *
 * Output stationary: T operand waves enter over T cycles, the farthest PE sees its first operand
 * R + C − 2 cycles late (skew), then results drain. Weight/input stationary add R cycles to load the
 * stationary operand into the rows before streaming starts.
 *
 * Folds never overlap and a partial fold costs a whole one: the array waits for the drain before the
 * next tile is loaded. This module has no SCALE-Sim quirks (its total is one cycle shorter, see
 * scalesim/model.ts); inputs are assumed valid (see checkGemm in gemm.ts).
 */
import type { Dataflow, SystolicArray } from './arch.js';
import type { Gemm } from './gemm.js';

/** Which GEMM dimension a side of the array holds. */
export type GemmDim = 'm' | 'k' | 'n';

/** How a GEMM is laid onto an array for one dataflow. */
export interface FoldMapping {
  dataflow: Dataflow;
  /** Array rows R and columns C. */
  rows: number;
  cols: number;
  /** The GEMM dimension along the rows, along the columns, and the one streamed in time. */
  rowDim: GemmDim;
  colDim: GemmDim;
  temporalDim: GemmDim;
  /** Their extents: SCALE-Sim's Sr, Sc and T. */
  spatialRows: number;
  spatialCols: number;
  temporal: number;
  /** ceil(Sr / R), ceil(Sc / C), and their product. */
  rowFolds: number;
  colFolds: number;
  folds: number;
  /** Rows (columns) of the array in use in the last row (column) fold; R (C) when it divides evenly. */
  lastFoldRows: number;
  lastFoldCols: number;
  /** Cycles one fold occupies the array, pipeline fill and drain included. */
  cyclesPerFold: number;
  /** folds × cyclesPerFold: the array's busy time for the whole GEMM without memory stalls. */
  computeCycles: number;
  /** Mean over folds of (PEs mapped / R·C), as a fraction: Sr·Sc / (rowFolds·R · colFolds·C). */
  mappingEfficiency: number;
  /** MACs / (R·C · computeCycles): the fraction of PE-cycles that do useful work. */
  computeUtilisation: number;
}

/** The array's rows, columns and streamed dimension for a dataflow (SCALE-Sim v2's choice). */
export const DATAFLOW_DIMS: Readonly<Record<Dataflow, { rowDim: GemmDim; colDim: GemmDim; temporalDim: GemmDim }>> = {
  os: { rowDim: 'm', colDim: 'n', temporalDim: 'k' },
  ws: { rowDim: 'k', colDim: 'n', temporalDim: 'm' },
  is: { rowDim: 'k', colDim: 'm', temporalDim: 'n' },
};

/** Lays `gemm` onto `array` and counts folds and cycles. Pure; O(1). */
export function foldMapping(gemm: Gemm, array: SystolicArray): FoldMapping {
  const { rows, cols, dataflow } = array;
  const dims = DATAFLOW_DIMS[dataflow];
  const spatialRows = gemm[dims.rowDim];
  const spatialCols = gemm[dims.colDim];
  const temporal = gemm[dims.temporalDim];
  const rowFolds = Math.ceil(spatialRows / rows);
  const colFolds = Math.ceil(spatialCols / cols);
  const folds = rowFolds * colFolds;
  const perFold = cyclesPerFold(dataflow, rows, cols, temporal);
  const computeCycles = folds * perFold;
  return {
    dataflow,
    rows,
    cols,
    ...dims,
    spatialRows,
    spatialCols,
    temporal,
    rowFolds,
    colFolds,
    folds,
    lastFoldRows: spatialRows - (rowFolds - 1) * rows,
    lastFoldCols: spatialCols - (colFolds - 1) * cols,
    cyclesPerFold: perFold,
    computeCycles,
    mappingEfficiency: (spatialRows * spatialCols) / (rowFolds * rows * colFolds * cols),
    computeUtilisation: (spatialRows * spatialCols * temporal) / (rows * cols * computeCycles),
  };
}

/**
 * Cycles one fold takes on an R×C array streaming `temporal` operand waves.
 * OS: T waves + (R − 1) + (C − 1) of skew until the farthest PE is done.
 * WS/IS: R cycles to preload the stationary tile, then T waves, R − 1 rows of skew on the way in
 * and C − 1 columns for the partial sums to drain.
 */
export function cyclesPerFold(dataflow: Dataflow, rows: number, cols: number, temporal: number): number {
  return dataflow === 'os' ? temporal + rows + cols - 2 : 2 * rows + cols + temporal - 2;
}

/**
 * Rows and columns of the array in use in fold (rowFold, colFold), both counted from 0.
 * SCALE-Sim walks the folds column fold outer, row fold inner; only the last of each is partial.
 */
export function foldShape(mapping: FoldMapping, rowFold: number, colFold: number): { usedRows: number; usedCols: number } {
  return {
    usedRows: rowFold === mapping.rowFolds - 1 ? mapping.lastFoldRows : mapping.rows,
    usedCols: colFold === mapping.colFolds - 1 ? mapping.lastFoldCols : mapping.cols,
  };
}
