// Exact integer GEMM in WebAssembly SIMD (AssemblyScript), the fast twin of
// src/kernels/int-gemm-reference.ts.
//
//   c[m,n] = Σ_k op(a)[m,k] · op(b)[k,n]      a, b: i16, row-major, op(x) = x or xᵀ; c: f64
//
// The multiply is i32x4.dot_i16x8_s (x64: pmaddwd): each i32 lane gets a[k]·b[k] + a[k+1]·b[k+1],
// so one instruction does eight multiply-adds. The operands are packed so that the two k values of
// a pair sit next to each other: a row's pair is one i32 that a splat load spreads over the four
// lanes, and a packed b vector holds the pairs of four columns.
//
// Exactness: the lanes add in i32, which wraps. Two's-complement wrapping is addition modulo 2^32,
// so a lane's final value is still right as long as the true sum of its block lies in i32 (its
// partial sums may wrap on the way). The kernel therefore scans both operands for their largest
// magnitudes and takes k in blocks of the longest run whose sum provably fits:
// block·max|a|·max|b| ≤ 2^31 − 1. After each k block the lanes are converted to f64 and added into
// c, exact while |c| < 2^53; when k·max|a|·max|b| ≥ 2^53 could break that, it computes nothing and
// returns false, and the host sums in BigInt instead. Operands so wide that the blocks would be
// only a few k long (16 × 16 bits: 2, or 1 with −32768 on both sides) take another kernel instead,
// which widens every pair's dot to i64 lanes (microWide).
//
// Scheme (as src/kernels/assembly/gemm.ts):
//   for each k block of kc ≤ min(KC, block):   pack op(b)[kc, n] into panels [n/NR][kc/2][NR][2]
//     for each row panel MR:                   pack op(a)[MR, kc] into [kc/2][MR][2]
//       for each column panel:                 MR×NR tile in MR·NR/4 i32x4 accumulators, k innermost
// An odd k block is padded with a zero k in both packs. Edge tiles are padded in the packs with
// whatever follows the operand (see packB) and computed into a small f64 tile whose valid part is
// copied back; a last column panel at most 4 wide gets a 4×4 kernel so the padding wastes fewer
// lanes. 4×8 is the float kernel's measured best tile (16 xmm registers), kept here.
//
// The host (src/kernels/int-gemm.ts) owns the memory layout: it copies a, b to addresses it picks
// above heapBase(), and reserves c and a scratch area of scratchBytes(k, n) bytes after them.

import { roundUp, transpose4 } from './_lanes';

const MR: i32 = 4;   // rows per micro-tile: one splat load per row per k pair
const NR: i32 = 8;   // columns per micro-tile: two v128 of pairs per row
const KC: i32 = 512; // k values per block: a packed row panel (MR·KC·2 = 4 KiB) stays in L1

export function heapBase(): usize {
  return __heap_base;
}

/**
 * Bytes of scratch `intGemm` needs for a k×n b: packed b, packed a, one f64 edge tile, and slack
 * for the packs' reads past the end of an operand (7 rows of k when b is stored [N,K], one vector):
 * see packB.
 */
export function scratchBytes(k: i32, n: i32): usize {
  return (<usize>(KC * roundUp(n, NR) + MR * KC) << 1) + (<usize>(MR * NR) << 3) + (<usize>(NR - 1) * <usize>k << 1) + 16;
}

/**
 * k blocks shorter than this switch to the i64 kernel. Measured on 850×128×64 (GMAC/s, i32 blocks
 * vs i64): block 2: 6.0 vs 13.5; 16: 23.5 vs 13.4; 32: 30.1 vs 13.3; the i32 path's cost of adding
 * a block into c falls as 1/block, so they cross near block 6.
 */
const WIDE_BELOW: i32 = 6;
/** Largest value an i32 lane holds: a k block's sum must stay within it (wrapping on the way is fine). */
const I32_MAX: f64 = 2147483647;
/** Below this every integer is exact in f64. */
const EXACT_LIMIT: f64 = 9007199254740992;

