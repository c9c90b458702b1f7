/**
 * The QAT results tables of workloads/models/qat/README.md, regenerated from the records `vitsim qat`
 * writes next to each quantized model (<model>.safetensors.record.json):
 *
 *   npx tsx scripts/qat-table.ts [dir]            print the tables (default dir workloads/models/qat)
 *   npx tsx scripts/qat-table.ts --ptq [dir]      first run the post-training methods at W4A4, W3A3, W2A2
 *                                                 (256 calibration images, seed 0, integer engine on the whole
 *                                                 test split) into <dir>/ptq-baselines.json, then print
 *   npx tsx scripts/qat-table.ts --ptq-edges      uniform and PTQ4ViT at W3A3 and W2A2 with patch_embed and head
 *                                                 taken from the same method at W8A8 (the QAT models' 8-bit
 *                                                 edges), printed as JSON lines
 *
 * Table 1: test accuracy of the integer engine and of fake-quant per method and bit-width, with the
 * fine-tuning recipe and time, and the best post-training method at the same bits. Table 2: OFQ's
 * weight-code oscillation in the CGA window (the last steps, at the floor learning rate) with and
 * without CGA's freezing, beside the main phase.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { evaluateInteger } from '../src/integer/evaluate.js';
import { loadCheckpoint } from '../src/model/checkpoint.js';
import { loadDataset } from '../src/model/datasets.js';
import { loadCalibrationSet } from '../src/quant/calibration.js';
import type { QuantizeMethod } from '../src/quant/methods/method.js';
import { liu2021 } from '../src/quant/methods/liu2021.js';
import { noisyquant } from '../src/quant/methods/noisyquant.js';
import { ptq4vit } from '../src/quant/methods/ptq4vit.js';
import { quantizeUniform } from '../src/quant/methods/uniform.js';

interface OscillationStats {
  flipRate: number;
  oscillationRate: number;
  steps: number;
}

interface QatRecord {
  command: string;
  method: string;
  wbits: number;
  abits: number;
  trainImages: number;
  steps: number;
  trainSeconds: number;
  wallSeconds: number;
  options: { seed: number; epochs: number; batchSize: number; lr: number; cga: { enabled: boolean; fraction: number; boundaryRange: number }; attention?: 'standard' | 'qkr' };
  oscillation: { main: OscillationStats; late: OscillationStats };
  frozenFraction: number;
  evaluation: { testImages: number; integerAccuracy: number; fakeQuantAccuracy: number; integerOverflows: number } | null;
}

interface PtqRow {
  method: string;
  bits: number;
  accuracy?: number;
  error?: string;
  quantizeSeconds?: number;
  testImages?: number;
}

const runPtq = process.argv.includes('--ptq');
const dir = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'workloads/models/qat';
const ptqFile = join(dir, 'ptq-baselines.json');
if (runPtq) await ptqBaselines();
if (process.argv.includes('--ptq-edges')) await ptqWithEightBitEdges();
const ptq: PtqRow[] = existsSync(ptqFile) ? (JSON.parse(readFileSync(ptqFile, 'utf8')) as { rows: PtqRow[] }).rows : [];
const records = readdirSync(dir)
  .filter((f) => f.endsWith('.record.json'))
  .sort()
  .map((f) => ({ file: f.replace(/\.record\.json$/, ''), r: JSON.parse(readFileSync(join(dir, f), 'utf8')) as QatRecord }));

const methodOrder = ['n2uq', 'ofq', 'lsq'];
const qkr = (r: QatRecord): boolean => r.options.attention === 'qkr';
const byBits = (a: { r: QatRecord }, b: { r: QatRecord }): number =>
  b.r.wbits - a.r.wbits || methodOrder.indexOf(a.r.method) - methodOrder.indexOf(b.r.method) || Number(qkr(b.r)) - Number(qkr(a.r)) ||
  Number(b.r.options.cga.enabled) - Number(a.r.options.cga.enabled);
const pct = (v: number): string => `${(100 * v).toFixed(2)} %`;
const label = (r: QatRecord): string => `${r.method}${qkr(r) ? ' + QKR' : ''}${r.method === 'ofq' && !r.options.cga.enabled ? ' (no CGA)' : ''}`;

const lines: string[] = [];
lines.push('| bits | method | integer engine | fake-quant | test images | fine-tuning | train s | wall s | model | best PTQ, integer engine |');
lines.push('|---|---|---|---|---|---|---|---|---|---|');
const bestPtq = (bits: number): string => {
  const rows = ptq.filter((p) => p.bits === bits && p.accuracy !== undefined);
  if (rows.length === 0) return '–';
  const best = rows.reduce((a, b) => ((b.accuracy as number) > (a.accuracy as number) ? b : a));
  return `${pct(best.accuracy as number)} (${best.method})`;
};
for (const { file, r } of [...records].sort(byBits)) {
  const e = r.evaluation;
  const recipe = `${r.options.epochs} ep × ${r.trainImages} img, ${r.steps} steps of ${r.options.batchSize}, lr ${r.options.lr}, seed ${r.options.seed}`;
  lines.push(`| W${r.wbits}A${r.abits} | ${label(r)} | ${e ? pct(e.integerAccuracy) : '–'} | ${e ? pct(e.fakeQuantAccuracy) : '–'} | ${e?.testImages ?? '–'} | ${recipe} | ${r.trainSeconds.toFixed(0)} | ${r.wallSeconds.toFixed(0)} | ${file} | ${bestPtq(r.wbits)} |`);
}
lines.push('');
lines.push('| bits | OFQ | peak lr | CGA window steps | frozen (mean) | flips/step in window | reversals/step in window | flips/step before | reversals/step before |');
lines.push('|---|---|---|---|---|---|---|---|---|');
for (const { r } of records.filter((x) => x.r.method === 'ofq').sort(byBits)) {
  const { main, late } = r.oscillation;
  const f = (v: number): string => `${(100 * v).toFixed(4)} %`;
  lines.push(`| W${r.wbits}A${r.abits} | ${r.options.cga.enabled ? `CGA (BR ${r.options.cga.boundaryRange})` : 'no CGA'}${qkr(r) ? ', QKR' : ''} | ${r.options.lr} | ${late.steps} | ${pct(r.frozenFraction)} | ${f(late.flipRate)} | ${f(late.oscillationRate)} | ${f(main.flipRate)} | ${f(main.oscillationRate)} |`);
}
if (ptq.length > 0) {
  lines.push('');
  lines.push('| bits | post-training method | integer engine | calibration s |');
  lines.push('|---|---|---|---|');
  for (const p of [...ptq].sort((a, b) => b.bits - a.bits)) {
    lines.push(`| W${p.bits}A${p.bits} | ${p.method} | ${p.accuracy === undefined ? `failed: ${p.error ?? '?'}` : pct(p.accuracy)} | ${p.quantizeSeconds?.toFixed(0) ?? '–'} |`);
  }
}
process.stdout.write(`${lines.join('\n')}\n`);

/** Every post-training method at the QAT bit-widths, on the integer engine; a method that refuses a width is recorded as such. */
async function ptqBaselines(): Promise<void> {
  const methods: [string, QuantizeMethod][] = [['uniform', quantizeUniform], ['ptq4vit', ptq4vit], ['noisyquant', noisyquant], ['liu2021', liu2021]];
  const { config, params } = loadCheckpoint('workloads/models/vit-fashion-mnist.safetensors');
  const test = loadDataset('fashion-mnist', 'test');
  const calib = loadCalibrationSet('fashion-mnist', 256, 0);
  const rows: PtqRow[] = [];
  for (const bits of [4, 3, 2]) {
    for (const [name, method] of methods) {
      const start = performance.now();
      try {
        const q = method(config, params, calib, { wbits: bits, abits: bits, seed: 0 });
        const quantizeSeconds = (performance.now() - start) / 1000;
        const { predictions } = await evaluateInteger(q, test);
        let correct = 0;
        for (let i = 0; i < test.count; i++) if (predictions[i] === test.labels[i]) correct++;
        rows.push({ method: name, bits, accuracy: correct / test.count, quantizeSeconds, testImages: test.count });
      } catch (err) {
        rows.push({ method: name, bits, error: err instanceof Error ? err.message.split('\n')[0] : String(err) });
      }
      process.stderr.write(`${JSON.stringify(rows[rows.length - 1])}\n`);
      writeFileSync(ptqFile, `${JSON.stringify({ command: 'npx tsx scripts/qat-table.ts --ptq', calibration: 256, seed: 0, rows }, null, 2)}\n`);
    }
  }
}

/** PTQ at 2 and 3 bits with QAT's 8-bit patch embedding and head, so the comparison is like for like. */
async function ptqWithEightBitEdges(): Promise<void> {
  const { config, params } = loadCheckpoint('workloads/models/vit-fashion-mnist.safetensors');
  const test = loadDataset('fashion-mnist', 'test');
  const calib = loadCalibrationSet('fashion-mnist', 256, 0);
  for (const [name, method] of [['uniform', quantizeUniform], ['ptq4vit', ptq4vit]] as const) {
    const w8 = method(config, params, calib, { wbits: 8, abits: 8, seed: 0 });
    for (const bits of [2, 3]) {
      const q = method(config, params, calib, { wbits: bits, abits: bits, seed: 0 });
      for (const op of ['patch_embed.proj', 'head']) q.ops.set(op, w8.ops.get(op) as NonNullable<ReturnType<typeof w8.ops.get>>);
      const { predictions } = await evaluateInteger(q, test);
      let correct = 0;
      for (let i = 0; i < test.count; i++) if (predictions[i] === test.labels[i]) correct++;
      process.stdout.write(`${JSON.stringify({ method: name, bits, edges: 8, accuracy: correct / test.count, testImages: test.count })}\n`);
    }
  }
}
