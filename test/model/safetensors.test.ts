import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../src/config/errors.js';
import type { Tensor } from '../../src/model/config.js';
import {
  encodeSafetensors,
  encodeTypedSafetensors,
  halfToFloat,
  MAX_HEADER_BYTES,
  parseSafetensors,
  parseTypedSafetensors,
  readSafetensors,
  readTypedSafetensors,
  writeSafetensors,
  writeTypedSafetensors,
  type TypedTensor,
} from '../../src/model/safetensors.js';

const FILE = 'model.safetensors';
const dir = mkdtempSync(join(tmpdir(), 'vitsim-safetensors-'));

/** A file laid out by hand: the header length, the header text (unpadded) and the data buffer. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Uint8Array {
  const text = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

function u16Bytes(values: number[]): Uint8Array {
  const out = new Uint8Array(2 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint16(2 * i, v, true));
  return out;
}

/** The one line a rejected file gives, or the test fails. */
function rejection(bytes: Uint8Array): string {
  try {
    parseSafetensors(bytes, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    const message = (err as UserError).message;
    expect(message.startsWith(`${FILE}: `)).toBe(true);
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('the file was accepted');
}

const eight = new Uint8Array(8);
const f32 = (name: string, shape: number[], begin: number, end: number) => ({ [name]: { dtype: 'F32', shape, data_offsets: [begin, end] } });

describe('safetensors round trip', () => {
  it('reads back every F32 value, shape and metadata entry that it wrote', () => {
    const tensors = new Map<string, Tensor>([
      ['b', { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, -0, 1e-40]) }],
      ['a.weight', { shape: [3], data: Float32Array.from([Infinity, -Infinity, NaN]) }],
      ['scalar', { shape: [], data: Float32Array.from([7]) }],
      ['empty', { shape: [0, 4], data: new Float32Array(0) }],
    ]);
    const file = join(dir, 'round-trip.safetensors');
    writeSafetensors(file, tensors, { 'vitsim.config': '{"a":1}', note: 'ünïcode' });
    const back = readSafetensors(file);
    expect(back.metadata).toEqual({ 'vitsim.config': '{"a":1}', note: 'ünïcode' });
    expect([...back.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [name, tensor] of tensors) {
      const read = back.tensors.get(name);
      expect(read?.dtype).toBe('F32');
      expect(read?.shape).toEqual(tensor.shape);
      expect(read?.data).toEqual(tensor.data);
    }
    expect(Object.is(back.tensors.get('b')?.data[4], -0)).toBe(true);
  });

  it('writes the reference layout: header padded with spaces to a multiple of 8, tensors sorted by name', () => {
    const bytes = encodeSafetensors(new Map([
      ['zeta', { shape: [1], data: Float32Array.from([1]) }],
      ['alpha', { shape: [2], data: Float32Array.from([2, 3]) }],
    ]));
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text).toMatch(/^\{"alpha":\{"dtype":"F32","shape":\[2\],"data_offsets":\[0,8\]\},"zeta":.*\} *$/);
    expect(new Float32Array(bytes.slice(8 + n).buffer)).toEqual(Float32Array.from([2, 3, 1]));
  });

  it('matches the bytes of the reference implementation for its own serialization test', () => {
    // safetensors/src/tensor.rs, test_serialization: {"attn.0": F32 [1,2,3] = 0..5}, no metadata.
    const bytes = encodeSafetensors(new Map([['attn.0', { shape: [1, 2, 3], data: Float32Array.from([0, 1, 2, 3, 4, 5]) }]]));
    expect([...bytes.subarray(0, 8)]).toEqual([64, 0, 0, 0, 0, 0, 0, 0]);
    expect(new TextDecoder().decode(bytes.subarray(8, 72))).toBe('{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}');
    expect(bytes.length).toBe(8 + 64 + 24);
  });

  it('leaves no temporary file behind and replaces an existing file whole', () => {
    const sub = mkdtempSync(join(tmpdir(), 'vitsim-atomic-'));
    const file = join(sub, 'w.safetensors');
    writeSafetensors(file, new Map([['x', { shape: [1], data: Float32Array.from([1]) }]]));
    writeSafetensors(file, new Map([['x', { shape: [2], data: Float32Array.from([4, 5]) }]]));
    expect(readdirSync(sub)).toEqual(['w.safetensors']);
    expect(readSafetensors(file).tensors.get('x')?.data).toEqual(Float32Array.from([4, 5]));
  });

  it('refuses to write into a directory that does not exist with one line', () => {
    const file = join(dir, 'no-such-dir', 'w.safetensors');
    expect(() => writeSafetensors(file, new Map())).toThrow(new UserError(`${file}: cannot write file (no such file or directory)`));
  });
});

