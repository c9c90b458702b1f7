/**
 * SCALE-Sim config and topology parsers: good files parse to the right numbers; every bad or mangled
 * file is refused with one line naming the file and the row or key — never an uncaught exception.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/config/errors.js';
import { parseScaleSimConfig, type ScaleSimConfig } from '../../src/hw/scalesim/config.js';
import { simulateScaleSim } from '../../src/hw/scalesim/model.js';
import { parseTopology } from '../../src/hw/scalesim/topology.js';
import { refusal } from '../refusal.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/scalesim/', import.meta.url));
const CONFIG_TEXT = readFileSync(`${FIXTURES}configs/a32_ws_user.cfg`, 'utf8');
const TOPOLOGY_TEXT = readFileSync(`${FIXTURES}topologies/deit_small.csv`, 'utf8');

/** Runs `parse`; a refusal must be a one-line UserError that starts with the file name. */
function acceptedOrRefused<T>(parse: () => T, file: string): T | UserError {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    expect(err.message.startsWith(`${file}: `)).toBe(true);
    expect(err.message).not.toContain('\n');
    expect(err.exitCode).toBe(2);
    return err;
  }
}


/** Text edits a person (or a bad merge) might make: delete, insert, replace a span; drop, repeat or swap lines. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom(',', '\n', '=', ':', '[', ']', '-', '0', ' ', '#', '\r\n', ',,', '1e3', 'NaN')) }),
  fc.record({ kind: fc.constant('dropLine' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('repeatLine' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('replaceLine' as const), at: fc.nat(), text: fc.string({ maxLength: 30 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(text: string, edits: Mutation[]): string {
  let out = text;
  for (const edit of edits) {
    const lines = out.split('\n');
    const line = lines.length === 0 ? 0 : edit.at % lines.length;
    const at = out.length === 0 ? 0 : edit.at % out.length;
    if (edit.kind === 'delete') out = out.slice(0, at) + out.slice(at + edit.length);
    else if (edit.kind === 'insert') out = out.slice(0, at) + edit.text + out.slice(at);
    else if (edit.kind === 'dropLine') out = lines.filter((_, i) => i !== line).join('\n');
    else if (edit.kind === 'repeatLine') out = [...lines.slice(0, line + 1), lines[line], ...lines.slice(line + 1)].join('\n');
    else out = [...lines.slice(0, line), edit.text, ...lines.slice(line + 1)].join('\n');
  }
  return out;
}

describe('SCALE-Sim config parser', () => {
  it('reads the reference configs as SCALE-Sim does', () => {
    const config = parseScaleSimConfig(CONFIG_TEXT, 'a32_ws_user.cfg');
    expect(config).toEqual<ScaleSimConfig>({
      runName: 'a32_ws_user', arrayRows: 32, arrayCols: 32, ifmapSramKB: 64, filterSramKB: 64, ofmapSramKB: 64,
      ifmapOffset: 0, filterOffset: 10_000_000, ofmapOffset: 20_000_000, dataflow: 'ws', interfaceBandwidth: 'USER', bandwidthWordsPerCycle: 10,
    });
  });

  it('reads any well-formed config whatever the key case, separator and spacing', () => {
    fc.assert(
      fc.property(
        fc.record({
          rows: fc.integer({ min: 1, max: 4096 }), cols: fc.integer({ min: 1, max: 4096 }),
          sizes: fc.tuple(fc.integer({ min: 1, max: 1 << 20 }), fc.integer({ min: 1, max: 1 << 20 }), fc.integer({ min: 1, max: 1 << 20 })),
          dataflow: fc.constantFrom('os', 'ws', 'is', 'OS', 'Ws'), mode: fc.constantFrom('CALC', 'USER', 'calc'),
          bandwidth: fc.integer({ min: 1, max: 1000 }), sep: fc.constantFrom('=', ':', ' = ', ' : ', ':    '), upper: fc.boolean(),
        }),
        (g) => {
          const key = (k: string) => (g.upper ? k.toUpperCase() : k);
          const text = [
            '# generated', '[general]', `${key('run_name')}${g.sep}gen`, '', '[architecture_presets]',
            `${key('ArrayHeight')}${g.sep}${g.rows}`, `${key('ArrayWidth')}${g.sep}${g.cols}`,
            `${key('IfmapSramSzkB')}${g.sep}${g.sizes[0]}`, `${key('FilterSramSzkB')}${g.sep}${g.sizes[1]}`, `${key('OfmapSramSzkB')}${g.sep}${g.sizes[2]}`,
            `${key('Dataflow')}${g.sep}${g.dataflow}`, `${key('Bandwidth')}${g.sep}${g.bandwidth}`, `MemoryBanks${g.sep}1`,
            '[run_presets]', `${key('InterfaceBandwidth')}${g.sep}${g.mode}`,
          ].join(g.upper ? '\r\n' : '\n');
          const config = parseScaleSimConfig(text, 'gen.cfg');
          expect([config.arrayRows, config.arrayCols, config.ifmapSramKB, config.filterSramKB, config.ofmapSramKB]).toEqual([g.rows, g.cols, ...g.sizes]);
          expect(config.dataflow).toBe(g.dataflow.toLowerCase());
          expect(config.bandwidthWordsPerCycle).toBe(g.bandwidth);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('accepts or refuses thousands of mutated configs with one line, and every accepted one simulates', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (edits) => {
        const outcome = acceptedOrRefused(() => parseScaleSimConfig(mutate(CONFIG_TEXT, edits), 'm.cfg'), 'm.cfg');
        if (!(outcome instanceof UserError)) {
          const result = simulateScaleSim(outcome, { m: 197, k: 64, n: 197 });
          expect(Number.isFinite(result.totalCycles)).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('accepts or refuses arbitrary text with one line', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        acceptedOrRefused(() => parseScaleSimConfig(text, 'x.cfg'), 'x.cfg');
      }),
      { numRuns: 2000 },
    );
  });

  it('names the key for an unknown dataflow, a zero or negative size, a zero bandwidth, a missing key', () => {
    const edit = (from: RegExp, to: string) => () => parseScaleSimConfig(CONFIG_TEXT.replace(from, to), 'a.cfg');
    expect(refusal(edit(/Dataflow : ws/, 'Dataflow : rs'))).toBe('a.cfg: architecture_presets.Dataflow must be one of os, ws, is, got "rs"');
    expect(refusal(edit(/ArrayHeight:\s+32/, 'ArrayHeight: 0'))).toBe('a.cfg: architecture_presets.ArrayHeight must be a positive integer, got "0"');
    expect(refusal(edit(/IfmapSramSzkB:\s+64/, 'IfmapSramSzkB: -64'))).toBe('a.cfg: architecture_presets.IfmapSramSzkB must be a positive integer, got "-64"');
    expect(refusal(edit(/ArrayWidth:\s+32/, 'ArrayWidth: 3.5'))).toContain('architecture_presets.ArrayWidth must be a positive integer');
    expect(refusal(edit(/Bandwidth : 10/, 'Bandwidth : 0'))).toContain('a.cfg: architecture_presets.Bandwidth must be a positive integer');
    expect(refusal(edit(/Bandwidth : 10\n/, ''))).toBe('a.cfg: architecture_presets.Bandwidth is required when InterfaceBandwidth is USER');
    expect(refusal(edit(/InterfaceBandwidth: USER/, 'InterfaceBandwidth: FAST'))).toBe('a.cfg: run_presets.InterfaceBandwidth must be CALC or USER, got "FAST"');
    expect(refusal(edit(/\[run_presets\][^]*/, ''))).toBe('a.cfg: run_presets.InterfaceBandwidth is missing (no [run_presets] section)');
    expect(refusal(edit(/ArrayWidth:\s+32\n/, 'ArrayWidth: 32\nArrayWidth: 16\n'))).toContain('a.cfg: line 7: architecture_presets.ArrayWidth is given twice');
  });
});

