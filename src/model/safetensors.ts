/**
 * The safetensors file format (huggingface/safetensors), read and written without a dependency:
 *
 *   u64 little-endian N | N bytes of UTF-8 JSON header | data buffer
 *
 * The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets relative
 * to the start of the data buffer) plus an optional `__metadata__` map of strings to strings.
 *
 * The reader treats every file as hostile and follows the reference implementation's rules
 * (safetensors/src/tensor.rs): header at most 100 MB, a JSON object starting with `{`, no duplicate
 * names, each tensor's byte length equal to its element count × dtype size, and the tensors tiling
 * the data buffer exactly (sorted by offset, no hole, no overlap, ending at the end of the file).
 * Every violation is a UserError with one line `<file>: <problem>`; no number from the file is used
 * before it is checked, so a bad file can never cause an out-of-range read or a huge allocation.
 *
 * Checkpoints are float: `readSafetensors` reads F32, F16 and BF16 (converted to Float32Array) and
 * `writeSafetensors` writes F32. Quantized-model files also hold integers and doubles:
 * `readTypedSafetensors` / `writeTypedSafetensors` add F64, I8, I16, I32 and U8, each kept in its own
 * typed array (F16 and BF16 still arrive as float32), with the same checks.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, fieldError, UserError } from '../config/errors.js';
import type { Tensor } from './config.js';

/** The dtypes vitsim converts to float32 on reading. */
export type FloatDtype = 'F32' | 'F16' | 'BF16';

export interface StoredTensor {
  /** The dtype the file stored; `data` is always float32. */
  dtype: FloatDtype;
  shape: number[];
  data: Float32Array;
}

/** The dtypes the typed reader and writer handle, each in its own typed array. */
export type TypedDtype = 'F32' | 'F64' | 'I8' | 'I16' | 'I32' | 'U8';

export type TypedData = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array;

export interface TypedTensor {
  /** The stored dtype; F16 and BF16 are read as float32 (their data is a Float32Array) and never written. */
  dtype: TypedDtype | 'F16' | 'BF16';
  shape: number[];
  data: TypedData;
}

export interface TypedSafetensorsContents {
  tensors: Map<string, TypedTensor>;
  metadata: Record<string, string>;
}

export interface SafetensorsContents {
  /** Tensors in the order of their bytes in the file. */
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

/** The reference implementation refuses larger headers (MAX_HEADER_SIZE in safetensors/src/tensor.rs). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bytes per element of every dtype the format defines, so a file of other dtypes is told apart from a corrupt one. */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1, F4: 1, F6_E2M3: 1, F6_E3M2: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
  C64: 8,
};

const METADATA_KEY = '__metadata__';

/** Reads a whole .safetensors file; throws a one-line UserError naming `file` on any problem. */
export function readSafetensors(file: string): SafetensorsContents {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new UserError(`${file}: cannot read file (${ioReason(err)})`);
  }
  return parseSafetensors(bytes, file);
}

/** Parses the bytes of a .safetensors file; `file` only names it in error messages. */
export function parseSafetensors(bytes: Uint8Array, file: string): SafetensorsContents {
  const fail = (problem: string): never => {
    throw new UserError(`${file}: ${problem}`);
  };
  const { view, headerEnd, infos, metadata } = parseLayout(bytes, file);
  const tensors = new Map<string, StoredTensor>();
  for (const info of infos) {
    if (!isFloatDtype(info.dtype)) {
      fail(`tensor ${describe(info.name)} has dtype ${info.dtype}; vitsim reads only F32, F16 and BF16`);
    }
    const dtype = info.dtype as FloatDtype;
    const at = headerEnd + info.begin;
    tensors.set(info.name, { dtype, shape: info.shape, data: decode(view, at, info.end - info.begin, dtype) });
  }
  return { tensors, metadata };
}

/** Reads a whole .safetensors file of any dtype of TypedDtype (or F16/BF16); one-line UserErrors as readSafetensors. */
export function readTypedSafetensors(file: string): TypedSafetensorsContents {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new UserError(`${file}: cannot read file (${ioReason(err)})`);
  }
  return parseTypedSafetensors(bytes, file);
}

