// Lane helpers both WebAssembly kernels share. The leading underscore keeps scripts/build-wasm.js from
// compiling this file on its own; the kernels import it and inline its functions.

/**
 * Four rows of four 32-bit lanes at src (row stride ls bytes) → four columns at dst (row stride ld
 * bytes). The shuffles move bits, so the lanes may hold f32 or i32 alike.
 */
// @ts-ignore: decorator
@inline
export function transpose4(src: usize, ls: usize, dst: usize, ld: usize): void {
  const r0 = v128.load(src);
  const r1 = v128.load(src + ls);
  const r2 = v128.load(src + 2 * ls);
  const r3 = v128.load(src + 3 * ls);
  const t0 = v128.shuffle<i32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<i32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<i32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<i32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<i64>(t0, t2, 0, 2));
  v128.store(dst + ld, v128.shuffle<i64>(t0, t2, 1, 3));
  v128.store(dst + 2 * ld, v128.shuffle<i64>(t1, t3, 0, 2));
  v128.store(dst + 3 * ld, v128.shuffle<i64>(t1, t3, 1, 3));
}

/** x rounded up to a multiple of `to`. */
// @ts-ignore: decorator
@inline
export function roundUp(x: i32, to: i32): i32 {
  return (x + to - 1) / to * to;
}