describe('SCALE-Sim topology parser', () => {
  it('reads the reference topology with its trailing commas, M N K in SCALE-Sim order', () => {
    const layers = parseTopology(TOPOLOGY_TEXT, 'deit_small.csv');
    expect(layers.map((l) => l.name)).toEqual(['patch_embed', 'qkv', 'attn_scores', 'attn_v', 'proj', 'fc1', 'fc2']);
    expect(layers[1]).toEqual({ name: 'qkv', gemm: { m: 197, n: 1152, k: 384 }, line: 3 });
  });

  it('reads rows without the trailing comma and files without a header', () => {
    expect(parseTopology('a, 1, 2, 3\nb,4,5,6,\n', 't.csv').map((l) => l.gemm)).toEqual([{ m: 1, n: 2, k: 3 }, { m: 4, n: 5, k: 6 }]);
  });

  it('reads any generated topology', () => {
    const row = fc.record({ name: fc.stringMatching(/^[A-Za-z_][\w.]{0,15}$/), m: fc.integer({ min: 1, max: 1e6 }), n: fc.integer({ min: 1, max: 1e6 }), k: fc.integer({ min: 1, max: 1e6 }) });
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 20 }), fc.boolean(), (rows, trailing) => {
        const text = ['Layer, M, N, K,', ...rows.map((r) => `${r.name}, ${r.m}, ${r.n}, ${r.k}${trailing ? ',' : ''}`)].join('\n');
        expect(parseTopology(text, 'g.csv').map((l) => ({ name: l.name, ...l.gemm }))).toEqual(rows);
      }),
      { numRuns: 500 },
    );
  });

  it('accepts or refuses thousands of mutated topologies with one line', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (edits) => {
        const outcome = acceptedOrRefused(() => parseTopology(mutate(TOPOLOGY_TEXT, edits), 'm.csv'), 'm.csv');
        if (!(outcome instanceof UserError)) for (const layer of outcome) expect(layer.gemm.m * layer.gemm.n * layer.gemm.k).toBeGreaterThan(0);
      }),
      { numRuns: 3000 },
    );
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (text) => void acceptedOrRefused(() => parseTopology(text, 'x.csv'), 'x.csv')), { numRuns: 2000 });
  });

  it('names the row and the column for a missing or non-numeric field', () => {
    const header = 'Layer,M,N,K,\n';
    expect(refusal(() => parseTopology(`${header}fc1,197,384,\n`, 't.csv'))).toBe('t.csv: row 2: column K is missing (expected "name, M, N, K,")');
    expect(refusal(() => parseTopology(`${header}fc1,197\n`, 't.csv'))).toBe('t.csv: row 2: column N is missing (expected "name, M, N, K,")');
    expect(refusal(() => parseTopology(`${header}a,1,1,1,\nfc1,197,x84,384,\n`, 't.csv'))).toBe('t.csv: row 3: N must be a positive integer, got "x84"');
    expect(refusal(() => parseTopology(`${header}fc1,0,384,384,\n`, 't.csv'))).toBe('t.csv: row 2: M must be a positive integer, got "0"');
    expect(refusal(() => parseTopology(`${header}fc1,-5,384,384,\n`, 't.csv'))).toContain('t.csv: row 2: M must be a positive integer');
    expect(refusal(() => parseTopology(`${header}conv1,224,224,3,3,3,64,1,\n`, 't.csv'))).toContain('t.csv: row 2: has 8 columns, expected 4');
    expect(refusal(() => parseTopology(header, 't.csv'))).toContain('t.csv: has no layers');
  });
});