/** parseSafetensors for the typed dtypes: integers and doubles keep their own typed arrays. */
export function parseTypedSafetensors(bytes: Uint8Array, file: string): TypedSafetensorsContents {
  const { view, headerEnd, infos, metadata } = parseLayout(bytes, file);
  const tensors = new Map<string, TypedTensor>();
  for (const info of infos) {
    const at = headerEnd + info.begin;
    const length = info.end - info.begin;
    const dtype = info.dtype;
    if (isFloatDtype(dtype)) {
      tensors.set(info.name, { dtype, shape: info.shape, data: decode(view, at, length, dtype) });
    } else if (isTypedDtype(dtype)) {
      tensors.set(info.name, { dtype, shape: info.shape, data: decodeTyped(view, at, length, dtype) });
    } else {
      throw new UserError(`${file}: tensor ${describe(info.name)} has dtype ${dtype}; vitsim reads only F32, F16, BF16, F64, I8, I16, I32 and U8`);
    }
  }
  return { tensors, metadata };
}

/**
 * Writes tensors as F32 with `metadata` in the header, the way the reference writer lays a file out
 * (tensors sorted by name, header padded with spaces to a multiple of 8 so every tensor starts
 * 8-byte aligned). The file appears atomically: a crash leaves the old file or the new one, never half.
 */
export function writeSafetensors(file: string, tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): void {
  writeTypedSafetensors(file, asF32(tensors), metadata);
}

/** writeSafetensors for tensors of any TypedDtype, each stored in the dtype it names. */
export function writeTypedSafetensors(file: string, tensors: Map<string, TypedTensor>, metadata: Record<string, string> = {}): void {
  const { header, chunks } = encodeLayout(tensors, metadata);
  // The temporary file sits next to the target so that the rename stays within one filesystem.
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${Date.now()}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'w');
    writeAll(fd, header);
    for (const chunk of chunks) writeAll(fd, chunk);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, file);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // Nothing to clean up: the temporary file was never created or is already renamed.
    }
    throw new UserError(`${file}: cannot write file (${ioReason(err)})`);
  }
}