/** Computes c; returns false, leaving c alone, when k·max|a|·max|b| ≥ 2^53 (exactness not guaranteed). */
export function intGemm(
  a: usize, b: usize, c: usize,
  m: i32, k: i32, n: i32,
  transA: bool, transB: bool,
  scratch: usize,
): bool {
  const packedB = scratch;
  const packedA = packedB + (<usize>(KC * roundUp(n, NR)) << 1);
  const tile = packedA + (<usize>(MR * KC) << 1);
  const magnitude = <f64>maxMagnitude(a, m * k) * <f64>maxMagnitude(b, k * n);
  if (<f64>k * magnitude >= EXACT_LIMIT) return false;
  if (k == 0) {
    memory.fill(c, 0, <usize>(m * n) << 3);
    return true;
  }
  // Even blocks keep every pair full.
  let block = magnitude == 0 ? KC : <i32>min(<f64>KC, Math.floor(I32_MAX / magnitude));
  if (block > 1) block &= ~1;
  // Short blocks (wide operands) would spend more time adding blocks into c than multiplying:
  // widen each pair's dot to i64 lanes instead. A dot pair always fits an i32 but for one case,
  // both products at (−32768)² (block 1): see microWide.
  const wide = block < WIDE_BELOW;
  const fixWrap = block < 2;
  if (wide) block = KC;
  const ldc = <usize>n << 3;
  for (let pc = 0; pc < k; pc += block) {
    const kc = min(block, k - pc);
    const pairs = (kc + 1) >> 1;
    // The first k block stores into c; later ones add to it.
    const load = pc > 0;
    packB(b, pc, kc, n, k, transB, packedB);
    for (let ic = 0; ic < m; ic += MR) {
      const mr = min(MR, m - ic);
      packA(a, ic, pc, mr, kc, m, k, transA, packedA);
      for (let jc = 0; jc < n; jc += NR) {
        const nr = min(NR, n - jc);
        const panel = packedB + (<usize>(jc * pairs) << 2);
        const out = c + (<usize>(ic * n + jc) << 3);
        if (wide) {
          // Four columns at a time: the i64 lanes of a 4×8 tile would not fit the registers.
          const step = <usize>(nr <= NR / 2 ? NR / 2 : NR) << 2;
          for (let h = 0; h < nr; h += NR / 2) {
            const cols = min(NR / 2, nr - h);
            const half = panel + (<usize>h << 2);
            const at = out + (<usize>h << 3);
            if (mr == MR && cols == NR / 2) {
              wideTile(packedA, half, step, at, ldc, pairs, load, fixWrap);
            } else {
              if (load) copyTile(tile, NR << 3, at, ldc, mr, cols);
              wideTile(packedA, half, step, tile, NR << 3, pairs, load, fixWrap);
              copyTile(at, ldc, tile, NR << 3, mr, cols);
            }
          }
        } else if (mr == MR && nr == NR) {
          micro(packedA, panel, out, ldc, pairs, load);
        } else if (mr == MR && nr == NR / 2) {
          microHalf(packedA, panel, out, ldc, pairs, load);
        } else if (mr == 1 && nr == NR) {
          microRow(packedA, panel, out, pairs, load, true);
        } else if (mr == 1 && nr == NR / 2) {
          microRow(packedA, panel, out, pairs, load, false);
        } else {
          if (load) copyTile(tile, NR << 3, out, ldc, mr, nr);
          if (nr <= NR / 2) microHalf(packedA, panel, tile, NR << 3, pairs, load);
          else micro(packedA, panel, tile, NR << 3, pairs, load);
          copyTile(out, ldc, tile, NR << 3, mr, nr);
        }
      }
    }
  }
  return true;
}

