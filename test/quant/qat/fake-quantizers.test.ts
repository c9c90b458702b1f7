import { describe, expect, it } from 'vitest';
import { createRng } from '../../../src/model/random.js';
import {
  lsqBackward, lsqForward, n2uqWeightForward, statsqDistanceToThreshold, statsqForward, thresholdBackward, thresholdForward, thresholdSurrogate,
  type LsqAct, type ThresholdAct,
} from '../../../src/quant/qat/fake-quantizers.js';

function randomThreshold(seed: number, bits: number, zeroPoint?: number): ThresholdAct {
  const rng = createRng(seed);
  const levels = 2 ** bits - 1;
  return {
    kind: 'threshold', bits, start: Float32Array.of(-1 + rng.nextFloat()),
    intervals: Float32Array.from({ length: levels }, () => 0.2 + rng.nextFloat()),
    step: Float32Array.of(0.3 + rng.nextFloat()), offset: Float32Array.of(rng.normal()), minInterval: 1e-3,
    ...(zeroPoint === undefined ? {} : { zeroPoint }),
  };
}

/** Σ dOut·ỹ(x) over the inputs: the scalar whose derivatives G-STE's backward claims to return. */
function surrogateLoss(q: ThresholdAct, x: Float32Array, dOut: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += dOut[i] * thresholdSurrogate(q, x[i]);
  return s;
}

describe('N2UQ threshold quantizer', () => {
  for (const [bits, zeroPoint] of [[2, undefined], [3, undefined], [2, 2]] as const) {
    it(`G-STE gradients equal central differences of the surrogate ramp (${bits} bits${zeroPoint === undefined ? '' : ', tied zero point'})`, () => {
      const q = randomThreshold(7 + bits, bits, zeroPoint);
      const rng = createRng(99);
      const n = 200;
      // Inputs away from the segment boundaries, where the ramp has a kink a central difference would straddle.
      const bounds = [q.start[0]];
      for (const a of q.intervals) bounds.push(bounds[bounds.length - 1] + a);
      const x = new Float32Array(n);
      for (let i = 0; i < n; ) {
        const v = -2 + 8 * rng.nextFloat();
        if (bounds.every((b) => Math.abs(v - b) > 1e-2)) x[i++] = v;
      }
      const dOut = Float32Array.from({ length: n }, () => rng.normal());
      const dx = new Float32Array(n);
      const grad = { start: new Float32Array(1), intervals: new Float32Array(q.intervals.length), step: new Float32Array(1), offset: new Float32Array(1) };
      thresholdBackward(q, grad, x, dOut, dx, n);
      const h = 1e-3;
      // Input gradient, element by element (the ramp is linear inside a segment, so FD is exact away from boundaries).
      for (let i = 0; i < n; i++) {
        const up = thresholdSurrogate(q, x[i] + h);
        const down = thresholdSurrogate(q, x[i] - h);
        expect(dx[i]).toBeCloseTo((dOut[i] * (up - down)) / (2 * h), 2);
      }
      // Parameter gradients of start and every interval (float64 copies, so the FD sees no float32 rounding).
      const wiggle = (tensor: Float32Array, i: number): number => {
        const keep = tensor[i];
        const q64 = { ...q, start: Float64Array.from(q.start), intervals: Float64Array.from(q.intervals), step: Float64Array.from(q.step), offset: Float64Array.from(q.offset) } as unknown as ThresholdAct;
        const pick = (t: Float32Array): Float32Array => (t === q.start ? q64.start : t === q.intervals ? q64.intervals : t === q.step ? q64.step : q64.offset);
        const target = pick(tensor);
        target[i] = keep + h;
        const up = surrogateLoss(q64, x, dOut);
        target[i] = keep - h;
        const down = surrogateLoss(q64, x, dOut);
        return (up - down) / (2 * h);
      };
      expect(grad.start[0]).toBeCloseTo(wiggle(q.start, 0), 2);
      for (let i = 0; i < q.intervals.length; i++) expect(grad.intervals[i], `interval ${i}`).toBeCloseTo(wiggle(q.intervals, i), 2);
      // step and offset: the forward is linear in them at fixed codes, so differences of the forward itself.
      const forwardLoss = (step: number, offset: number): number => {
        const out = new Float32Array(n);
        thresholdForward({ ...q, step: Float32Array.of(step), offset: Float32Array.of(offset) }, x, out, n);
        return out.reduce((s, v, i) => s + v * dOut[i], 0);
      };
      const s = q.step[0];
      const o = q.offset[0];
      expect(grad.step[0]).toBeCloseTo((forwardLoss(s + h, o) - forwardLoss(s - h, o)) / (2 * h), 1);
      if (zeroPoint === undefined) expect(grad.offset[0]).toBeCloseTo((forwardLoss(s, o + h) - forwardLoss(s, o - h)) / (2 * h), 1);
    });
  }

  it('outputs offset + step · #{thresholds below x}, thresholds at the segment midpoints', () => {
    const q: ThresholdAct = { kind: 'threshold', bits: 2, start: Float32Array.of(0), intervals: Float32Array.of(1, 2, 4), step: Float32Array.of(0.5), offset: Float32Array.of(-1), minInterval: 1e-3 };
    const x = Float32Array.of(0.5, 0.51, 2, 2.01, 5, 5.01, -3);
    const out = new Float32Array(x.length);
    thresholdForward(q, x, out, x.length);
    // Midpoints 0.5, 2, 5; comparison strict as N2UQ's code.
    expect([...out]).toEqual([-1, -0.5, -0.5, 0, 0, 0.5, -1]);
  });
});

