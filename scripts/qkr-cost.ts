/**
 * What OFQ's query–key reparameterisation buys and costs on the shipped QAT models:
 *
 *   npx tsx scripts/qkr-cost.ts [--arch edge-16x16,mid-32x32] [dir]      (default dir workloads/models/qat)
 *
 * For each bit-width with both ofq-w<b>a<b>.safetensors and ofq-qkr-w<b>a<b>.safetensors: the test
 * accuracy of the integer engine from each model's record, the MACs per image of the score path
 * (q/k projections + Q·Kᵀ, or attn.qkr + X̂·Û_hᵀ) and of the whole model from the model's own trace
 * (traceFromQuantized, batch 1), the q/k weight entries, and the simulated latency and energy per
 * inference on each arch (simulateTrace + priceSimulation, as `vitsim simulate` and `vitsim cost` do).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { designTechnology, priceSimulation } from '../src/cost/index.js';
import { loadArch } from '../src/hw/arch-file.js';
import { simulateTrace } from '../src/hw/simulate.js';
import { readQuantizedModel } from '../src/quant/qmodel-file.js';
import { attentionOf, type QuantizedViT } from '../src/quant/spec.js';
import { traceFromQuantized } from '../src/trace/from-quantized.js';
import type { GemmOp } from '../src/trace/ops.js';

const args = process.argv.slice(2);
const archFlag = args.indexOf('--arch');
const arches = (archFlag >= 0 ? args[archFlag + 1] : 'edge-16x16,mid-32x32').split(',');
const dir = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--arch') ?? 'workloads/models/qat';

interface Row {
  form: string;
  accuracy: number;
  scoreMacs: number;
  totalMacs: number;
  qkWeights: number;
  perArch: { latencyUs: number; energyUj: number }[];
}

function measure(file: string): Row {
  const q = readQuantizedModel(file);
  const record = JSON.parse(readFileSync(`${file}.record.json`, 'utf8')) as { evaluation: { integerAccuracy: number; testImages: number } };
  const trace = traceFromQuantized(q, { name: file, source: file, batch: 1 });
  const gemms = trace.ops.filter((op): op is GemmOp => op.kind === 'gemm');
  const macs = (op: GemmOp): number => op.m * op.k * op.n * op.count;
  const d = q.config.embedDim;
  // Score path: Q·Kᵀ plus the q and k thirds of qkv, or attn.qkr plus X̂·Û_hᵀ.
  const scoreMacs = gemms.reduce((sum, op) => {
    if (op.name.endsWith('.attn.qk') || op.name.endsWith('.attn.qkr')) return sum + macs(op);
    if (op.name.endsWith('.attn.qkv')) return sum + (macs(op) * 2) / 3;
    return sum;
  }, 0);
  const perArch = arches.map((name) => {
    const arch = loadArch(name);
    const sim = simulateTrace(arch, trace);
    const cost = priceSimulation(sim, arch, designTechnology(arch));
    return { latencyUs: sim.totals.latencySeconds * 1e6, energyUj: cost.energyPerInferenceJ * 1e6 };
  });
  return {
    form: attentionOf(q) === 'qkr' ? 'OFQ + QKR' : 'OFQ',
    accuracy: record.evaluation.integerAccuracy,
    scoreMacs,
    totalMacs: gemms.reduce((sum, op) => sum + macs(op), 0),
    qkWeights: qkWeightEntries(q, d),
    perArch,
  };
}

/** Weight entries that make the scores: the q and k rows of qkv, or the H·C² of W_qk. */
function qkWeightEntries(q: QuantizedViT, d: number): number {
  return q.config.depth * (attentionOf(q) === 'qkr' ? q.config.numHeads * d * d : 2 * d * d);
}

const lines: string[] = [];
const archCols = arches.map((a) => `${a} latency µs | ${a} energy µJ`).join(' | ');
lines.push(`| bits | model | integer engine | score-path MACs/image | total MACs/image | q/k weight entries | ${archCols} |`);
lines.push(`|---|---|---|---|---|---|${arches.map(() => '---|---|').join('')}`);
for (const bits of [4, 3, 2]) {
  const standard = join(dir, `ofq-w${bits}a${bits}.safetensors`);
  const qkr = join(dir, `ofq-qkr-w${bits}a${bits}.safetensors`);
  if (!existsSync(standard) || !existsSync(qkr)) continue;
  const rows = [measure(standard), measure(qkr)];
  for (const r of rows) {
    const base = rows[0];
    const ratio = (v: number, b: number): string => (r === base ? '' : ` (${(v / b).toFixed(2)}×)`);
    const archCells = r.perArch.map((a, i) => `${a.latencyUs.toFixed(1)}${ratio(a.latencyUs, base.perArch[i].latencyUs)} | ${a.energyUj.toFixed(2)}${ratio(a.energyUj, base.perArch[i].energyUj)}`).join(' | ');
    lines.push(
      `| W${bits}A${bits} | ${r.form} | ${(100 * r.accuracy).toFixed(2)} % | ${r.scoreMacs.toLocaleString('en-US')}${ratio(r.scoreMacs, base.scoreMacs)} | ` +
        `${r.totalMacs.toLocaleString('en-US')}${ratio(r.totalMacs, base.totalMacs)} | ${r.qkWeights.toLocaleString('en-US')} | ${archCells} |`,
    );
  }
}
process.stdout.write(`${lines.join('\n')}\n`);
