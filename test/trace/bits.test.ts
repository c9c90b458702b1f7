import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/config/errors.js';
import { bitsFor, loadBitsMap, matches, parseBitsMap, uniformBits, type BitConfig } from '../../src/trace/bits.js';
import { buildTrace } from '../../src/trace/build.js';
import type { GemmOp, VectorOp } from '../../src/trace/ops.js';
import { parseTrace, formatTrace } from '../../src/trace/trace.js';
import { loadWorkload } from '../../src/trace/workload.js';

const dir = mkdtempSync(join(tmpdir(), 'vitsim-bits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(map: unknown, defaults = { w: 8, a: 8, acc: 32 }): BitConfig {
  return { ...parseBitsMap(map, 'bits.json'), defaults };
}

describe('per-layer bit-widths', () => {
  it('a map sets the widths of the layers it names and leaves the others at the defaults', () => {
    const bits = config({
      'blocks.*.mlp.fc2': { a: 6 },
      'blocks.*.attn.*': { w: 4, a: 4 },
      'blocks.0.attn.qkv': { w: 8 },
      head: { acc: 24 },
    });
    const trace = buildTrace(loadWorkload('deit-s'), { bits });
    const op = (name: string) => trace.ops.find((o) => o.name === name) as GemmOp;
    expect(op('blocks.5.mlp.fc2')).toMatchObject({ actBits: 6, weightBits: 8, accBits: 32 });
    expect(op('blocks.5.mlp.fc1')).toMatchObject({ actBits: 8, weightBits: 8 });
    expect(op('blocks.5.attn.qkv')).toMatchObject({ actBits: 4, weightBits: 4 });
    // A later entry refines an earlier one: only w changes for blocks.0.attn.qkv.
    expect(op('blocks.0.attn.qkv')).toMatchObject({ actBits: 4, weightBits: 8 });
    // Q·Kᵀ multiplies two activations, both at the activation width.
    expect(op('blocks.2.attn.qk')).toMatchObject({ actBits: 4, weightBits: 4, bOperand: 'activation' });
    expect(op('head')).toMatchObject({ actBits: 8, weightBits: 8, accBits: 24 });
    expect(op('patch_embed.proj')).toMatchObject({ actBits: 8, weightBits: 8, accBits: 32 });
    // The op feeding a GEMM writes at that GEMM's activation width.
    const softmax = trace.ops.find((o) => o.name === 'blocks.5.attn.softmax') as VectorOp;
    expect(softmax).toMatchObject({ inBits: 4, outBits: 4 });
    const gelu = trace.ops.find((o) => o.name === 'blocks.5.mlp.act') as VectorOp;
    expect(gelu).toMatchObject({ inBits: 8, outBits: 6 });
    expect(parseTrace(JSON.parse(formatTrace(trace)), 'x.json').ops).toEqual(trace.ops);
    expect(trace.source).toMatch(/; widths: W8A8, 32-bit accumulators, per-layer map bits\.json$/);
  });

  it('a map can choose the quantizer: N2UQ thresholds with 2^a levels unless given, twin-uniform on P', () => {
    const bits = config({ 'blocks.*.mlp.fc*': { a: 4, quant: 'threshold' }, 'blocks.1.mlp.fc2': { levels: 9 }, 'blocks.*.attn.pv': { quant: 'twin-uniform' }, 'blocks.*.attn.qk': { bQuant: 'noisy' } });
    const ops = buildTrace(loadWorkload('deit-t'), { bits }).ops as GemmOp[];
    const op = (name: string) => ops.find((o) => o.name === name) as GemmOp;
    expect(op('blocks.1.mlp.fc1').actQuant).toEqual({ kind: 'threshold', levels: 16 });
    expect(op('blocks.1.mlp.fc2').actQuant).toEqual({ kind: 'threshold', levels: 9 });
    expect(op('blocks.1.attn.pv')).toMatchObject({ actQuant: { kind: 'twin-uniform' }, bQuant: { kind: 'uniform' } });
    expect(op('blocks.1.attn.qk')).toMatchObject({ actQuant: { kind: 'uniform' }, bQuant: { kind: 'noisy' } });
    expect(op('blocks.1.attn.qkv').bQuant).toBeUndefined();
  });

  it('reads a map from a file on top of --wbits/--abits', () => {
    const file = join(dir, 'map.json');
    writeFileSync(file, JSON.stringify({ 'blocks.*.mlp.fc1': { w: 2 } }));
    const bits = loadBitsMap(file, uniformBits(6, 7).defaults);
    expect(bitsFor(bits, 'blocks.3.mlp.fc1')).toMatchObject({ w: 2, a: 7, acc: 32 });
    expect(bitsFor(bits, 'blocks.3.mlp.fc2')).toMatchObject({ w: 6, a: 7 });
  });

  it('patterns match whole names, with * standing for any run of characters', () => {
    expect(matches('blocks.*.mlp.fc1', 'blocks.11.mlp.fc1')).toBe(true);
    expect(matches('blocks.1.mlp.fc1', 'blocks.11.mlp.fc1')).toBe(false);
    expect(matches('*fc1', 'layers.2.blocks.0.mlp.fc1')).toBe(true);
    expect(matches('head', 'blocks.0.head')).toBe(false);
    expect(matches('blocks.(1)', 'blocks.(1)')).toBe(true);
  });

  it.each([
    [{ head: { w: 0 } }, 'bits.json: "head".w must be an integer from 1 to 32, got 0'],
    [{ head: { a: 33 } }, 'bits.json: "head".a must be an integer from 1 to 32, got 33'],
    [{ head: { acc: 2.5 } }, 'bits.json: "head".acc must be an integer from 1 to 32, got 2.5'],
    [{ head: { quant: 'log' } }, 'bits.json: "head".quant must be one of "uniform", "twin-uniform", "threshold", "noisy", got "log"'],
    [{ head: { wbits: 4 } }, 'bits.json: "head".wbits is not a known field (w, a, acc, quant, levels, bQuant), got 4'],
    [{ head: 8 }, 'bits.json: "head" must be an object such as {"w": 8, "a": 8}, got 8'],
    [[8, 8], 'bits.json: (top level) must be an object from layer names or patterns to bit-widths, got [8,8]'],
  ])('refuses a bad map entry with one line (%#)', (map, message) => {
    expect(() => parseBitsMap(map, 'bits.json')).toThrow(new UserError(message));
  });

  it('refuses a pattern that names no layer, and more threshold levels than the bits hold', () => {
    expect(() => buildTrace(loadWorkload('deit-t'), { bits: config({ 'blocks.*.mlp.fc3': { w: 4 } }) })).toThrow(/^bits\.json: "blocks\.\*\.mlp\.fc3" matches no layer of deit-t/);
    expect(() => buildTrace(loadWorkload('deit-t'), { bits: config({ head: { a: 2, quant: 'threshold', levels: 5 } }) })).toThrow(
      new UserError('bits.json: head asks for 5 threshold levels, more than its 2-bit activations hold (4)'),
    );
  });

  it.each([
    [0, 8, 32, '--wbits must be an integer from 1 to 32, got 0'],
    [8, 33, 32, '--abits must be an integer from 1 to 32, got 33'],
    [8, 8, 40, '--acc-bits must be an integer from 1 to 32, got 40'],
  ])('refuses --wbits %i --abits %i --acc-bits %i', (w, a, acc, message) => {
    expect(() => uniformBits(w, a, acc)).toThrow(new UserError(message));
  });
});
