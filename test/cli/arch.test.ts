import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function vitsim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('vitsim arch', () => {
  it('shows every field of the design, the ones the file left out marked (default): never a silent default', () => {
    const run = vitsim('arch', 'tpu-v1');
    expect(run.status).toBe(0);
    for (const line of [
      /^ {2}PE kind {4}fixed \(default\)$/m,
      /^ {2}supply {5}the node's nominal \(default\)$/m,
      /^ {2}vector {5}256 lanes \(default\), 32-bit \(default\); cycles per element: layernorm 2, softmax 3, gelu 1, add 1, avgpool 1, requant 1 \(default\)$/m,
      /^ {2}threshold {2}none \(0 lanes\) \(default\), 15 comparators per lane \(maxBits 4\) \(default\), 32-bit \(default\)$/m,
      /^ {2}noise {6}none \(0 lanes\) \(default\), 32-bit adders \(default\), table of 4096 \(default\) x 8-bit \(default\)$/m,
      /^ {2}twin {7}no twin-uniform support \(default\)$/m,
      /^ {2}overlap {4}serial \(default\)$/m,
      /^ {2}memory {5}activations kept in the ifmap SRAM when they fit$/m,
      /^ {2}gating {5}zero gating off \(default\)$/m,
    ]) {
      expect(run.stdout).toMatch(line);
    }
    const bitfusion = vitsim('arch', 'bitfusion-16x32').stdout;
    expect(bitfusion).toMatch(/^ {2}PE kind {4}bitfusion, 2-bit bricks$/m);
    expect(bitfusion).toMatch(/^ {2}overlap {4}overlapped$/m);
  });
});
