/**
 * vitsim as a library: the same stages the CLI drives, in pipeline order.
 *
 *   import { loadArch, loadWorkload, buildTrace, uniformBits, simulateTrace, priceSimulation, designTechnology } from 'vitsim';
 *   const arch = loadArch('tpu-v1');
 *   const sim = simulateTrace(arch, buildTrace(loadWorkload('deit-s'), { bits: uniformBits(8, 8) }));
 *   const cost = priceSimulation(sim, arch, designTechnology(arch));
 */

// model: the float ViT, its checkpoints, data and training
export * from './model/config.js';
export { initViT, vitForward, vitBackward, zerosLike, normaliseImages, type ViTActivations } from './model/vit.js';
export { loadCheckpoint, saveCheckpoint, type Checkpoint } from './model/checkpoint.js';
export { readSafetensors, writeSafetensors } from './model/safetensors.js';
export { loadDataset, DATASET_NAMES, type DatasetName, type ImageSet, type Split } from './model/datasets.js';
export { trainViT, type TrainOptions, type TrainResult } from './model/train.js';

// kernels
export { gemm } from './kernels/gemm.js';
export { gemmReference, type GemmShape } from './kernels/gemm-reference.js';
export { intGemm } from './kernels/int-gemm.js';
export { intGemmReference, type IntGemmShape } from './kernels/int-gemm-reference.js';

// quant: quantized models, their file, the methods and fake-quant inference
export type * from './quant/spec.js';
export { QUANT_METHODS, quantOpNames, RESIDUAL_BITS } from './quant/spec.js';
export type { CalibrationSet, MethodOptions, QuantizeMethod } from './quant/methods/method.js';
export { quantizeWith, QUANT_METHOD_FUNCTIONS, availableMethods } from './quant/methods/index.js';
export { quantizeUniform } from './quant/methods/uniform.js';
export { loadCalibrationSet } from './quant/calibration.js';
export { captureFloat, assembleQuantizedViT } from './quant/assemble.js';
export { fakeQuantForward, fakeQuantLogits, FLOAT_NONLINEARS, type Nonlinears } from './quant/fakequant.js';
export { readQuantizedModel, writeQuantizedModel } from './quant/qmodel-file.js';
export { readTypedSafetensors, writeTypedSafetensors } from './model/safetensors.js';

// quant: quantization-aware training
export { qatLsq } from './quant/methods/lsq.js';
export { qatN2uq } from './quant/methods/n2uq.js';
export { qatOfq } from './quant/methods/ofq.js';
export { runQat, type QatRun } from './quant/qat/run.js';
export { trainQat, QAT_DEFAULTS, type QatOptions, type QatResult } from './quant/qat/train.js';

// functional: the bit-exact integer engine
export { compileProgram, GELU_INPUT_BITS, type IntegerProgram, type CompileOptions, type NonlinearSet } from './integer/compile.js';
export { integerForward, type IntegerForwardResult, type IntegerForwardOptions, type OperandTallies } from './integer/engine.js';
export { evaluateInteger, type IntegerEvalOptions, type IntegerEvalResult } from './integer/evaluate.js';
export { AccumulatorOverflow, type Accumulator, type OverflowMode } from './integer/accumulator.js';
export { dyadic, requantize, requantizeBig, type Dyadic } from './integer/requant.js';
export { IVIT_NONLINEARS, IBERT_NONLINEARS } from './integer/nonlinear-float.js';
export { measureOperandStats, operandStats, type MeasuredStats } from './integer/stats.js';

// trace: workloads → op lists
export { loadWorkload, parseWorkload, workloadNames, type Workload } from './trace/workload.js';
export { buildTrace, type BuildOptions } from './trace/build.js';
export { uniformBits, loadBitsMap, type BitConfig } from './trace/bits.js';
export { readTrace, parseTrace, writeTrace, traceTotals, TRACE_VERSION, type Trace } from './trace/trace.js';
export type * from './trace/ops.js';
export { traceFromQuantized, traceQuantizer, type QuantizedTraceOptions } from './trace/from-quantized.js';

// hw: designs, the cycle model's views, whole-trace simulation
export { loadArch, parseArch, archPresets } from './hw/arch-file.js';
export { dramBytesPerCycle, peakOpsPerSecond, DATAFLOWS, type Accelerator, type Dataflow } from './hw/arch.js';
export { checkGemm, gemmMacs, type Gemm } from './hw/gemm.js';
export { foldMapping, cyclesPerFold, type FoldMapping } from './hw/fold.js';
export { simulateGemm, type NativeGemmResult, type SimulateGemmOptions } from './hw/native.js';
export { runRegisterArray } from './hw/register-array.js';
export * from './hw/scalesim/index.js';
export { simulateTrace, type OpResult, type Simulation } from './hw/simulate.js';

// cost: energy and area
export * from './cost/index.js';

// dse: sweeps over designs and quantisation
export { loadSweep, parseSweep, expandAxes, type SweepSpec, type Constraint, type Objective as SweepObjective, type Sampling, type AccuracySpec } from './dse/spec.js';
export { METRICS, type PointResult, type PointMetrics, type Metric } from './dse/result.js';
export { readResults, designFromPoint, type SweepRecord } from './dse/output-dir.js';
export { runSweep, sweepPoints, type RunOptions, type RunSummary } from './dse/run.js';
export { mergeSweeps } from './dse/merge.js';
export { evaluator } from './dse/evaluate.js';
export { nsga2 } from './dse/nsga2.js';
export { OBJECTIVES, OBJECTIVE_INFO, parseObjectives, minimisationVectors, dominates, nonDominatedSort, paretoRanks, type Objective } from './dse/pareto.js';
export { hypervolume, defaultReference } from './dse/hypervolume.js';

// report: tables, charts, the sweep report
export { writeSweepReport, type SweepReport, type SweepReportOptions, type RankedPoint } from './report/sweep-report.js';
export { roofline, type Roofline } from './report/roofline.js';
export { markdownTable, latexTable, writeCsv, type Column } from './report/table.js';
export { htmlPage, htmlTable } from './report/html.js';
export { writeChart, type ChartFiles } from './report/charts.js';

// the one error type for user mistakes
export { UserError } from './config/errors.js';
