// Float GEMM in WebAssembly SIMD (AssemblyScript), the fast twin of src/kernels/gemm-reference.ts.
//
//   c[m,n] (+)= Σ_k op(a)[m,k] · op(b)[k,n]      row-major, op(x) = x or xᵀ
//
// Bit-identical to the reference by construction: every f32x4 lane owns one output element and
// adds its products in k order with a separate multiply and add (WebAssembly SIMD has no fused
// multiply-add, so nothing can contract them). Blocking over k stores the running sum in c and
// reloads it, which is exact for f32, so the order of the additions never changes.
//
// Scheme (GotoBLAS-style, minus the parts a 128-bit ISA does not need):
//   for each k block of KC:    pack op(b)[kc, n] into column panels [n/NR][kc][NR] (L2-resident)
//     for each row panel MR:   pack op(a)[MR, kc] into [kc][MR] (L1-resident, one splat per row)
//       for each column panel: MR×NR micro-tile held in MR·NR/4 v128 accumulators, k innermost.
// Packing makes all four trans combinations hit the same inner loop with unit-stride loads; it
// costs O(mk + kn) against O(mkn) multiplies, and the operands stored the other way round are
// packed through 4×4 SIMD transposes. Edge tiles (m or n not a multiple of the tile) are
// zero-padded in the packs and computed into a small tile buffer whose valid part is copied back;
// a last column panel at most 4 wide gets a 4×4 kernel so the padding wastes fewer lanes.
// 4×8 measured best: 6×8 and a 2× unrolled k loop ran 10–20 % slower, presumably spilling (V8 on
// x64 allocates 16 xmm registers; 12 accumulators plus two b vectors and a splat do not fit).
//
// The host (src/kernels/gemm.ts) owns the memory layout: it copies a, b, c to addresses it picks
// above heapBase() and passes a scratch area of scratchBytes(n) bytes.

import { roundUp, transpose4 } from './_lanes';

const MR: i32 = 4;   // rows per micro-tile: one splat load per row per k step
const NR: i32 = 8;   // columns per micro-tile: two v128 per row
const KC: i32 = 256; // k block: a packed row panel (MR·KC·4 = 4 KiB) stays in L1

export function heapBase(): usize {
  return __heap_base;
}

/** Bytes of scratch `gemm` needs for an n-column product: packed b, packed a, one edge tile. */
export function scratchBytes(n: i32): usize {
  return <usize>(KC * roundUp(n, NR) + MR * KC + MR * NR) << 2;
}

export function gemm(
  a: usize, b: usize, c: usize,
  m: i32, k: i32, n: i32,
  transA: bool, transB: bool, accumulate: bool,
  scratch: usize,
): void {
  const packedB = scratch;
  const packedA = packedB + (<usize>(KC * roundUp(n, NR)) << 2);
  const tile = packedA + (<usize>(MR * KC) << 2);
  if (k == 0) {
    if (!accumulate) memory.fill(c, 0, <usize>(m * n) << 2);
    return;
  }
  const ldc = <usize>n << 2;
  for (let pc = 0; pc < k; pc += KC) {
    const kc = min(KC, k - pc);
    // The first k block starts from zero unless the caller accumulates; later ones resume from c.
    const load = accumulate || pc > 0;
    packB(b, pc, kc, n, k, transB, packedB);
    for (let ic = 0; ic < m; ic += MR) {
      const mr = min(MR, m - ic);
      packA(a, ic, pc, mr, kc, m, k, transA, packedA);
      for (let jc = 0; jc < n; jc += NR) {
        const nr = min(NR, n - jc);
        const panel = packedB + (<usize>(jc * kc) << 2);
        const out = c + (<usize>(ic * n + jc) << 2);
        if (mr == MR && nr == NR) {
          micro(packedA, panel, out, ldc, kc, load);
        } else if (mr == MR && nr == NR / 2) {
          microHalf(packedA, panel, out, ldc, kc, load);
        } else {
          if (load) copyTile(tile, NR << 2, out, ldc, mr, nr);
          if (nr <= NR / 2) microHalf(packedA, panel, tile, NR << 2, kc, load);
          else micro(packedA, panel, tile, NR << 2, kc, load);
          copyTile(out, ldc, tile, NR << 2, mr, nr);
        }
      }
    }
  }
}

/** The MR×NR micro-kernel: acc[r][0..7] += a[r] · b[0..7] for each k, in k order. */
// @ts-ignore: decorator
@inline
function micro(pa: usize, pb: usize, pc: usize, ldc: usize, kc: i32, load: bool): void {
  const r1 = pc + ldc;
  const r2 = r1 + ldc;
  const r3 = r2 + ldc;
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  if (load) {
    c00 = v128.load(pc); c01 = v128.load(pc, 16);
    c10 = v128.load(r1); c11 = v128.load(r1, 16);
    c20 = v128.load(r2); c21 = v128.load(r2, 16);
    c30 = v128.load(r3); c31 = v128.load(r3, 16);
  }
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let s = v128.load32_splat(pa);
    c00 = f32x4.add(c00, f32x4.mul(s, b0));
    c01 = f32x4.add(c01, f32x4.mul(s, b1));
    s = v128.load32_splat(pa, 4);
    c10 = f32x4.add(c10, f32x4.mul(s, b0));
    c11 = f32x4.add(c11, f32x4.mul(s, b1));
    s = v128.load32_splat(pa, 8);
    c20 = f32x4.add(c20, f32x4.mul(s, b0));
    c21 = f32x4.add(c21, f32x4.mul(s, b1));
    s = v128.load32_splat(pa, 12);
    c30 = f32x4.add(c30, f32x4.mul(s, b0));
    c31 = f32x4.add(c31, f32x4.mul(s, b1));
    pa += MR << 2;
    pb += NR << 2;
  }
  v128.store(pc, c00); v128.store(pc, c01, 16);
  v128.store(r1, c10); v128.store(r1, c11, 16);
  v128.store(r2, c20); v128.store(r2, c21, 16);
  v128.store(r3, c30); v128.store(r3, c31, 16);
}

