/**
 * Golden results of the native model, recorded from the one-pass solver before the planner and solver
 * were made faster (commit d0338c3). Every number simulateGemm and simulateTrace return must stay
 * exactly what it was: the speed-ups are allowed to change how the answer is computed, never the
 * answer. Each hash is SHA-256 over the JSON of the full results of one group of cases; a group that
 * refuses a shape (sram too small) records the refusal's message instead.
 */
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { archPresets, loadArch } from '../../src/hw/arch-file.js';
import { DATAFLOWS, type Accelerator } from '../../src/hw/arch.js';
import type { Gemm } from '../../src/hw/gemm.js';
import { simulateGemm } from '../../src/hw/native.js';
import { simulateTrace } from '../../src/hw/simulate.js';
import { uniformBits } from '../../src/trace/bits.js';
import { buildTrace } from '../../src/trace/build.js';
import { loadWorkload } from '../../src/trace/workload.js';

const MODELS = ['deit-t', 'deit-s', 'deit-b'];
const BITS = [8, 4];

/** Every distinct GEMM shape of DeiT-T/S/B at batch 1 and 4, in a fixed order. */
function deitShapes(): Gemm[] {
  const seen = new Map<string, Gemm>();
  for (const model of MODELS) {
    for (const batch of [1, 4]) {
      for (const op of buildTrace(loadWorkload(model), { bits: uniformBits(8, 8), batch }).ops) {
        if (op.kind === 'gemm') seen.set(`${op.m},${op.k},${op.n}`, { m: op.m, k: op.k, n: op.n });
      }
    }
  }
  return [...seen.values()].sort((a, b) => a.m - b.m || a.k - b.k || a.n - b.n);
}