/** max |x[i]| over `length` i16 at x: SIMD minimum and maximum (|−32768| does not fit an i16 lane). */
function maxMagnitude(x: usize, length: i32): i32 {
  let lo = i16x8.splat(0), hi = i16x8.splat(0);
  let i = 0;
  for (; i + 8 <= length; i += 8) {
    const v = v128.load(x + (<usize>i << 1));
    lo = i16x8.min_s(lo, v);
    hi = i16x8.max_s(hi, v);
  }
  // Fold the eight lanes in halves: 8 → 4 → 2 → 1.
  lo = i16x8.min_s(lo, v128.shuffle<i16>(lo, lo, 4, 5, 6, 7, 0, 1, 2, 3));
  hi = i16x8.max_s(hi, v128.shuffle<i16>(hi, hi, 4, 5, 6, 7, 0, 1, 2, 3));
  lo = i16x8.min_s(lo, v128.shuffle<i16>(lo, lo, 2, 3, 0, 1, 2, 3, 0, 1));
  hi = i16x8.max_s(hi, v128.shuffle<i16>(hi, hi, 2, 3, 0, 1, 2, 3, 0, 1));
  lo = i16x8.min_s(lo, v128.shuffle<i16>(lo, lo, 1, 0, 1, 0, 1, 0, 1, 0));
  hi = i16x8.max_s(hi, v128.shuffle<i16>(hi, hi, 1, 0, 1, 0, 1, 0, 1, 0));
  let low = <i32>i16x8.extract_lane_s(lo, 0), high = <i32>i16x8.extract_lane_s(hi, 0);
  for (; i < length; i++) {
    const v = <i32>load<i16>(x + (<usize>i << 1));
    low = min(low, v);
    high = max(high, v);
  }
  return max(-low, high);
}

/** The MR×NR micro-kernel: acc[r][0..7] += a[r][2p..2p+1] · b[2p..2p+1][0..7] for each pair p. */
// @ts-ignore: decorator
@inline
function micro(pa: usize, pb: usize, pc: usize, ldc: usize, pairs: i32, load: bool): void {
  let c00 = i32x4.splat(0), c01 = i32x4.splat(0);
  let c10 = i32x4.splat(0), c11 = i32x4.splat(0);
  let c20 = i32x4.splat(0), c21 = i32x4.splat(0);
  let c30 = i32x4.splat(0), c31 = i32x4.splat(0);
  for (let p = 0; p < pairs; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let s = v128.load32_splat(pa);
    c00 = i32x4.add(c00, i32x4.dot_i16x8_s(s, b0));
    c01 = i32x4.add(c01, i32x4.dot_i16x8_s(s, b1));
    s = v128.load32_splat(pa, 4);
    c10 = i32x4.add(c10, i32x4.dot_i16x8_s(s, b0));
    c11 = i32x4.add(c11, i32x4.dot_i16x8_s(s, b1));
    s = v128.load32_splat(pa, 8);
    c20 = i32x4.add(c20, i32x4.dot_i16x8_s(s, b0));
    c21 = i32x4.add(c21, i32x4.dot_i16x8_s(s, b1));
    s = v128.load32_splat(pa, 12);
    c30 = i32x4.add(c30, i32x4.dot_i16x8_s(s, b0));
    c31 = i32x4.add(c31, i32x4.dot_i16x8_s(s, b1));
    pa += MR << 2;
    pb += NR << 2;
  }
  const r1 = pc + ldc;
  const r2 = r1 + ldc;
  const r3 = r2 + ldc;
  storeQuad(pc, c00, load); storeQuad(pc + 32, c01, load);
  storeQuad(r1, c10, load); storeQuad(r1 + 32, c11, load);
  storeQuad(r2, c20, load); storeQuad(r2 + 32, c21, load);
  storeQuad(r3, c30, load); storeQuad(r3 + 32, c31, load);
}

/**
 * The 1×NR (or 1×NR/2) kernel for a last row panel of one row (m = 17 tokens: 4 panels of 4 and
 * one row), instead of a full 4-row tile of which three rows are thrown away.
 */
// @ts-ignore: decorator
@inline
function microRow(pa: usize, pb: usize, pc: usize, pairs: i32, load: bool, full: bool): void {
  let c0 = i32x4.splat(0), c1 = i32x4.splat(0);
  const step: usize = full ? NR << 2 : (NR / 2) << 2;
  for (let p = 0; p < pairs; p++) {
    const s = v128.load32_splat(pa);
    c0 = i32x4.add(c0, i32x4.dot_i16x8_s(s, v128.load(pb)));
    if (full) c1 = i32x4.add(c1, i32x4.dot_i16x8_s(s, v128.load(pb, 16)));
    pa += MR << 2;
    pb += step;
  }
  storeQuad(pc, c0, load);
  if (full) storeQuad(pc + 32, c1, load);
}

/**
 * The MR×(NR/2) kernel for a last column panel at most 4 wide (the 10-class head: 8 + 4 columns
 * instead of 8 + 8; 17 attention columns: 8 + 8 + 4), so the padding wastes fewer lanes.
 */