describe('half-precision reading', () => {
  it('decodes F16 exactly, including subnormals, signed zeros, infinities and NaN', () => {
    const cases: [number, number][] = [
      [0x0000, 0],
      [0x8000, -0],
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125],
      [0x7bff, 65504],
      [0x0400, 2 ** -14], // smallest normal
      [0x0001, 2 ** -24], // smallest subnormal
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x8001, -(2 ** -24)],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
      [0x7e00, NaN],
      [0xfc01, NaN],
    ];
    const bytes = rawFile(
      { h: { dtype: 'F16', shape: [cases.length], data_offsets: [0, 2 * cases.length] } },
      u16Bytes(cases.map(([bits]) => bits)),
    );
    const read = parseSafetensors(bytes, FILE).tensors.get('h');
    expect(read?.dtype).toBe('F16');
    cases.forEach(([bits, value], i) => {
      expect(Object.is(read?.data[i], value), `0x${bits.toString(16)}`).toBe(true);
      expect(Object.is(halfToFloat(bits), value)).toBe(true);
    });
  });

  it('decodes BF16 as the top half of a float32', () => {
    const cases: [number, number][] = [
      [0x3f80, 1],
      [0xc040, -3],
      [0x3eab, 0.333984375],
      [0x0000, 0],
      [0x8000, -0],
      [0x0001, 2 ** -133], // subnormal
      [0x7f7f, 3.3895313892515355e38], // largest finite
      [0x7f80, Infinity],
      [0xff80, -Infinity],
      [0x7fc0, NaN],
    ];
    const bytes = rawFile(
      { b: { dtype: 'BF16', shape: [2, cases.length / 2], data_offsets: [0, 2 * cases.length] } },
      u16Bytes(cases.map(([bits]) => bits)),
    );
    const read = parseSafetensors(bytes, FILE).tensors.get('b');
    expect(read?.shape).toEqual([2, 5]);
    cases.forEach(([bits, value], i) => expect(Object.is(read?.data[i], value), `0x${bits.toString(16)}`).toBe(true));
  });

  it('reads F32, F16 and BF16 tensors side by side in one file', () => {
    const data = new Uint8Array(8);
    new DataView(data.buffer).setFloat32(0, 1.5, true);
    data.set(u16Bytes([0x3c00, 0x3f80]), 4);
    const bytes = rawFile({ ...f32('a', [1], 0, 4), h: { dtype: 'F16', shape: [1], data_offsets: [4, 6] }, b: { dtype: 'BF16', shape: [1], data_offsets: [6, 8] } }, data);
    const read = parseSafetensors(bytes, FILE);
    expect([...read.tensors].map(([name, t]) => [name, t.dtype, t.data[0]])).toEqual([['a', 'F32', 1.5], ['h', 'F16', 1], ['b', 'BF16', 1]]);
  });
});