describe('weight quantizers', () => {
  it('StatsQ (OFQ) and the N2UQ entropy-preserving quantizer give the same weights at 2, 3 and 4 bits', () => {
    const rng = createRng(3);
    const rows = 16;
    const cols = 48;
    const w = Float32Array.from({ length: rows * cols }, () => 0.05 * rng.normal());
    for (const bits of [2, 3, 4]) {
      const a = new Float32Array(w.length);
      const b = new Float32Array(w.length);
      const codes = new Int32Array(w.length);
      const scales = new Float32Array(rows);
      statsqForward(w, a, codes, scales, rows, cols, bits);
      n2uqWeightForward(w, b, rows, cols, bits);
      for (let i = 0; i < w.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-7);
      // Odd levels (2r + 1) · mean|W_o| / 2^(b−1): codes odd, within ±(2^b − 1), value = code · scale.
      for (let i = 0; i < w.length; i++) {
        expect(Math.abs(codes[i] % 2)).toBe(1);
        expect(Math.abs(codes[i])).toBeLessThanOrEqual(2 ** bits - 1);
        expect(a[i]).toBeCloseTo(codes[i] * scales[Math.floor(i / cols)], 6);
      }
    }
  });

  it("CGA's distance is to the nearest threshold between two codes, and clipped weights count as far", () => {
    // One row, mean|W| = 1, s = 2, 2 bits (n = 2): u = 2·W/2 − ½ = W − ½; thresholds between codes at −1.5, −0.5, 0.5.
    const w = Float32Array.of(0.5, -0.5, 1.003, -1.003, 3, -3, 0.997, -0.997);
    const mean = w.reduce((s, v) => s + Math.abs(v), 0) / w.length;
    const scaled = Float32Array.from(w, (v) => v / mean); // mean|W| = 1 exactly
    const distance = new Float32Array(w.length);
    statsqDistanceToThreshold(scaled, distance, 1, w.length, 2);
    const expected = Array.from(scaled, (v) => {
      const u = 2 * Math.min(1 - 1e-7, Math.max(-1, v / 2)) - 0.5;
      return Math.min(...[-1.5, -0.5, 0.5].map((t) => Math.abs(u - t)));
    });
    for (let i = 0; i < w.length; i++) expect(distance[i]).toBeCloseTo(expected[i], 5);
    // W = ±3 is held by the clip: the nearest code-changing threshold is a whole step away.
    expect(distance[4]).toBeGreaterThan(0.9);
    expect(distance[5]).toBeGreaterThan(0.9);
  });
});

describe('LSQ quantizer', () => {
  it('hand case: 2-bit signed, step 0.5 — values, STE mask and the scaled step gradient', () => {
    const q: LsqAct = { kind: 'lsq', bits: 2, signed: true, step: Float32Array.of(0.5) };
    const x = Float32Array.of(0.3, -1.4, 0.9, 0.1);
    const out = new Float32Array(4);
    lsqForward(q, x, out, 1, 4);
    // v = x/s = 0.6, −2.8, 1.8, 0.2 → codes 1, −2 (clamp at −Qn), 1 (clamp at Qp), 0.
    expect([...out]).toEqual([0.5, -1, 0.5, 0]);
    const grad = { step: new Float32Array(1) };
    const dx = new Float32Array(4);
    lsqBackward(q, grad, x, Float32Array.of(1, 1, 1, 1), dx, 1, 4, 1);
    expect([...dx]).toEqual([1, 0, 0, 1]);
    // Σ (⌊v⌉ − v inside, −Qn / Qp outside) = 0.4 − 2 + 1 − 0.2 = −0.8, times 1/√(Qp·N) = 1/√(1·4).
    expect(grad.step[0]).toBeCloseTo(-0.4, 6);
  });

  it('per-token steps and learned biases: token t of row r = r mod T, β_pre inside the rounding, β_post after', () => {
    const q: LsqAct = { kind: 'lsq', bits: 4, signed: true, step: Float32Array.of(0.1, 1), preBias: Float32Array.of(0.04, 0), postBias: Float32Array.of(0, 10) };
    const x = Float32Array.of(0.02, 0.3, 0.02, 0.3, 0.02, 0.3);
    const out = new Float32Array(6);
    lsqForward(q, x, out, 3, 2);
    // rows 0 and 2 are token 0 (step 0.1), row 1 token 1 (step 1).
    expect(out[0]).toBeCloseTo(0.1, 6); // (0.02 + 0.04)/0.1 = 0.6 → 1
    expect(out[1]).toBeCloseTo(10.3, 5); // 0.3/0.1 = 3 → 3·0.1 + 10
    expect(out[2]).toBeCloseTo(0, 6); // (0.02 + 0.04)/1 → 0
    expect(out[3]).toBeCloseTo(10, 5);
    expect(out[4]).toBeCloseTo(0.1, 6);
  });
});