// @ts-ignore: decorator
@inline
function microHalf(pa: usize, pb: usize, pc: usize, ldc: usize, pairs: i32, load: bool): void {
  let c0 = i32x4.splat(0), c1 = i32x4.splat(0), c2 = i32x4.splat(0), c3 = i32x4.splat(0);
  for (let p = 0; p < pairs; p++) {
    const b0 = v128.load(pb);
    c0 = i32x4.add(c0, i32x4.dot_i16x8_s(v128.load32_splat(pa), b0));
    c1 = i32x4.add(c1, i32x4.dot_i16x8_s(v128.load32_splat(pa, 4), b0));
    c2 = i32x4.add(c2, i32x4.dot_i16x8_s(v128.load32_splat(pa, 8), b0));
    c3 = i32x4.add(c3, i32x4.dot_i16x8_s(v128.load32_splat(pa, 12), b0));
    pa += MR << 2;
    pb += (NR / 2) << 2;
  }
  const r1 = pc + ldc;
  const r2 = r1 + ldc;
  const r3 = r2 + ldc;
  storeQuad(pc, c0, load); storeQuad(r1, c1, load); storeQuad(r2, c2, load); storeQuad(r3, c3, load);
}

/** microWide, specialised for operands that can or cannot both hold −32768 (see there). */
function wideTile(pa: usize, pb: usize, step: usize, pc: usize, ldc: usize, pairs: i32, load: bool, fixWrap: bool): void {
  if (fixWrap) microWide(pa, pb, step, pc, ldc, pairs, load, true);
  else microWide(pa, pb, step, pc, ldc, pairs, load, false);
}

/**
 * The MR×(NR/2) kernel for wide operands: each pair's dot is widened to i64 lanes before it is
 * added, so k needs no blocking for overflow. `step`: bytes per pair in the b panel.
 *
 * A dot a₀b₀ + a₁b₁ of i16 lies in [−2^31 + 2^16, 2^31]; only its top, 2^31 (all four at −32768),
 * leaves i32 and wraps to −2^31, a value no pair can produce otherwise. With `fixWrap` the kernel
 * counts such dots per lane (two instructions per dot; at most KC/2 per call, so the i32 count
 * cannot overflow) and adds 2^32 per count at the end.
 */
// @ts-ignore: decorator
@inline
function microWide(pa: usize, pb: usize, step: usize, pc: usize, ldc: usize, pairs: i32, load: bool, fixWrap: bool): void {
  let c0 = i64x2.splat(0), c1 = i64x2.splat(0), c2 = i64x2.splat(0), c3 = i64x2.splat(0);
  let c4 = i64x2.splat(0), c5 = i64x2.splat(0), c6 = i64x2.splat(0), c7 = i64x2.splat(0);
  let w0 = i32x4.splat(0), w1 = i32x4.splat(0), w2 = i32x4.splat(0), w3 = i32x4.splat(0);
  const wrap = i32x4.splat(i32.MIN_VALUE);
  for (let p = 0; p < pairs; p++) {
    const b0 = v128.load(pb);
    let d = i32x4.dot_i16x8_s(v128.load32_splat(pa), b0);
    c0 = i64x2.add(c0, i64x2.extend_low_i32x4_s(d));
    c1 = i64x2.add(c1, i64x2.extend_high_i32x4_s(d));
    if (fixWrap) w0 = i32x4.sub(w0, i32x4.eq(d, wrap)); // eq is −1 where the dot wrapped
    d = i32x4.dot_i16x8_s(v128.load32_splat(pa, 4), b0);
    c2 = i64x2.add(c2, i64x2.extend_low_i32x4_s(d));
    c3 = i64x2.add(c3, i64x2.extend_high_i32x4_s(d));
    if (fixWrap) w1 = i32x4.sub(w1, i32x4.eq(d, wrap));
    d = i32x4.dot_i16x8_s(v128.load32_splat(pa, 8), b0);
    c4 = i64x2.add(c4, i64x2.extend_low_i32x4_s(d));
    c5 = i64x2.add(c5, i64x2.extend_high_i32x4_s(d));
    if (fixWrap) w2 = i32x4.sub(w2, i32x4.eq(d, wrap));
    d = i32x4.dot_i16x8_s(v128.load32_splat(pa, 12), b0);
    c6 = i64x2.add(c6, i64x2.extend_low_i32x4_s(d));
    c7 = i64x2.add(c7, i64x2.extend_high_i32x4_s(d));
    if (fixWrap) w3 = i32x4.sub(w3, i32x4.eq(d, wrap));
    pa += MR << 2;
    pb += step;
  }
  if (fixWrap) {
    c0 = unwrap(c0, i64x2.extend_low_i32x4_s(w0)); c1 = unwrap(c1, i64x2.extend_high_i32x4_s(w0));
    c2 = unwrap(c2, i64x2.extend_low_i32x4_s(w1)); c3 = unwrap(c3, i64x2.extend_high_i32x4_s(w1));
    c4 = unwrap(c4, i64x2.extend_low_i32x4_s(w2)); c5 = unwrap(c5, i64x2.extend_high_i32x4_s(w2));
    c6 = unwrap(c6, i64x2.extend_low_i32x4_s(w3)); c7 = unwrap(c7, i64x2.extend_high_i32x4_s(w3));
  }
  const r1 = pc + ldc;
  const r2 = r1 + ldc;
  const r3 = r2 + ldc;
  storeWide(pc, c0, load); storeWide(pc + 16, c1, load);
  storeWide(r1, c2, load); storeWide(r1 + 16, c3, load);
  storeWide(r2, c4, load); storeWide(r2 + 16, c5, load);
  storeWide(r3, c6, load); storeWide(r3 + 16, c7, load);
}