/**
 * The MR×(NR/2) kernel for a last column panel at most 4 wide (the 10-class head: 8 + 4 columns
 * instead of 8 + 8), so the padding wastes at most 3 lanes instead of 7.
 */
// @ts-ignore: decorator
@inline
function microHalf(pa: usize, pb: usize, pc: usize, ldc: usize, kc: i32, load: bool): void {
  const r1 = pc + ldc;
  const r2 = r1 + ldc;
  const r3 = r2 + ldc;
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  if (load) {
    c0 = v128.load(pc); c1 = v128.load(r1); c2 = v128.load(r2); c3 = v128.load(r3);
  }
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb);
    c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(pa), b0));
    c1 = f32x4.add(c1, f32x4.mul(v128.load32_splat(pa, 4), b0));
    c2 = f32x4.add(c2, f32x4.mul(v128.load32_splat(pa, 8), b0));
    c3 = f32x4.add(c3, f32x4.mul(v128.load32_splat(pa, 12), b0));
    pa += MR << 2;
    pb += (NR / 2) << 2;
  }
  v128.store(pc, c0); v128.store(r1, c1); v128.store(r2, c2); v128.store(r3, c3);
}

/**
 * op(b)[pc..pc+kc, 0..n] → panels [n/NR][kc][NR], columns past n zero. A last panel at most NR/2
 * wide is packed NR/2 wide (see microHalf); panel jc still starts at float jc·kc either way.
 */
function packB(b: usize, pc: i32, kc: i32, n: i32, k: i32, transB: bool, dst: usize): void {
  for (let jc = 0; jc < n; jc += NR) {
    const nr = min(NR, n - jc);
    if (nr == NR && !transB) {
      // b is [K,N]: each k row of the panel is NR contiguous floats.
      let src = b + (<usize>(pc * n + jc) << 2);
      const stride = <usize>n << 2;
      for (let p = 0; p < kc; p++) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        src += stride;
        dst += NR << 2;
      }
    } else if (nr == NR) {
      // b is [N,K] (PyTorch weights): transpose 4×4 blocks, two per 4 k steps of the panel.
      const rowStride = <usize>k << 2;
      let src = b + (<usize>(jc * k + pc) << 2);
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        transpose4(src, rowStride, dst, NR << 2);
        transpose4(src + 4 * rowStride, rowStride, dst + 16, NR << 2);
        src += 16;
        dst += (4 * NR) << 2;
      }
      for (; p < kc; p++) {
        for (let jj = 0; jj < NR; jj++) store<f32>(dst + (<usize>jj << 2), load<f32>(src + <usize>jj * rowStride));
        src += 4;
        dst += NR << 2;
      }
    } else {
      const width = nr <= NR / 2 ? NR / 2 : NR;
      for (let p = 0; p < kc; p++) {
        for (let jj = 0; jj < width; jj++) {
          let v: f32 = 0;
          if (jj < nr) {
            const idx = transB ? (jc + jj) * k + pc + p : (pc + p) * n + jc + jj;
            v = load<f32>(b + (<usize>idx << 2));
          }
          store<f32>(dst, v);
          dst += 4;
        }
      }
    }
  }
}

/** op(a)[ic..ic+mr, pc..pc+kc] → [kc][MR], rows past mr zero. */
function packA(a: usize, ic: i32, pc: i32, mr: i32, kc: i32, m: i32, k: i32, transA: bool, dst: usize): void {
  if (mr == MR && transA) {
    // a is [K,M]: the MR rows of one k step are 4 contiguous floats.
    let src = a + (<usize>(pc * m + ic) << 2);
    const stride = <usize>m << 2;
    for (let p = 0; p < kc; p++) {
      v128.store(dst, v128.load(src));
      src += stride;
      dst += MR << 2;
    }
  } else if (mr == MR) {
    // a is [M,K]: transpose 4×4 blocks (4 rows × 4 k steps) into k-major order.
    const rowStride = <usize>k << 2;
    let src = a + (<usize>(ic * k + pc) << 2);
    let p = 0;
    for (; p + 4 <= kc; p += 4) {
      transpose4(src, rowStride, dst, MR << 2);
      src += 16;
      dst += (4 * MR) << 2;
    }
    for (; p < kc; p++) {
      for (let ii = 0; ii < MR; ii++) store<f32>(dst + (<usize>ii << 2), load<f32>(src + <usize>ii * rowStride));
      src += 4;
      dst += MR << 2;
    }
  } else {
    for (let p = 0; p < kc; p++) {
      for (let ii = 0; ii < MR; ii++) {
        let v: f32 = 0;
        if (ii < mr) {
          const idx = transA ? (pc + p) * m + ic + ii : (ic + ii) * k + pc + p;
          v = load<f32>(a + (<usize>idx << 2));
        }
        store<f32>(dst, v);
        dst += 4;
      }
    }
  }
}


/** Copies a tile of at most MR×NR floats; a plain loop, because memory.copy is a runtime call per row. */
function copyTile(dst: usize, ldd: usize, src: usize, lds: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) store<f32>(dst + (<usize>j << 2), load<f32>(src + (<usize>j << 2)));
    dst += ldd;
    src += lds;
  }
}
