/**
 * What an accuracy source answers for a point (accuracy.ts picks the source, measured.ts is one of
 * them): its own file so the chooser and the sources it chooses between do not import each other.
 */
import type { PointQuant } from './design.js';

export interface AccuracyValue {
  /** Top-1 in percent. */
  top1: number;
  /** The citation, or the measurement it came from. */
  source: string;
}

/** The accuracy of a point's quantisation of `model` (a workload name), or null when the source has none. */
export type AccuracyLookup = (quant: PointQuant, model: string) => Promise<AccuracyValue | null>;
