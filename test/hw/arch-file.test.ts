import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARCH_DIR, archPresets, loadArch, parseArch } from '../../src/hw/arch-file.js';
import { peakOpsPerSecond } from '../../src/hw/arch.js';
import { UserError } from '../../src/config/errors.js';

const valid = {
  name: 'test',
  array: { rows: 16, cols: 8, dataflow: 'os' },
  pe: { actBits: 8, weightBits: 8, accBits: 32 },
  sram: { ifmap: '64 KiB', filter: '32 KiB', ofmap: '1 MiB' },
  dram: { type: 'LPDDR4', bandwidth: '25.6 GB/s' },
  clock: '1 GHz',
  technology: '28 nm',
};

function refusal(data: unknown): string {
  try {
    parseArch(data, 'arch/x.json');
  } catch (err) {
    if (err instanceof UserError) return err.message;
    throw err;
  }
  throw new Error('accepted');
}

describe('arch files', () => {
  it('every shipped preset validates and parses', () => {
    expect(archPresets()).toEqual(['bitfusion-16x32', 'edge-16x16', 'mid-32x32', 'tpu-v1']);
    for (const name of archPresets()) expect(loadArch(name).name).toBe(name);
  });

  it('quantities with units become SI numbers', () => {
    const arch = parseArch(valid, 'x.json');
    expect(arch.sram).toEqual({ ifmapBytes: 65536, filterBytes: 32768, ofmapBytes: 1048576 });
    expect(arch.dram.bandwidthBytesPerSecond).toBe(25.6e9);
    expect(arch.clockHz).toBe(1e9);
    expect(arch.technologyNodeMetres).toBeCloseTo(28e-9, 15);
  });

  it('the TPU-v1-like preset has 65,536 MACs at 700 MHz, 92 peak TOPS (Jouppi et al. 2017)', () => {
    const tpu = loadArch('tpu-v1');
    expect(tpu.array.rows * tpu.array.cols).toBe(65536);
    expect(tpu.clockHz).toBe(700e6);
    expect(Math.round(peakOpsPerSecond(tpu) / 1e12)).toBe(92);
    expect(tpu.dram.bandwidthBytesPerSecond).toBe(34e9);
  });

  it('a file without the optional fields gets the documented defaults, and the parsed design lists every one it filled', () => {
    const arch = parseArch(valid, 'x.json');
    expect(arch.pe).toEqual({ actBits: 8, weightBits: 8, accBits: 32, kind: 'fixed', brickBits: 2 });
    expect(arch.vector).toEqual({ lanes: 8, bits: 32, cyclesPerElement: { layernorm: 2, softmax: 3, gelu: 1, add: 1, avgpool: 1, requant: 1 } });
    expect(arch.threshold).toEqual({ lanes: 0, maxBits: 4, comparatorBits: 32 });
    expect(arch.noise).toEqual({ lanes: 0, bits: 32, tableEntries: 4096, entryBits: 8 });
    expect([arch.twinUniform, arch.overlap, arch.activations, arch.volts, arch.zeroGating]).toEqual([false, 'serial', 'dram', undefined, false]);
    expect(arch.defaulted).toEqual([
      'pe.kind', 'pe.brickBits',
      'vector.cyclesPerElement.layernorm', 'vector.cyclesPerElement.softmax', 'vector.cyclesPerElement.gelu',
      'vector.cyclesPerElement.add', 'vector.cyclesPerElement.avgpool', 'vector.cyclesPerElement.requant',
      'vector.lanes', 'vector.bits', 'threshold.lanes', 'threshold.maxBits', 'threshold.comparatorBits',
      'noise.lanes', 'noise.bits', 'noise.tableEntries', 'noise.entryBits', 'twinUniform', 'overlap', 'activations', 'voltage', 'zeroGating',
    ]);
  });

  it('every default is stated in the schema description of its field', () => {
    const schema = JSON.parse(readFileSync(join(ARCH_DIR, 'arch.schema.json'), 'utf8')) as { properties: Record<string, { description?: string; properties?: Record<string, { description?: string; properties?: Record<string, { description?: string }> }> }> };
    const arch = parseArch(valid, 'x.json');
    for (const field of arch.defaulted) {
      const path = field.split('.');
      let node: { description?: string; properties?: Record<string, unknown> } = schema;
      for (const key of path) node = (node.properties as Record<string, typeof node>)[key];
      expect(node.description, field).toMatch(/default/);
    }
  });

  it('a BitFusion PE needs equal operand widths that are a power-of-two number of bricks', () => {
    expect(refusal({ ...valid, pe: { ...valid.pe, kind: 'bitfusion', weightBits: 4 } })).toBe(
      'arch/x.json: pe.weightBits must equal pe.actBits (8) for a bitfusion PE, got 4',
    );
    expect(refusal({ ...valid, pe: { ...valid.pe, kind: 'bitfusion', actBits: 6, weightBits: 6 } })).toBe(
      'arch/x.json: pe.actBits must be a power-of-two multiple (2, 4, 8, …) of pe.brickBits (2) for a bitfusion PE, got 6',
    );
    expect(parseArch({ ...valid, pe: { ...valid.pe, kind: 'bitfusion', brickBits: 4 } }, 'x.json').pe.brickBits).toBe(4);
  });

  it('voltage and the unit sections are parsed, and an unknown overlap is refused', () => {
    const arch = parseArch({ ...valid, voltage: '0.8 V', vector: { lanes: 4, cyclesPerElement: { softmax: 5 } }, overlap: 'overlapped' }, 'x.json');
    expect([arch.volts, arch.vector.lanes, arch.vector.cyclesPerElement.softmax, arch.overlap]).toEqual([0.8, 4, 5, 'overlapped']);
    expect(arch.defaulted).not.toContain('voltage');
    expect(arch.defaulted).toContain('vector.cyclesPerElement.gelu');
    expect(refusal({ ...valid, overlap: 'after' })).toBe('arch/x.json: overlap must be one of "serial", "overlapped", got "after"');
    expect(refusal({ ...valid, voltage: '0.8 GHz' })).toBe('arch/x.json: voltage must be a voltage such as "0.9 V", got "0.8 GHz"');
  });

  it('a negative row count is refused with the file, the field path and what was expected', () => {
    expect(refusal({ ...valid, array: { ...valid.array, rows: -4 } })).toBe('arch/x.json: array.rows must be >= 1, got -4');
  });

  it('an unknown dataflow names the allowed ones', () => {
    expect(refusal({ ...valid, array: { ...valid.array, dataflow: 'rs' } })).toBe(
      'arch/x.json: array.dataflow must be one of "os", "ws", "is", got "rs"',
    );
  });

  it('a size without a unit, a wrong unit, and zero bandwidth are refused', () => {
    expect(refusal({ ...valid, sram: { ...valid.sram, ifmap: '65536' } })).toBe(
      'arch/x.json: sram.ifmap must be a size such as "256 KiB", got "65536"',
    );
    expect(refusal({ ...valid, clock: '1 GB' })).toBe('arch/x.json: clock must be a frequency such as "1 GHz", got "1 GB"');
    expect(refusal({ ...valid, dram: { ...valid.dram, bandwidth: '0 GB/s' } })).toBe(
      'arch/x.json: dram.bandwidth must be a bandwidth such as "25.6 GB/s" greater than zero, got "0 GB/s"',
    );
  });

  it('mathjs units are parsed, never evaluated as expressions', () => {
    expect(refusal({ ...valid, clock: '1 GHz + 1 GHz' })).toMatch(/^arch\/x\.json: clock must be a frequency/);
  });

  it('missing and unknown fields are named', () => {
    const { pe: _pe, ...withoutPe } = valid;
    expect(refusal(withoutPe)).toBe('arch/x.json: pe is required but missing');
    expect(refusal({ ...valid, sram: { ...valid.sram, l2: '1 MiB' } })).toBe('arch/x.json: sram.l2 is not a known field');
  });

  it('thousands of mutated arch files are each accepted or refused with one line, never a crash', () => {
    const leaf = fc.oneof(
      fc.integer({ min: -5, max: 70000 }),
      fc.double(),
      fc.string({ maxLength: 12 }),
      fc.constantFrom('os', 'ws', 'is', 'xs', '1 GHz', '0 GHz', '-1 KiB', '64 KiB', '3.5 B', '10 nm', 'NaN GHz', '', ' '),
      fc.constant(null),
      fc.boolean(),
      fc.array(fc.integer(), { maxLength: 3 }),
    );
    const paths: string[][] = [
      ['name'], ['array'], ['array', 'rows'], ['array', 'cols'], ['array', 'dataflow'], ['pe', 'actBits'], ['pe', 'accBits'],
      ['sram', 'ifmap'], ['sram', 'filter'], ['sram', 'ofmap'], ['dram', 'type'], ['dram', 'bandwidth'], ['clock'], ['technology'], ['extra'],
    ];
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...paths), leaf, fc.boolean()), { minLength: 1, maxLength: 4 }), (mutations) => {
        const data = structuredClone(valid) as Record<string, unknown>;
        for (const [path, value, remove] of mutations) {
          let node = data;
          for (const key of path.slice(0, -1)) {
            if (node[key] === null || typeof node[key] !== 'object') node[key] = {};
            node = node[key] as Record<string, unknown>;
          }
          if (remove) delete node[path[path.length - 1]];
          else node[path[path.length - 1]] = value;
        }
        try {
          const arch = parseArch(data, 'arch/x.json');
          expect(arch.array.rows).toBeGreaterThan(0);
          expect(arch.sram.ifmapBytes).toBeGreaterThan(0);
        } catch (err) {
          expect(err).toBeInstanceOf(UserError);
          const message = (err as UserError).message;
          expect(message.startsWith('arch/x.json: ')).toBe(true);
          expect(message).not.toContain('\n');
        }
      }),
      { numRuns: 3000, seed: 42 },
    );
  });
});