/** acc + wraps·2^32: each wrapped dot was counted as −2^31 but is +2^31. */
// @ts-ignore: decorator
@inline
function unwrap(acc: v128, wraps: v128): v128 {
  return i64x2.add(acc, i64x2.shl(wraps, 32));
}

/** Two i64 lanes → two f64 at out (exact: intGemm checked that |sums| < 2^53), stored or added. */
// @ts-ignore: decorator
@inline
function storeWide(out: usize, acc: v128, load: bool): void {
  let v = f64x2.splat(<f64>i64x2.extract_lane(acc, 0));
  v = f64x2.replace_lane(v, 1, <f64>i64x2.extract_lane(acc, 1));
  if (load) v = f64x2.add(v, v128.load(out));
  v128.store(out, v);
}

/** Four i32 lanes → four f64 at out, stored, or added to what is there (a later k block). */
// @ts-ignore: decorator
@inline
function storeQuad(out: usize, acc: v128, load: bool): void {
  let lo = f64x2.convert_low_i32x4_s(acc);
  let hi = f64x2.convert_low_i32x4_s(v128.shuffle<i32>(acc, acc, 2, 3, 2, 3));
  if (load) {
    lo = f64x2.add(lo, v128.load(out));
    hi = f64x2.add(hi, v128.load(out, 16));
  }
  v128.store(out, lo);
  v128.store(out, hi, 16);
}

/**
 * op(b)[pc..pc+kc, 0..n] → panels [n/NR][kc/2][NR][2] (k pairs adjacent), a k past kc zero. A last
 * panel at most NR/2 wide is packed NR/2 wide (see microHalf); panel jc still starts at pair-slot
 * jc·pairs either way.
 *
 * Edge panels are packed by the same vector loads as full ones, which read past column n (or, for
 * transB, past row n) into whatever follows b: those lanes only feed output columns that are never
 * copied out, and the host leaves slack behind its buffers so the reads stay inside the memory.
 * A k past the block must be zero, though (it belongs to the next block), so the last pairs of an
 * odd or ragged block are packed one element at a time.
 */