/** The bytes `writeSafetensors` writes, as one buffer (for tests and in-memory use). */
export function encodeSafetensors(tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array {
  return encodeTypedSafetensors(asF32(tensors), metadata);
}

/** The bytes `writeTypedSafetensors` writes, as one buffer. */
export function encodeTypedSafetensors(tensors: Map<string, TypedTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const { header, chunks } = encodeLayout(tensors, metadata);
  const out = new Uint8Array(header.length + chunks.reduce((sum, c) => sum + c.length, 0));
  out.set(header, 0);
  let at = header.length;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function asF32(tensors: Map<string, Tensor>): Map<string, TypedTensor> {
  const typed = new Map<string, TypedTensor>();
  for (const [name, t] of tensors) typed.set(name, { dtype: 'F32', shape: t.shape, data: t.data });
  return typed;
}

/** The checked header of a safetensors file: tensor infos (tiling checked, sorted by offset) and metadata. */
function parseLayout(bytes: Uint8Array, file: string): { view: DataView; headerEnd: number; infos: TensorInfo[]; metadata: Record<string, string> } {
  const fail = (problem: string): never => {
    throw new UserError(`${file}: ${problem}`);
  };
  if (bytes.length < 8) fail(`is ${bytes.length} bytes long, too short for a safetensors file (the 8-byte header length alone is missing)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerBytes = view.getBigUint64(0, true);
  if (headerBytes > BigInt(MAX_HEADER_BYTES)) {
    fail(`header length ${headerBytes} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  }
  const n = Number(headerBytes);
  if (8 + n > bytes.length) fail(`header length ${n} bytes runs past the end of the file (${bytes.length} bytes): truncated?`);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(`header must be a JSON object starting with '{', got ${describe(text.slice(0, 20))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    // V8's messages quote a slice of the input, which may hold newlines; one line is the contract.
    return fail(`header is not valid JSON (${oneLine((err as Error).message)})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) return fail('header must be a JSON object');
  // JSON.parse keeps the last of two equal keys; the format forbids duplicates because two readers
  // could then see two different tensors under one name.
  const duplicate = firstDuplicateKey(text);
  if (duplicate !== undefined) fail(`header names ${describe(duplicate)} twice`);

  const entries = header as Record<string, unknown>;
  const metadata = parseMetadata(entries[METADATA_KEY], file);
  const bufferBytes = bytes.length - 8 - n;
  const infos = Object.entries(entries)
    .filter(([name]) => name !== METADATA_KEY)
    .map(([name, info]) => parseInfo(name, info, bufferBytes, file));
  checkTiling(infos, bufferBytes, file);

  return { view, headerEnd: 8 + n, infos, metadata };
}

interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

function parseMetadata(raw: unknown, file: string): Record<string, string> {
  if (raw === undefined) return {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw fieldError(file, METADATA_KEY, 'an object of strings', raw);
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'string') throw fieldError(file, `${METADATA_KEY}.${key}`, 'a string', value);
    metadata[key] = value;
  }
  return metadata;
}

function parseInfo(name: string, raw: unknown, bufferBytes: number, file: string): TensorInfo {
  const label = `tensor ${describe(name)}`;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw fieldError(file, label, 'an object {dtype, shape, data_offsets}', raw);
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== 'string') throw fieldError(file, `${label} dtype`, 'a string', dtype);
  const size = DTYPE_BYTES[dtype];
  if (size === undefined) throw new UserError(`${file}: ${label} has unknown dtype ${describe(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isCount)) throw fieldError(file, `${label} shape`, 'an array of non-negative integers', shape);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw fieldError(file, `${label} data_offsets`, 'two non-negative integers [begin, end]', offsets);
  }
  const [begin, end] = offsets as number[];
  if (end < begin) throw new UserError(`${file}: ${label} data_offsets [${begin}, ${end}] end before they begin`);
  if (end > bufferBytes) {
    throw new UserError(`${file}: ${label} data_offsets [${begin}, ${end}] run past the end of the data buffer (${bufferBytes} bytes): truncated?`);
  }
  // A product too large for exact arithmetic cannot equal a byte count that fits in the file.
  const needed = (shape as number[]).reduce((product, dim) => product * dim, 1) * size;
  if (needed !== end - begin) {
    throw new UserError(`${file}: ${label} of shape [${shape.join(', ')}] and dtype ${dtype} needs ${needed} bytes, its data_offsets [${begin}, ${end}] hold ${end - begin}`);
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** The tensors must cover the data buffer exactly: sorted by offset, each starting where the last ended. */
function checkTiling(infos: TensorInfo[], bufferBytes: number, file: string): void {
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: TensorInfo | undefined;
  for (const info of infos) {
    if (info.begin < covered && previous) {
      throw new UserError(`${file}: tensor ${describe(info.name)} (bytes ${info.begin}..${info.end}) overlaps tensor ${describe(previous.name)} (bytes ${previous.begin}..${previous.end})`);
    }
    if (info.begin > covered) {
      throw new UserError(`${file}: bytes ${covered}..${info.begin} of the data buffer belong to no tensor (a hole before ${describe(info.name)})`);
    }
    covered = info.end;
    previous = info;
  }
  if (covered !== bufferBytes) {
    throw new UserError(`${file}: bytes ${covered}..${bufferBytes} of the data buffer belong to no tensor (trailing bytes after the last tensor)`);
  }
}

function decode(view: DataView, at: number, byteLength: number, dtype: FloatDtype): Float32Array {
  const out = new Float32Array(byteLength / DTYPE_BYTES[dtype]);
  if (dtype === 'F32' && endianness() === 'LE') {
    // A byte copy keeps NaN payloads, which a trip through a JavaScript number may not.
    new Uint8Array(out.buffer).set(new Uint8Array(view.buffer, view.byteOffset + at, byteLength));
  } else if (dtype === 'F32') {
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(at + 4 * i, true);
  } else if (dtype === 'F16') {
    for (let i = 0; i < out.length; i++) out[i] = halfToFloat(view.getUint16(at + 2 * i, true));
  } else {
    // bfloat16 is the top half of a float32: shifting its bits up is exact.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < out.length; i++) bits[i] = view.getUint16(at + 2 * i, true) << 16;
  }
  return out;
}

/** IEEE 754 binary16 → number, exact for every input (subnormals, ±0, ±inf, NaN). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function encodeLayout(tensors: Map<string, TypedTensor>, metadata: Record<string, string>): { header: Uint8Array; chunks: Uint8Array[] } {
  // Sorted by name like the reference writer, so the same tensors always give the same bytes.
  const names = [...tensors.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header[METADATA_KEY] = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const tensor = tensors.get(name) as TypedTensor;
    const elements = tensor.shape.reduce((product, dim) => product * dim, 1);
    // A caller handing over inconsistent tensors is a bug, not a user mistake.
    if (name === METADATA_KEY) throw new Error(`a tensor cannot be named ${METADATA_KEY}`);
    if (elements !== tensor.data.length) throw new Error(`tensor ${name}: shape [${tensor.shape.join(', ')}] has ${elements} elements, data has ${tensor.data.length}`);
    const dtype = tensor.dtype;
    if (!isTypedDtype(dtype) || !(tensor.data instanceof TYPED_ARRAYS[dtype])) throw new Error(`tensor ${name}: cannot write dtype ${dtype} from a ${tensor.data.constructor.name}`);
    const bytes = DTYPE_BYTES[dtype] * elements;
    header[name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
    chunks.push(littleEndianBytes(tensor.data, dtype));
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return { header: out, chunks };
}

/** The typed array each TypedDtype is read into and written from. */
const TYPED_ARRAYS = {
  F32: Float32Array, F64: Float64Array, I8: Int8Array, I16: Int16Array, I32: Int32Array, U8: Uint8Array,
} as const;

function littleEndianBytes(data: TypedData, dtype: TypedDtype): Uint8Array {
  if (endianness() === 'LE' || dtype === 'I8' || dtype === 'U8') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    if (dtype === 'F32') view.setFloat32(4 * i, data[i], true);
    else if (dtype === 'F64') view.setFloat64(8 * i, data[i], true);
    else if (dtype === 'I16') view.setInt16(2 * i, data[i], true);
    else view.setInt32(4 * i, data[i], true);
  }
  return out;
}

/** Integers and doubles, copied out of the file into a fresh (aligned) typed array. */
function decodeTyped(view: DataView, at: number, byteLength: number, dtype: TypedDtype): TypedData {
  const Type = TYPED_ARRAYS[dtype];
  const out = new Type(byteLength / DTYPE_BYTES[dtype]);
  if (endianness() === 'LE' || dtype === 'I8' || dtype === 'U8') {
    new Uint8Array(out.buffer).set(new Uint8Array(view.buffer, view.byteOffset + at, byteLength));
    return out;
  }
  for (let i = 0; i < out.length; i++) {
    if (dtype === 'F32') out[i] = view.getFloat32(at + 4 * i, true);
    else if (dtype === 'F64') out[i] = view.getFloat64(at + 8 * i, true);
    else if (dtype === 'I16') out[i] = view.getInt16(at + 2 * i, true);
    else out[i] = view.getInt32(at + 4 * i, true);
  }
  return out;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

/**
 * The first top-level key that occurs twice in a header that JSON.parse accepted, found by a scan
 * that tracks only nesting and strings (so it needs no recursion however deep the header nests).
 */
function firstDuplicateKey(text: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      i++;
      while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      if (depth !== 1) continue;
      let j = i;
      while (j < text.length && /\s/.test(text[j])) j++;
      if (text[j] !== ':') continue;
      const key = JSON.parse(text.slice(start, i)) as string;
      if (seen.has(key)) return key;
      seen.add(key);
    } else {
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') depth--;
      i++;
    }
  }
  return undefined;
}

function isFloatDtype(dtype: string): dtype is FloatDtype {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

function isTypedDtype(dtype: string): dtype is TypedDtype {
  return dtype in TYPED_ARRAYS;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function oneLine(message: string): string {
  const flat = message.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 117)}...` : flat;
}

function ioReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return code ?? oneLine(String(err));
}