describe('safetensors rejections: one line naming the file', () => {
  it('refuses a file shorter than the header length field', () => {
    expect(rejection(new Uint8Array(5))).toMatch(/5 bytes long, too short/);
  });

  it('refuses a header longer than the 100 MB limit of the reference implementation', () => {
    expect(rejection(rawFile('{}', undefined, BigInt(MAX_HEADER_BYTES + 1)))).toMatch(/exceeds the 100000000-byte limit/);
    expect(rejection(rawFile('{}', undefined, 2n ** 64n - 1n))).toMatch(/exceeds/);
  });

  it('refuses a header length pointing past the end of the file', () => {
    expect(rejection(rawFile('{}', undefined, 1000n))).toMatch(/header length 1000 bytes runs past the end of the file \(10 bytes\)/);
  });

  it('refuses a truncated file', () => {
    const whole = encodeSafetensors(new Map([['x', { shape: [4], data: Float32Array.from([1, 2, 3, 4]) }]]));
    const file = join(dir, 'truncated.safetensors');
    writeFileSync(file, whole.subarray(0, whole.length - 3));
    expect(() => readSafetensors(file)).toThrow(`${file}: tensor "x" data_offsets [0, 16] run past the end of the data buffer (13 bytes): truncated?`);
  });

  it('refuses a header that is not UTF-8, not an object or not JSON', () => {
    const badUtf8 = rawFile('{ }');
    badUtf8[9] = 0xff;
    expect(rejection(badUtf8)).toBe(`${FILE}: header is not valid UTF-8`);
    expect(rejection(rawFile('[1, 2]'))).toMatch(/must be a JSON object starting with '\{'/);
    expect(rejection(rawFile('{"a": '))).toMatch(/^model.safetensors: header is not valid JSON \(/);
    expect(rejection(rawFile('{"a":\n\n1'))).toMatch(/not valid JSON/);
  });

  it('refuses offsets out of range', () => {
    expect(rejection(rawFile(f32('x', [2], 0, 8), eight.subarray(0, 4)))).toMatch(/tensor "x" data_offsets \[0, 8\] run past the end of the data buffer \(4 bytes\)/);
    expect(rejection(rawFile(f32('x', [2], 8, 0), eight))).toMatch(/end before they begin/);
    expect(rejection(rawFile({ x: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, eight))).toMatch(/data_offsets must be two non-negative integers/);
    expect(rejection(rawFile({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 2 ** 60] } }, eight))).toMatch(/data_offsets must be/);
  });

  it('refuses overlapping tensors', () => {
    expect(rejection(rawFile({ ...f32('a', [2], 0, 8), ...f32('b', [1], 4, 8) }, eight))).toBe(
      `${FILE}: tensor "b" (bytes 4..8) overlaps tensor "a" (bytes 0..8)`,
    );
  });

  it('refuses holes in the data buffer, inside it and after the last tensor', () => {
    expect(rejection(rawFile({ ...f32('a', [1], 0, 4), ...f32('b', [0], 8, 8) }, eight))).toMatch(/bytes 4..8 of the data buffer belong to no tensor \(a hole before "b"\)/);
    expect(rejection(rawFile(f32('a', [1], 4, 8), eight))).toMatch(/bytes 0..4 .* hole before "a"/);
    expect(rejection(rawFile(f32('a', [1], 0, 4), eight))).toMatch(/bytes 4..8 of the data buffer belong to no tensor \(trailing/);
  });

  it('refuses an unknown dtype, and a dtype of the format that vitsim does not read', () => {
    expect(rejection(rawFile({ x: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, eight.subarray(0, 4)))).toBe(`${FILE}: tensor "x" has unknown dtype "F33"`);
    expect(rejection(rawFile({ x: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, eight))).toBe(
      `${FILE}: tensor "x" has dtype I64; vitsim reads only F32, F16 and BF16`,
    );
  });

  it('refuses a shape whose byte length does not match its offsets', () => {
    expect(rejection(rawFile(f32('x', [3], 0, 8), eight))).toBe(`${FILE}: tensor "x" of shape [3] and dtype F32 needs 12 bytes, its data_offsets [0, 8] hold 8`);
    expect(rejection(rawFile({ x: { dtype: 'F16', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, eight))).toMatch(/needs/);
    expect(rejection(rawFile({ x: { dtype: 'F32', shape: [2.5], data_offsets: [0, 8] } }, eight))).toMatch(/shape must be an array of non-negative integers/);
  });

  it('refuses a tensor named twice, even when JSON.parse would keep only one', () => {
    // Two readers could see two different tensors under one name (U8 [4] vs F32 [1] over the same bytes).
    const text = '{"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    expect(rejection(rawFile(text, eight.subarray(0, 4)))).toBe(`${FILE}: header names "w" twice`);
  });

  it('refuses metadata that is not a map of strings', () => {
    expect(rejection(rawFile({ __metadata__: { epochs: 3 } }))).toBe(`${FILE}: __metadata__.epochs must be a string, got 3`);
    expect(rejection(rawFile({ __metadata__: 'x' }))).toMatch(/__metadata__ must be an object of strings/);
  });

  it('refuses a missing file and a directory with one line', () => {
    const missing = join(dir, 'missing.safetensors');
    expect(() => readSafetensors(missing)).toThrow(new UserError(`${missing}: cannot read file (no such file or directory)`));
    expect(() => readSafetensors(dir)).toThrow(new UserError(`${dir}: cannot read file (is a directory)`));
  });
});

describe('safetensors reader on damaged files', () => {
  const valid = encodeSafetensors(
    new Map([
      ['cls_token', { shape: [1, 1, 4], data: Float32Array.from([1, 2, 3, 4]) }],
      ['blocks.0.attn.qkv.weight', { shape: [3, 2], data: Float32Array.from([0.5, -1, 2, 1e-3, 7, 8]) }],
      ['head.bias', { shape: [2], data: Float32Array.from([-5, 5]) }],
    ]),
    { 'vitsim.config': JSON.stringify({ img_size: 28, mean: [0.5] }) },
  );
  const headerEnd = 8 + Number(new DataView(valid.buffer).getBigUint64(0, true));

  /** Every outcome is a parse or a one-line UserError naming the file; anything else is a bug. */
  function parsesOrRefuses(bytes: Uint8Array): void {
    try {
      parseSafetensors(bytes, FILE);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      expect(err.message.startsWith(`${FILE}: `)).toBe(true);
      expect(err.message).not.toContain('\n');
    }
  }

  it('parses the undamaged file', () => {
    expect(parseSafetensors(valid, FILE).tensors.size).toBe(3);
  });

  it('gives a parse or a UserError for bytes flipped anywhere in the length field and header', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(headerEnd - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (flips) => {
        const bytes = valid.slice();
        for (const [at, value] of flips) bytes[at] = value;
        parsesOrRefuses(bytes);
      }),
      { numRuns: 3000 },
    );
  });

  it('gives a parse or a UserError for the header with printable characters substituted', () => {
    // Random bytes mostly break UTF-8 or JSON at once; JSON-ish characters reach the later checks.
    const alphabet = '{}[]",:0123456789-.eE FBU_';
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 8, max: headerEnd - 1 }), fc.constantFrom(...alphabet)), { minLength: 1, maxLength: 4 }), (edits) => {
        const bytes = valid.slice();
        for (const [at, ch] of edits) bytes[at] = ch.charCodeAt(0);
        parsesOrRefuses(bytes);
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses the file truncated at every point, and gives a parse or a UserError when bytes are appended', () => {
    for (let end = 0; end < valid.length; end++) expect(() => parseSafetensors(valid.subarray(0, end), FILE)).toThrow(UserError);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 16 }), (extra) => {
        const bytes = new Uint8Array(valid.length + extra.length);
        bytes.set(valid);
        bytes.set(extra, valid.length);
        expect(() => parseSafetensors(bytes, FILE)).toThrow(UserError);
      }),
    );
  });

  it('round-trips random F32 tensors exactly', () => {
    const tensorArb = fc
      .array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 })
      .chain((shape) => {
        const n = shape.reduce((a, b) => a * b, 1);
        return fc.record({ shape: fc.constant(shape), data: fc.float32Array({ minLength: n, maxLength: n }) });
      });
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((s) => s !== '__metadata__'), tensorArb, { maxKeys: 5 }), (dict) => {
        const tensors = new Map(Object.entries(dict));
        const read = parseSafetensors(encodeSafetensors(tensors), FILE).tensors;
        expect(read.size).toBe(tensors.size);
        for (const [name, t] of tensors) {
          expect(read.get(name)?.shape).toEqual(t.shape);
          expect(new Uint8Array(read.get(name)?.data.buffer ?? new ArrayBuffer(0))).toEqual(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('typed safetensors (integers and doubles)', () => {
  const extremes = (): Map<string, TypedTensor> => new Map<string, TypedTensor>([
    ['i8', { dtype: 'I8', shape: [2, 2], data: Int8Array.of(-128, -1, 0, 127) }],
    ['i16', { dtype: 'I16', shape: [3], data: Int16Array.of(-32768, 1, 32767) }],
    ['i32', { dtype: 'I32', shape: [2], data: Int32Array.of(-(2 ** 31), 2 ** 31 - 1) }],
    ['u8', { dtype: 'U8', shape: [2], data: Uint8Array.of(0, 255) }],
    ['f64', { dtype: 'F64', shape: [3], data: Float64Array.of(Math.PI, -0, 1e-310) }],
    ['f32', { dtype: 'F32', shape: [1], data: Float32Array.of(1.5) }],
  ]);

  it('round-trips I8, I16, I32, U8, F64 and F32 exactly, each into its own typed array, through a file', () => {
    const file = join(dir, 'typed.safetensors');
    writeTypedSafetensors(file, extremes(), { format: 'test' });
    const read = readTypedSafetensors(file);
    expect(read.metadata).toEqual({ format: 'test' });
    for (const [name, t] of extremes()) {
      const back = read.tensors.get(name);
      expect(back?.dtype, name).toBe(t.dtype);
      expect(back?.shape, name).toEqual(t.shape);
      expect(back?.data.constructor, name).toBe(t.data.constructor);
      expect([...(back?.data ?? [])].map((v) => Object.is(v, -0) ? '-0' : v), name).toEqual([...t.data].map((v) => Object.is(v, -0) ? '-0' : v));
    }
  });

  it('round-trips random integer tensors of every width (fast-check)', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 20 }), fc.array(fc.integer({ min: -32768, max: 32767 }), { maxLength: 20 }), (i32, i16) => {
      const tensors = new Map<string, TypedTensor>([
        ['a', { dtype: 'I32', shape: [i32.length], data: Int32Array.from(i32) }],
        ['b', { dtype: 'I16', shape: [i16.length], data: Int16Array.from(i16) }],
      ]);
      const read = parseTypedSafetensors(encodeTypedSafetensors(tensors), FILE).tensors;
      expect([...(read.get('a')?.data ?? [])]).toEqual(i32);
      expect([...(read.get('b')?.data ?? [])]).toEqual(i16);
    }));
  });

  it('the float reader still refuses integer tensors, and the typed reader refuses dtypes it does not handle, with one line', () => {
    const bytes = encodeTypedSafetensors(new Map<string, TypedTensor>([['codes', { dtype: 'I8', shape: [1], data: Int8Array.of(3) }]]));
    expect(rejection(bytes)).toBe(`${FILE}: tensor "codes" has dtype I8; vitsim reads only F32, F16 and BF16`);
    const u16 = rawFile({ x: { dtype: 'U16', shape: [1], data_offsets: [0, 2] } }, new Uint8Array(2));
    expect(() => parseTypedSafetensors(u16, FILE)).toThrow(`${FILE}: tensor "x" has dtype U16; vitsim reads only F32, F16, BF16, F64, I8, I16, I32 and U8`);
    const f16 = rawFile({ h: { dtype: 'F16', shape: [1], data_offsets: [0, 2] } }, u16Bytes([0x3c00]));
    expect(parseTypedSafetensors(f16, FILE).tensors.get('h')).toEqual({ dtype: 'F16', shape: [1], data: Float32Array.of(1) });
  });

  it('refuses to write data whose typed array does not match its dtype (a bug, not a user error)', () => {
    const wrong = new Map<string, TypedTensor>([['x', { dtype: 'I16', shape: [1], data: Int32Array.of(1) }]]);
    expect(() => encodeTypedSafetensors(wrong)).toThrow('tensor x: cannot write dtype I16 from a Int32Array');
  });
});
