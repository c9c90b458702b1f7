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

// trace: workloads → op lists
export { loadWorkload, parseWorkload, workloadNames, type Workload } from './trace/workload.js';
export { buildTrace, type BuildOptions } from './trace/build.js';
export { uniformBits, loadBitsMap, type BitConfig } from './trace/bits.js';
export { readTrace, parseTrace, writeTrace, traceTotals, TRACE_VERSION, type Trace } from './trace/trace.js';
export type * from './trace/ops.js';

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

// the one error type for user mistakes
export { UserError } from './config/errors.js';
