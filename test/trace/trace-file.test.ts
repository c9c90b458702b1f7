import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { UserError } from '../../src/config/errors.js';
import { uniformBits } from '../../src/trace/bits.js';
import { buildTrace } from '../../src/trace/build.js';
import { formatTrace, parseTrace, readTrace, TRACE_SCHEMA_FILE, TRACE_VERSION, writeTrace, type Trace } from '../../src/trace/trace.js';
import { loadWorkload } from '../../src/trace/workload.js';

const dir = mkdtempSync(join(tmpdir(), 'vitsim-trace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const valid: Trace = buildTrace(loadWorkload('vit-mnist'), { bits: uniformBits(8, 8) });
const fresh = (): Record<string, unknown> => JSON.parse(JSON.stringify(valid)) as Record<string, unknown>;

/** A copy of the valid trace with op `i` changed by `edit`. */
function withOp(i: number, edit: (op: Record<string, unknown>) => void): unknown {
  const data = fresh();
  edit((data.ops as Record<string, unknown>[])[i]);
  return data;
}

function refusal(data: unknown): string {
  try {
    parseTrace(data, 't.json');
  } catch (err) {
    if (err instanceof UserError) return err.message;
    throw err;
  }
  throw new Error('the trace was accepted');
}

// ops[0] is the patch embedding (a GEMM), ops[1] the position-embedding add, ops[4] Q·Kᵀ.
describe('malformed traces are refused with one line naming the op index and the field', () => {
  it.each([
    ['an unknown op', withOp(3, (op) => { op.kind = 'conv'; }), 't.json: ops[3].kind must be one of "gemm", "layernorm", "softmax", "gelu", "add", "avgpool", got "conv"'],
    ['a negative shape', withOp(12, (op) => { op.m = -3; }), 't.json: ops[12].m must be >= 1, got -3'],
    ['a zero shape', withOp(1, (op) => { op.cols = 0; }), 't.json: ops[1].cols must be >= 1, got 0'],
    ['a fractional shape', withOp(0, (op) => { op.k = 1.5; }), 't.json: ops[0].k must be an integer, got 1.5'],
    ['bits 0', withOp(0, (op) => { op.weightBits = 0; }), 't.json: ops[0].weightBits must be >= 1, got 0'],
    ['bits above 32', withOp(4, (op) => { op.actBits = 33; }), 't.json: ops[4].actBits must be <= 32, got 33'],
    ['vector bits above 32', withOp(1, (op) => { op.outBits = 64; }), 't.json: ops[1].outBits must be <= 32, got 64'],
    ['a missing field', withOp(5, (op) => { delete op.count; }), 't.json: ops[5].count is required but missing'],
    ['a missing accumulator width', withOp(0, (op) => { delete op.accBits; }), 't.json: ops[0].accBits is required but missing'],
    ['a missing quantizer', withOp(0, (op) => { delete op.actQuant; }), 't.json: ops[0].actQuant is required but missing'],
    ['an unknown field', withOp(2, (op) => { op.stride = 2; }), 't.json: ops[2].stride is not a known field'],
    ['an unknown quantizer', withOp(0, (op) => { op.actQuant = { kind: 'log2' }; }), 't.json: ops[0].actQuant.kind must be one of "uniform", "twin-uniform", "threshold", "noisy", got "log2"'],
    ['a threshold quantizer without levels', withOp(0, (op) => { op.actQuant = { kind: 'threshold' }; }), 't.json: ops[0].actQuant.levels is required but missing'],
    ['more threshold levels than the bits hold', withOp(0, (op) => { op.actQuant = { kind: 'threshold', levels: 257 }; }), 't.json: ops[0].actQuant.levels must be at most 2^actBits = 256, got 257'],
    ['levels on a uniform quantizer', withOp(0, (op) => { op.actQuant = { kind: 'uniform', levels: 4 }; }), 't.json: ops[0].actQuant.levels is only for the threshold quantizer (kind is "uniform"), got 4'],
    ['Q·Kᵀ without the quantizer of its second activation', withOp(4, (op) => { delete op.bQuant; }), 't.json: ops[4].bQuant is required when bOperand is "activation", got nothing'],
    ['a weight with an activation quantizer', withOp(0, (op) => { op.bQuant = { kind: 'uniform' }; }), 't.json: ops[0].bQuant is only for activation B operands (bOperand is "weight"), got {"kind":"uniform"}'],
    ['a zero fraction above 1', withOp(0, (op) => { op.stats = { a: { zeroFraction: 1.2, meanAbs: 3 } }; }), 't.json: ops[0].stats.a.zeroFraction must be <= 1, got 1.2'],
    ['an op too large to count', withOp(0, (op) => { Object.assign(op, { m: 2 ** 30, k: 2 ** 30, n: 2 ** 30 }); }), 't.json: ops[0].count must keep the op below 2^53 multiply-accumulates or elements, got 1'],
    ['a repeated layer name', withOp(2, (op) => { op.name = 'patch_embed.proj'; }), 't.json: ops[2].name must be unique, got "patch_embed.proj" (also ops[0])'],
  ])('%s', (_label, data, message) => {
    expect(refusal(data)).toBe(message);
  });

  it('an op that is not an object', () => {
    const data = fresh();
    (data.ops as unknown[])[7] = 42;
    expect(refusal(data)).toBe('t.json: ops[7] must be an object, got 42');
  });

  it('a trace from a newer vitsim says so', () => {
    expect(refusal({ ...fresh(), version: TRACE_VERSION + 1 })).toBe(`t.json: version must be at most ${TRACE_VERSION}, got ${TRACE_VERSION + 1} (written by a newer vitsim; upgrade to read it)`);
  });

  it('a file that is not a trace says so', () => {
    expect(refusal({ ...fresh(), format: 'scalesim-topology' })).toMatch(/^t\.json: format must be "vitsim-trace", got "scalesim-topology"/);
    expect(refusal({ ...fresh(), ops: [] })).toBe('t.json: ops must NOT have fewer than 1 items, got []');
  });

  it('every refusal is a single line', () => {
    const data = withOp(3, (op) => { op.kind = 'conv'; });
    expect(refusal(data)).not.toContain('\n');
  });
});

describe('random mutations of a valid trace', () => {
  it('are accepted or refused with a UserError, never another exception', () => {
    const values = fc.oneof(
      fc.integer({ min: -5, max: 40 }),
      fc.constantFrom(0, -1, 33, 1.5, 2 ** 31, 2 ** 53, Number.MAX_VALUE, null, true, '', 'gemm', 'threshold', 'weight', 'activation', [], {}, { kind: 'threshold', levels: 3 }, { kind: 'noisy' }, { a: { zeroFraction: 0.5, meanAbs: 1 } }),
      fc.string(),
    );
    const mutation = fc.record({ path: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), value: values, remove: fc.boolean() });
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        const data = fresh();
        for (const { path, value, remove } of mutations) mutate(data, path, value, remove);
        try {
          const trace = parseTrace(data, 'm.json');
          expect(trace.ops.length).toBeGreaterThan(0);
        } catch (err) {
          expect(err).toBeInstanceOf(UserError);
          expect((err as UserError).message).toMatch(/^m\.json: [^\n]+$/);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('writing and reading', () => {
  it('a written trace reads back equal, for a ViT and for Swin with stats and every quantizer kind', () => {
    for (const name of ['deit-t', 'swin-t']) {
      const trace = buildTrace(loadWorkload(name), { bits: uniformBits(4, 6, 24), batch: 3 });
      const gemms = trace.ops.filter((op) => op.kind === 'gemm');
      gemms[0].stats = { a: { zeroFraction: 0.25, meanAbs: 3.5 } };
      gemms[1].actQuant = { kind: 'threshold', levels: 63 };
      gemms[2].actQuant = { kind: 'twin-uniform' };
      gemms[3].actQuant = { kind: 'noisy' };
      const file = join(dir, `${name}.json`);
      writeTrace(trace, file);
      expect(readTrace(file)).toEqual(trace);
    }
  });

  it('writes one op per line under a pretty header', () => {
    const text = formatTrace(valid);
    const lines = text.trimEnd().split('\n');
    expect(lines.filter((line) => line.trimStart().startsWith('{"kind"'))).toHaveLength(valid.ops.length);
    expect(JSON.parse(text)).toMatchObject({ format: 'vitsim-trace', version: TRACE_VERSION });
  });

  it('the published schema is the one the reader checks against', () => {
    const schema = JSON.parse(readFileSync(TRACE_SCHEMA_FILE, 'utf8')) as { title: string };
    expect(schema.title).toContain(`format version ${TRACE_VERSION}`);
  });

  it('the example in docs/trace-format.md is a valid trace', () => {
    const doc = readFileSync(new URL('../../docs/trace-format.md', import.meta.url), 'utf8');
    const example = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]).find((text) => text.includes('"vitsim-trace"'));
    expect(parseTrace(JSON.parse(example ?? 'null'), 'docs/trace-format.md').model).toBe('vit-mnist');
  });

  it('refuses an unreadable file and bad JSON with one line', () => {
    expect(() => readTrace(join(dir, 'missing.json'))).toThrow(/missing\.json: cannot read file \(no such file\)/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"format": "vitsim-trace", ');
    expect(() => readTrace(bad)).toThrow(/^.*bad\.json: is not valid JSON \([^\n]*\)$/);
  });
});

/** Sets (or deletes) the value at a path of indices into the nested object/array structure. */
function mutate(data: Record<string, unknown>, path: number[], value: unknown, remove: boolean): void {
  let node: unknown = data;
  for (let depth = 0; depth < path.length; depth++) {
    if (node === null || typeof node !== 'object') return;
    const keys = Object.keys(node as object);
    if (keys.length === 0) return;
    const key = keys[path[depth] % keys.length];
    if (depth === path.length - 1) {
      if (remove) delete (node as Record<string, unknown>)[key];
      else (node as Record<string, unknown>)[key] = structuredClone(value);
      return;
    }
    node = (node as Record<string, unknown>)[key];
  }
}
