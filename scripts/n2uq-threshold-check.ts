/**
 * Issue #7's check at full size: for the shipped N2UQ models (W2A2, W3A3, W4A4) on all 10,000
 * Fashion-MNIST test images, every code a threshold unit of the integer engine produces is compared
 * with the fake-quant forward's quantizer (quantizeValue: the count of learned thresholds strictly
 * below the value) applied to the dequantized pre-quant value z·S. Prints elements checked and
 * mismatches per model and per operand kind; exits 1 on any mismatch. test/integer/n2uq-threshold.test.ts
 * runs the same check on 200 images.
 *
 *   npx tsx scripts/n2uq-threshold-check.ts [images]
 */
import { compileProgram } from '../src/integer/compile.js';
import { integerForward } from '../src/integer/engine.js';
import { loadDataset } from '../src/model/datasets.js';
import { readQuantizedModel } from '../src/quant/qmodel-file.js';
import { quantizeValue } from '../src/quant/quantizers.js';
import type { ThresholdQuant } from '../src/quant/spec.js';

const BATCH = 100;
const limit = process.argv[2] === undefined ? 10_000 : Number(process.argv[2]);
const images = loadDataset('fashion-mnist', 'test', limit);
const pixelsPerImage = images.pixels.length / images.count;
let failed = false;

for (const bits of [2, 3, 4]) {
  const name = `n2uq-w${bits}a${bits}`;
  const q = readQuantizedModel(new URL(`../workloads/models/qat/${name}.safetensors`, import.meta.url).pathname);
  const program = compileProgram(q);
  const started = performance.now();
  // Per operand kind with the block index removed ('attn.qk.a', 'mlp.fc1.a', …).
  const perKind = new Map<string, { elements: number; mismatches: number }>();
  const blocks = new Set<string>();
  let elements = 0;
  let mismatches = 0;
  let correct = 0;
  for (let start = 0; start < images.count; start += BATCH) {
    const batch = Math.min(BATCH, images.count - start);
    const pixels = images.pixels.subarray(start * pixelsPerImage, (start + batch) * pixelsPerImage);
    const { logits } = integerForward(program, pixels, batch, {
      onQuantize: (op, operand, event) => {
        const block = /^blocks\.(\d+)\./.exec(op);
        if (block) blocks.add(block[1]);
        const kind = `${op.replace(/^blocks\.\d+\./, '')}.${operand}`;
        let entry = perKind.get(kind);
        if (!entry) perKind.set(kind, (entry = { elements: 0, mismatches: 0 }));
        // The unit's adder already holds any addend's preAdd: quantize the value after it.
        const s = event.source;
        const quant: ThresholdQuant = { kind: 'threshold', bits: s.bits, thresholds: s.thresholds, offset: s.offset, step: s.step };
        let bad = 0;
        for (let e = 0; e < event.values.length; e++) {
          if (event.codes[e] !== quantizeValue(quant, event.values[e] * event.scales[e])) bad++;
        }
        entry.elements += event.values.length;
        entry.mismatches += bad;
        elements += event.values.length;
        mismatches += bad;
      },
    });
    for (let i = 0; i < batch; i++) {
      let best = 0;
      for (let c = 1; c < 10; c++) if (logits[i * 10 + c] > logits[i * 10 + best]) best = c;
      if (best === images.labels[start + i]) correct++;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`${name}: ${images.count} images, ${elements} threshold-quantized elements checked, ${mismatches} mismatches, blocks observed ${blocks.size}/${q.config.depth}, integer accuracy ${((100 * correct) / images.count).toFixed(2)} % (${seconds.toFixed(1)} s)`);
  for (const [kind, e] of perKind) console.log(`  ${kind.padEnd(12)} ${String(e.elements).padStart(11)} elements, ${e.mismatches} mismatches`);
  if (mismatches > 0 || blocks.size !== q.config.depth) failed = true;
}
process.exitCode = failed ? 1 : 0;
