/**
 * The one GEMM every model layer calls: the WebAssembly SIMD kernel, which must equal
 * src/kernels/gemm-reference.ts bit for bit. A different kernel drops in here.
 *
 *   c[m,n] (+)= Σ_k op(a)[m,k] · op(b)[k,n]      row-major; transA: a is [K,M]; transB: b is [N,K]
 *
 * On first use the kernel is checked against the reference on one product per transpose and
 * accumulate combination, large enough to take the wasm path and with ragged edge tiles: the binary
 * (build/wasm/gemm.wasm) is a build artifact outside git, and a stale or broken build must stop a
 * training run rather than silently train a different network.
 */
import { gemm as kernel, type GemmShape } from '../../kernels/gemm.js';
import { gemmReference } from '../../kernels/gemm-reference.js';
import { createRng } from '../random.js';

export type { GemmShape } from '../../kernels/gemm.js';

let verified = false;

export function gemm(a: Float32Array, b: Float32Array, c: Float32Array, shape: GemmShape): void {
  if (!verified) verifyKernel();
  kernel(a, b, c, shape);
}

function verifyKernel(): void {
  const rng = createRng(0x6e3d);
  const [m, k, n] = [13, 37, 19];
  const random = (size: number): Float32Array => Float32Array.from({ length: size }, () => rng.normal());
  const a = random(m * k);
  const b = random(k * n);
  const c0 = random(m * n);
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      for (const accumulate of [false, true]) {
        const shape: GemmShape = { m, k, n, transA, transB, accumulate };
        const fast = Float32Array.from(c0);
        const reference = Float32Array.from(c0);
        kernel(a, b, fast, shape);
        gemmReference(a, b, reference, shape);
        if (fast.some((v, i) => !Object.is(v, reference[i]))) {
          throw new Error(`the GEMM kernel differs from gemmReference for ${JSON.stringify(shape)}: build/wasm/gemm.wasm is stale or broken (rebuild with \`npm run build:wasm\`)`);
        }
      }
    }
  }
  verified = true;
}
