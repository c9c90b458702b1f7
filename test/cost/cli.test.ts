import { afterEach, describe, expect, it, vi } from 'vitest';
import yargs from 'yargs';
import { costCommand } from '../../src/cli/cost.js';
import { UserError } from '../../src/config/errors.js';
import { allRows } from '../../src/cost/tables.js';

async function run(argv: string[]): Promise<string> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  await yargs(argv)
    .command(costCommand)
    .strict()
    .fail((message, error) => {
      throw error ?? new UserError(message);
    })
    .parseAsync();
  return out;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('vitsim cost', () => {
  it('`cost sram --json` prints read and write energy per access, leakage and area in SI units', async () => {
    const json = JSON.parse(await run(['cost', 'sram', '--size', '48KiB', '--width', '64', '--node', '28nm', '--json'])) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['readEnergyJ', 'writeEnergyJ', 'leakageW', 'areaM2', 'notes']);
    expect(json.readEnergyJ).toBeGreaterThan(1e-12);
    expect(json.readEnergyJ).toBeLessThan(1e-10);
    expect(String(json.notes)).toMatch(/scaled from CACTI 32 nm/);
  });

  it('`cost sram` reads a listed CACTI point back in pJ and mm²', async () => {
    const text = await run(['cost', 'sram', '--size', '64 KiB', '--width', '128', '--node', '32 nm', '--flavour', 'lstp']);
    expect(text).toContain('19.72 pJ per access');
    expect(text).toContain('0.1151 mm²');
  });

  it('`cost mac` prices an int8 MAC with a 32-bit accumulator at 45 nm at 0.3 pJ', async () => {
    expect(await run(['cost', 'mac', '--act', '8', '--weight', '8', '--acc', '32', '--node', '45nm'])).toContain('0.3 pJ per MAC');
  });

  it('`cost --sources` lists every default with its source', async () => {
    const text = await run(['cost', '--sources']);
    for (const r of allRows()) {
      expect(r.row.source.length).toBeGreaterThan(10);
      expect(text).toContain(r.row.source);
    }
    expect(text).toContain('CACTI 7 (HewlettPackard/cacti, commit 1ffd8dfb)');
  });

  it('an unknown node or a supply outside the fitted range is refused with one line', async () => {
    await expect(run(['cost', 'sram', '--size', '48KiB', '--width', '64', '--node', '12nm'])).rejects.toThrow(/12 nm is not in the Stillmaker–Baas table/);
    await expect(run(['cost', 'mac', '--act', '8', '--weight', '8', '--node', '7nm', '--voltage', '1.3V'])).rejects.toThrow(/outside 0\.6–1\.1 V/);
  });
});
