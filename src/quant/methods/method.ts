/**
 * The one signature every quantization method has, post-training or QAT: a float model and labelled
 * calibration images in, a QuantizedViT out. The CLI, the sweep's measured-accuracy source and the
 * results tables call methods only through it.
 */
import type { ViTConfig, ViTParams } from '../../model/config.js';
import type { QuantizedViT } from '../spec.js';

/** Labelled images from the train split; pixels are raw [count, C, H, W] in [0, 1]. */
export interface CalibrationSet {
  count: number;
  pixels: Float32Array;
  labels: Uint8Array;
}

export interface MethodOptions {
  /** Weight and activation bits (a mixed-precision method treats them as its mean budget). */
  wbits: number;
  abits: number;
  /** Seeds every random choice the method makes (noise draws, sampled labels …). */
  seed: number;
  /** Method-specific options, recorded in QuantizedViT.options. */
  extra?: Record<string, unknown>;
  /** Called as work advances; `what` names the current stage (e.g. 'blocks.2.mlp.fc2'). */
  progress?: (done: number, total: number, what: string) => void;
}

export type QuantizeMethod = (config: ViTConfig, params: ViTParams, calib: CalibrationSet, options: MethodOptions) => QuantizedViT;
