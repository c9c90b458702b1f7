/**
 * What the WebAssembly kernels share on the host side: loading build/wasm/<name>.wasm (compiled from
 * src/kernels/assembly/ by `npm run build:wasm`, which `npm ci` runs) and placing buffers in its memory.
 */
import { readFileSync } from 'node:fs';

/**
 * The slice of the WebAssembly JS API used here. The project compiles against lib ES2022 without
 * DOM, and @types/node 20 does not declare the WebAssembly global, so it is typed locally.
 */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const WebAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** Instantiates the kernel; a missing file says how to make it. No imports: the kernels are self-contained. */
export function instantiateKernel<Exports>(name: string, what: string): Exports {
  const url = new URL(`../../build/wasm/${name}.wasm`, import.meta.url);
  let bytes: Buffer;
  try {
    bytes = readFileSync(url);
  } catch (cause) {
    throw new Error(`${url.pathname} is missing: run \`npm run build:wasm\` to compile the ${what}`, { cause });
  }
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as Exports;
}

/** 64-byte alignment: v128 loads never straddle a cache line. */
export function align(bytes: number): number {
  return Math.ceil(bytes / 64) * 64;
}
