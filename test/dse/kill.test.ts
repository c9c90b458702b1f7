import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runSweep } from '../../src/dse/run.js';
import { loadSweep } from '../../src/dse/spec.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = ['--import', 'tsx', 'test/dse/fixtures/cli.ts'];
const DIR = mkdtempSync(join(tmpdir(), 'vitsim-kill-'));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

/** 384 points with 192 distinct simulations of the tiny ViT: a few seconds, long enough to be killed in. */
const SPEC = {
  name: 'kill-me',
  base: 'edge-16x16',
  workload: 'vit-fashion-mnist',
  axes: [
    { name: 'array.rows', range: { from: 1, to: 8 } },
    { name: 'array.cols', range: { from: 1, to: 8 } },
    { name: 'array.dataflow', values: ['os', 'ws', 'is'] },
    { name: 'technology', values: ['28 nm', '7 nm'] },
  ],
};
const TOTAL = 384;

function lineCount(file: string): number {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').length - 1 : 0;
}

describe('a killed sweep', () => {
  it('resumed with --resume gives the file of an uninterrupted run, no point lost or repeated', async () => {
    const specFile = join(DIR, 'spec.json');
    writeFileSync(specFile, JSON.stringify(SPEC));
    const out = join(DIR, 'killed');
    const results = join(out, 'results.jsonl');

    const child = spawn(process.execPath, [...CLI, 'sweep', specFile, '--out', out, '--workers', '2', '--quiet'], { cwd: ROOT, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    // Kill it once some results are in, in the middle of its appends.
    while (lineCount(results) < 24) {
      if (child.exitCode !== null) throw new Error('the sweep finished before it could be killed');
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const left = lineCount(results);
    expect(left).toBeGreaterThanOrEqual(24);
    expect(left).toBeLessThan(TOTAL);

    // Another worker count on resume: results do not depend on it (and one worker starts faster under tsx).
    const resume = spawnSync(process.execPath, [...CLI, 'sweep', specFile, '--out', out, '--workers', '1', '--resume', '--json', '--quiet'], { cwd: ROOT, encoding: 'utf8' });
    expect(resume.stderr).toBe('');
    expect(resume.status).toBe(0);
    const summary = JSON.parse(resume.stdout) as { total: number; resumed: number; computed: number };
    expect(summary.total).toBe(TOTAL);
    expect(summary.resumed + summary.computed).toBe(TOTAL);
    expect(summary.resumed).toBeGreaterThanOrEqual(left - 1);

    const reference = join(DIR, 'reference');
    await runSweep(loadSweep(specFile), { out: reference, specFile, workers: 1, resume: false });
    expect(readFileSync(results, 'utf8')).toBe(readFileSync(join(reference, 'results.jsonl'), 'utf8'));
  });

  it('refuses a bad spec or a bad --shard with one line and exit code 2', () => {
    const bad = join(DIR, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...SPEC, axes: [{ name: 'array.depth', values: [1] }] }));
    const run = spawnSync(process.execPath, [...CLI, 'sweep', bad, '--out', join(DIR, 'bad')], { cwd: ROOT, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^.*bad\.json: axes\[0\]\.name is not a known axis, got "array\.depth" \(axes: .*\)\n$/);
    const shard = spawnSync(process.execPath, [...CLI, 'sweep', bad, '--out', join(DIR, 'bad'), '--shard', '3/3'], { cwd: ROOT, encoding: 'utf8' });
    expect(shard.status).toBe(2);
    expect(shard.stderr).toBe('vitsim sweep: --shard must be i/N with 0 <= i < N (e.g. 0/4), got "3/3"\n');
  });
});