function packB(b: usize, pc: i32, kc: i32, n: i32, k: i32, transB: bool, dst: usize): void {
  const pairs = (kc + 1) >> 1;
  const full = kc >> 1; // pairs with both k inside the block
  for (let jc = 0; jc < n; jc += NR) {
    const nr = min(NR, n - jc);
    const width = nr <= NR / 2 ? NR / 2 : NR;
    const step = <usize>width << 2; // bytes per pair
    let p = 0;
    if (!transB) {
      // b is [K,N]: rows 2p and 2p+1 of the panel are 8 contiguous i16 each; interleave them.
      const stride = <usize>n << 1;
      let src = b + (<usize>(pc * n + jc) << 1);
      for (; p < full; p++) {
        const r0 = v128.load(src);
        const r1 = v128.load(src + stride);
        v128.store(dst, v128.shuffle<i16>(r0, r1, 0, 8, 1, 9, 2, 10, 3, 11));
        if (width == NR) v128.store(dst, v128.shuffle<i16>(r0, r1, 4, 12, 5, 13, 6, 14, 7, 15), 16);
        src += stride << 1;
        dst += step;
      }
    } else {
      // b is [N,K] (PyTorch weights): a column's pair is one contiguous i32; transpose 4×4 blocks
      // of them (4 columns × 4 pairs).
      const rowStride = <usize>k << 1;
      let src = b + (<usize>(jc * k + pc) << 1);
      for (; p + 4 <= full; p += 4) {
        transpose4(src, rowStride, dst, step);
        if (width == NR) transpose4(src + 4 * rowStride, rowStride, dst + 16, step);
        src += 16;
        dst += 4 * step;
      }
    }
    for (; p < pairs; p++) {
      for (let jj = 0; jj < width; jj++) {
        let v0: i16 = 0, v1: i16 = 0;
        if (jj < nr) {
          const j = jc + jj;
          const k0 = pc + 2 * p;
          v0 = load<i16>(b + (<usize>(transB ? j * k + k0 : k0 * n + j) << 1));
          if (2 * p + 1 < kc) v1 = load<i16>(b + (<usize>(transB ? j * k + k0 + 1 : (k0 + 1) * n + j) << 1));
        }
        store<i16>(dst, v0);
        store<i16>(dst, v1, 2);
        dst += 4;
      }
    }
  }
}

/**
 * op(a)[ic..ic+mr, pc..pc+kc] → [kc/2][MR][2] (k pairs adjacent), a k past kc zero. Rows past mr
 * are read from whatever follows (see packB): they only feed output rows that are never copied out.
 */
function packA(a: usize, ic: i32, pc: i32, mr: i32, kc: i32, m: i32, k: i32, transA: bool, dst: usize): void {
  const pairs = (kc + 1) >> 1;
  const full = kc >> 1;
  let p = 0;
  if (!transA) {
    // a is [M,K]: a row's pair is one contiguous i32; transpose 4×4 blocks (4 rows × 4 pairs).
    const rowStride = <usize>k << 1;
    let src = a + (<usize>(ic * k + pc) << 1);
    for (; p + 4 <= full; p += 4) {
      transpose4(src, rowStride, dst, MR << 2);
      src += 16;
      dst += (4 * MR) << 2;
    }
  } else {
    // a is [K,M]: rows 2p and 2p+1 hold the MR values of a pair as 4 contiguous i16 each.
    const stride = <usize>m << 1;
    let src = a + (<usize>(pc * m + ic) << 1);
    for (; p < full; p++) {
      const r0 = v128.load64_zero(src);
      const r1 = v128.load64_zero(src + stride);
      v128.store(dst, v128.shuffle<i16>(r0, r1, 0, 8, 1, 9, 2, 10, 3, 11));
      src += stride << 1;
      dst += MR << 2;
    }
  }
  for (; p < pairs; p++) {
    for (let ii = 0; ii < MR; ii++) {
      let v0: i16 = 0, v1: i16 = 0;
      if (ii < mr) {
        const i = ic + ii;
        const k0 = pc + 2 * p;
        v0 = load<i16>(a + (<usize>(transA ? k0 * m + i : i * k + k0) << 1));
        if (2 * p + 1 < kc) v1 = load<i16>(a + (<usize>(transA ? (k0 + 1) * m + i : i * k + k0 + 1) << 1));
      }
      store<i16>(dst, v0);
      store<i16>(dst, v1, 2);
      dst += 4;
    }
  }
}


/** Copies a tile of at most MR×NR f64; a plain loop, because memory.copy is a runtime call per row. */
function copyTile(dst: usize, ldd: usize, src: usize, lds: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) store<f64>(dst + (<usize>j << 3), load<f64>(src + (<usize>j << 3)));
    dst += ldd;
    src += lds;
  }
}
