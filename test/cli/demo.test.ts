import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { demoCommand } from '../../src/cli/demo.js';
import { designTechnology, priceSimulation } from '../../src/cost/simulation.js';
import { loadArch } from '../../src/hw/arch-file.js';
import { simulateTrace } from '../../src/hw/simulate.js';
import { uniformBits } from '../../src/trace/bits.js';
import { buildTrace } from '../../src/trace/build.js';
import { loadWorkload } from '../../src/trace/workload.js';

describe('vitsim demo', () => {
  const out = mkdtempSync(join(tmpdir(), 'vitsim-demo-'));
  let stdout = '';

  beforeAll(async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout += String(chunk);
      return true;
    });
    try {
      await demoCommand.handler({ out, images: 50, _: [], $0: 'vitsim' });
    } finally {
      write.mockRestore();
    }
  });

  it('evaluates the shipped model on the first test images and says so in the report', () => {
    const line = stdout.split('\n').find((l) => l.startsWith('accuracy'));
    const match = /: (\d+\.\d\d)% top-1 on the first 50 fashion-mnist test images/.exec(line ?? '');
    expect(match).not.toBeNull();
    // A trained 10-class model, not chance: the shipped one reaches ~89% on the whole split.
    expect(Number(match![1])).toBeGreaterThan(70);
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain(`correctly: ${match![1]}% top-1`);
  });

  it('writes one CSV row per workload, width and preset, each equal to simulating and pricing that point directly', () => {
    // No field of this CSV holds a comma or a quote, so a plain split reads it.
    const [header, ...lines] = readFileSync(join(out, 'summary.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
    const rows = lines.map((cells) => Object.fromEntries(header.map((h, i) => [h, cells[i]])));
    expect(rows).toHaveLength(2 * 2 * 4);
    const row = rows.find((r) => r.workload === 'deit-s' && r.bits === 'W4A4' && r.arch === 'mid-32x32')!;
    const arch = loadArch('mid-32x32');
    const sim = simulateTrace(arch, buildTrace(loadWorkload('deit-s'), { bits: uniformBits(4, 4), batch: 1 }));
    const cost = priceSimulation(sim, arch, designTechnology(arch));
    expect(Number(row.cycles)).toBe(sim.totals.cycles);
    expect(Number(row.latency_s)).toBe(sim.totals.latencySeconds);
    expect(Number(row.energy_per_inference_j)).toBe(cost.energyPerInferenceJ);
    expect(Number(row.area_m2)).toBe(cost.area.totalM2);
  });

  it('draws each chart as PNG, SVG and PDF', () => {
    for (const chart of ['latency', 'energy-deit-s-w8a8']) {
      expect(readFileSync(join(out, `${chart}.png`)).subarray(1, 4).toString()).toBe('PNG');
      expect(readFileSync(join(out, `${chart}.svg`), 'utf8')).toMatch(/^<\?xml[\s\S]*<svg[\s\S]*<\/svg>\s*$/);
      expect(readFileSync(join(out, `${chart}.pdf`)).subarray(0, 5).toString()).toBe('%PDF-');
    }
  });
});
