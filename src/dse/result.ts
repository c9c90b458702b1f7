/**
 * One evaluated design point, as the dse stages and the reports share it: its axis values, metrics
 * and breakdowns, and its form as one line of `<out>/results.jsonl` (output-dir.ts reads a whole
 * sweep's directory back).
 *
 * Units: SI except the two that papers print (mm², TOPS); energy, MACs and DRAM bytes per inference;
 * latency and cycles per batch of the workload (batch 1 unless the spec sets one).
 */
export type ParamValue = string | number | boolean;

export interface PointMetrics {
  latencyS: number;
  energyJ: number;
  areaMm2: number;
  /** Top-1 in percent, or null when the spec's accuracy source has no number for this point. */
  accuracy: number | null;
  /** Where `accuracy` came from: a literature row's citation, or the measured engine and its cache key. */
  accuracySource: string | null;
  throughputIps: number;
  effectiveTops: number;
  peakTops: number;
  macs: number;
  dramBytes: number;
  cycles: number;
}

export interface PointResult {
  /** The point's index in the sweep's deterministic order. */
  index: number;
  /** Axis values of this point, keyed by axis name (`array.rows`, `quant.wbits`, …). */
  params: Record<string, ParamValue>;
  feasible: boolean;
  /** Names of the constraints this point does not meet. */
  violated: string[];
  metrics: PointMetrics;
  breakdown: {
    /** Energy per inference by cost component (`pe array`, `sram ifmap`, `dram`, …). */
    energyJ: Record<string, number>;
    areaMm2: Record<string, number>;
    /** Latency of one batch by op kind (`gemm`, `softmax`, `layernorm`, …). */
    latencySByOpKind: Record<string, number>;
  };
  /**
   * Only on a point whose axis values make no valid design (the simulator or the pricer refused it):
   * the refusal. Such a point has feasible false, violated ['invalid design'] and every metric 0,
   * so it must never enter a front.
   */
  error?: string;
}

/** The metric names constraints and objectives may use. */
export const METRICS = ['latencyS', 'energyJ', 'areaMm2', 'accuracy', 'throughputIps', 'effectiveTops', 'peakTops', 'macs', 'dramBytes', 'cycles'] as const;
export type Metric = (typeof METRICS)[number];

/**
 * The complete lines of a results file, sorted by index. A last line without its newline is what a
 * killed writer leaves behind: it is dropped, and `completeBytes` says where the good part ends.
 */
export function parseResultLines(text: string): { points: PointResult[]; completeBytes: number } {
  const end = text.lastIndexOf('\n') + 1;
  const points: PointResult[] = [];
  for (const line of text.slice(0, end).split('\n')) if (line !== '') points.push(JSON.parse(line) as PointResult);
  points.sort((a, b) => a.index - b.index);
  return { points, completeBytes: Buffer.byteLength(text.slice(0, end)) };
}

/** One results line, newline included. */
export function resultLine(point: PointResult): string {
  return `${JSON.stringify(point)}\n`;
}