function sha256(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

function attempt<T>(fn: () => T): T | { error: string } {
  try {
    return fn();
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** The preset with its PE storing `bits`-bit weights and activations (as simulateTrace does for a step). */
function atBits(arch: Accelerator, bits: number): Accelerator {
  return { ...arch, pe: { ...arch.pe, actBits: bits, weightBits: bits } };
}

/** Hashes of the current code, in the order of GOLDEN's keys (used to print a new table). */
export function goldenHashes(): Record<string, string> {
  const out: Record<string, string> = {};
  const shapes = deitShapes();
  for (const preset of archPresets()) {
    const arch = loadArch(preset);
    for (const bits of BITS) {
      for (const dataflow of DATAFLOWS) {
        out[`gemm ${preset} W${bits}A${bits} ${dataflow}`] = sha256(shapes.map((gemm) => attempt(() => simulateGemm(atBits(arch, bits), gemm, { dataflow }))));
      }
    }
    for (const model of ['deit-s', 'deit-b']) {
      for (const bits of BITS) {
        const trace = buildTrace(loadWorkload(model), { bits: uniformBits(bits, bits) });
        const sim = attempt(() => simulateTrace(arch, trace));
        out[`trace ${preset} ${model} W${bits}A${bits}`] = sha256('error' in sim ? sim : { totals: sim.totals, ops: sim.ops });
      }
    }
  }
  return out;
}

const GOLDEN: Record<string, string> = {
  'gemm bitfusion-16x32 W8A8 os': 'cf7759a8f770003a863f84807291ba34d54c13887e5cbb71b94da4afd611a286',
  'gemm bitfusion-16x32 W8A8 ws': '4438525431adf80e44a5d601956a767c02db87674a3d20c3df17cb69d026b8ad',
  'gemm bitfusion-16x32 W8A8 is': '7c0d3bbfd5195b7be4aab0cff511f1e71697f42e4e05c859b4df10c21d574e89',
  'gemm bitfusion-16x32 W4A4 os': '1239a81305eb2d875c84a56dbe0f8b5bf6742a3763f4f97845091b6bf5f4797e',
  'gemm bitfusion-16x32 W4A4 ws': 'cca89a7d7b95cc77ad2a3650853609ef9406b946fc9f2afc297a641f0db6c6ae',
  'gemm bitfusion-16x32 W4A4 is': '9eb4fbd1a08fd77b99345721ee337c28270a50270790d1bb81be247c72a5cb7b',
  'trace bitfusion-16x32 deit-s W8A8': '95708440453d3d392ca22937d253717fc471aa0c532100b8538160bf99fd0575',
  'trace bitfusion-16x32 deit-s W4A4': '908cc919f705028450d36d78c0bf5175765785cd889e9d4417db67ec14f2de24',
  'trace bitfusion-16x32 deit-b W8A8': '0853a17d3e5bec9fc1905badd103d3d99f0c686b0e2b85280ec95897a5ee2b87',
  'trace bitfusion-16x32 deit-b W4A4': '5c40a7f7920e3bbd62b90d0caef1a31d5aa7ef3d3af74f20a9c69acbc0c1f53f',
  'gemm edge-16x16 W8A8 os': 'a6f564ef5acf29dc6d96882b929fec8891d49dbd8671946d067b07fca605055f',
  'gemm edge-16x16 W8A8 ws': '09fc0c6c53a45851a91462b1235679c42f59e38afb2e105d1a9dead053478880',
  'gemm edge-16x16 W8A8 is': '6f0453115251cb3c9471d37e6372801984244b308b5edefd2a6c90b301eb3c62',
  'gemm edge-16x16 W4A4 os': '2006c74946074d80f905a8bdd73651c0e8dca8ee1f30e6341a1ceae59fd9be27',
  'gemm edge-16x16 W4A4 ws': '91862c251880b578aef78deb51d9d83afe2553d817caaf38a4c649602038280a',
  'gemm edge-16x16 W4A4 is': 'b0318a2b283fdc6443bb39c394d35a53b2a21f46448334b0415a507eb0ff1087',
  'trace edge-16x16 deit-s W8A8': '3dbdd011ffa982b3a77f09b32141f7bcfca9cf193bbe37cdccdeefb0af3f9bfc',
  'trace edge-16x16 deit-s W4A4': '558a34238917c058eefb1b316304ce5ba1e1cffedca2a88f1da125c2fc57823e',
  'trace edge-16x16 deit-b W8A8': 'a0b632f0b6f190cad9adb8fd236a64a541cffe5415cfe3a69230645387a40e62',
  'trace edge-16x16 deit-b W4A4': '8c5124b49353d30ba6fd9416d8abffb798d7d2c4022616bd7234365335d12ab4',
  'gemm mid-32x32 W8A8 os': '2fcd7dbb35cf3ae653cfc7d29f8ae37a1fe128164b77f6533b98cf263c2ec0f5',
  'gemm mid-32x32 W8A8 ws': 'd2804c16fa493950df875f15e44e3a8172d13a64f87ad0c8c2ca7f423832785b',
  'gemm mid-32x32 W8A8 is': '2ef203e90419cf8f6522956b31d2cdb531de2fdf3396462be5a1b3160acd406c',
  'gemm mid-32x32 W4A4 os': 'f7203d4561a294f9deed8a7c542caf7a96ad7c91b084b78fef791fa6bb867e44',
  'gemm mid-32x32 W4A4 ws': '1a3e354f1ced0e9fc35b5f79625746e933b257a46d9d389a55b4f77c375681cf',
  'gemm mid-32x32 W4A4 is': 'bcbb6b99b09ccf48439c364626d6c5f316a693c78bb028147d05cd2a87f72e08',
  'trace mid-32x32 deit-s W8A8': 'd2ff01bb7536a48ee1ed8ef9f6bf4151541f9eb45c2f212e53e3785b0023df01',
  'trace mid-32x32 deit-s W4A4': 'a463e57e0e92189900433456eba23fbac531da488ad49b0b51a13a15b218a3f5',
  'trace mid-32x32 deit-b W8A8': 'd0d0f15a376d336032d3e615e57838bff5ef2c8a078746c26d07d8fb2c56d095',
  'trace mid-32x32 deit-b W4A4': 'ef11b01559123165bf09098765c701deecb6acf709e1beb30894378d2c4b4a58',
  'gemm tpu-v1 W8A8 os': 'a0b390e63d75a003cb794011a6dc575d9a8ea744433456220c42473f53fba41b',
  'gemm tpu-v1 W8A8 ws': '29ed178578029270558910ccadd0a5a2abf8aa415dba09cf6c1dd86513c5ae37',
  'gemm tpu-v1 W8A8 is': '05081e0614b2619366434d72d33ada09f8deaf5b5090e8401a682b77b8bbbab2',
  'gemm tpu-v1 W4A4 os': 'ab8fbb26c6d25dfbb12d41d419c30e61ea796cd00f75ab46bca99f4ffe24acfc',
  'gemm tpu-v1 W4A4 ws': '389e4756a331d0b32f5e76227ed47a430e500b12bbc20c28b11aac99aa324f56',
  'gemm tpu-v1 W4A4 is': '591fce2efea29e78df956db5f498d96cd04cdbb0be8a7a1cc5e4be5e1253e1e3',
  'trace tpu-v1 deit-s W8A8': '47b2bafe44b35b3a3b708d642ec89539b3cc9371a9c16c90d6ff974113b5d2cc',
  'trace tpu-v1 deit-s W4A4': '5a452bac4f74a8e31b0d9ab2650340cc4a01f60168e326f078f52c3df79ebb47',
  'trace tpu-v1 deit-b W8A8': 'e484e2781d783a91d9c8935cefcff901f37db6bf0387bd6c1aff521f63e51521',
  'trace tpu-v1 deit-b W4A4': '457cf51d55531b3b31b30a962a44beb9f0aa419db88e1a062acef741b89c042f',
};

describe('native model golden results', () => {
  const actual = goldenHashes();
  test('the golden table covers every preset, precision and dataflow', () => {
    expect(Object.keys(actual).sort()).toEqual(Object.keys(GOLDEN).sort());
  });
  test.each(Object.keys(GOLDEN))('%s gives the same results as the one-pass solver recorded', (key) => {
    expect(actual[key]).toBe(GOLDEN[key]);
  });
});
