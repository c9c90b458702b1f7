/**
 * Issue #7's check: the integer engine's threshold units (N2UQ) give, element for element, the code
 * the fake-quant forward's quantizer gives on the same value — the count of learned thresholds
 * strictly below the dequantized pre-quant value (quantizers.ts quantizeValue). Every threshold-
 * quantized operand of the shipped N2UQ models on 200 test images is checked, and every block must
 * have shown at least one threshold operand, so the check cannot pass by seeing nothing.
 */
import { describe, expect, it } from 'vitest';
import { compileProgram } from '../../src/integer/compile.js';
import { integerForward } from '../../src/integer/engine.js';
import { loadDataset } from '../../src/model/datasets.js';
import { readQuantizedModel } from '../../src/quant/qmodel-file.js';
import { quantizeValue } from '../../src/quant/quantizers.js';
import type { ThresholdQuant } from '../../src/quant/spec.js';

const IMAGES = 200;
const BATCH = 50;

describe('N2UQ threshold units in the integer engine', () => {
  const images = loadDataset('fashion-mnist', 'test', IMAGES);

  for (const bits of [2, 3, 4]) {
    it(`W${bits}A${bits}: every threshold code equals the float quantizer on the dequantized value`, () => {
      const q = readQuantizedModel(`workloads/models/qat/n2uq-w${bits}a${bits}.safetensors`);
      const program = compileProgram(q);
      const pixelsPerImage = images.pixels.length / images.count;
      let elements = 0;
      let mismatches = 0;
      const first: string[] = [];
      const seen = new Map<string, number>();
      const levels = new Set<number>();
      for (let start = 0; start < images.count; start += BATCH) {
        const batch = Math.min(BATCH, images.count - start);
        const pixels = images.pixels.subarray(start * pixelsPerImage, (start + batch) * pixelsPerImage);
        integerForward(program, pixels, batch, {
          onQuantize: (op, operand, event) => {
            const key = `${op}.${operand}`;
            seen.set(key, (seen.get(key) ?? 0) + event.values.length);
            levels.add(event.source.thresholds.length + 1);
            // The unit's adder already holds the addend's preAdd: the float quantizer gets the value after it.
            const quant: ThresholdQuant = { kind: 'threshold', bits: event.source.bits, thresholds: event.source.thresholds, offset: event.source.offset, step: event.source.step };
            for (let e = 0; e < event.values.length; e++) {
              const real = event.values[e] * event.scales[e];
              const expected = quantizeValue(quant, real);
              elements++;
              if (event.codes[e] !== expected) {
                mismatches++;
                if (first.length < 5) first.push(`${key}[${e}]: z ${event.values[e]} · ${event.scales[e]} = ${real} → ${event.codes[e]}, float ${expected}`);
              }
            }
          },
        });
      }
      expect(first).toEqual([]);
      expect(mismatches).toBe(0);
      expect([...levels]).toEqual([2 ** bits]);
      // Every block's operands were observed: its qkv input, Q, K, V, P, proj, fc1 and fc2 inputs.
      for (let i = 0; i < q.config.depth; i++) {
        const b = `blocks.${i}.`;
        for (const key of ['attn.qkv.a', 'attn.qk.a', 'attn.qk.b', 'attn.pv.a', 'attn.pv.b', 'attn.proj.a', 'mlp.fc1.a', 'mlp.fc2.a']) {
          expect(seen.get(b + key) ?? 0, b + key).toBeGreaterThan(0);
        }
      }
      const t = q.config.imgSize ** 2 / q.config.patchSize ** 2 + 1;
      expect(seen.get('blocks.0.attn.qkv.a')).toBe(IMAGES * t * q.config.embedDim);
      expect(seen.get('blocks.0.attn.pv.a')).toBe(IMAGES * q.config.numHeads * t * t);
      expect(elements).toBeGreaterThan(0);
    });
  }
});
