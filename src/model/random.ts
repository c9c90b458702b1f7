/**
 * A small seeded PRNG for everything in vitsim that must be reproducible from a seed: weight
 * initialisation, dataset shuffling, noise vectors. xoshiro128** (Blackman & Vigna, 2018) seeded
 * through splitmix32, so nearby seeds (0, 1, 2, …) still give unrelated streams; 32-bit state words
 * keep it in plain JavaScript integer arithmetic (no BigInt on the hot path).
 */

export interface Rng {
  /** Uniform integer in [0, 2^32). */
  nextUint32(): number;
  /** Uniform float in [0, 1) with 53 random bits. */
  nextFloat(): number;
  /** Uniform integer in [0, n). */
  nextInt(n: number): number;
  /** Standard normal N(0, 1) (Box–Muller). */
  normal(): number;
}

export function createRng(seed: number): Rng {
  let s = seed >>> 0;
  const splitmix32 = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix32();
  let b = splitmix32();
  let c = splitmix32();
  let d = splitmix32();
  // An all-zero state is xoshiro's one fixed point; splitmix32 cannot produce four zeros, but be sure.
  if ((a | b | c | d) === 0) a = 1;

  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  const nextFloat = (): number => ((nextUint32() >>> 5) * 67108864 + (nextUint32() >>> 6)) / 9007199254740992;
  const nextInt = (n: number): number => Math.floor(nextFloat() * n);

  // Box–Muller gives normals in pairs; keep the second for the next call.
  let spare = 0;
  let hasSpare = false;
  const normal = (): number => {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    let u = 0;
    while (u === 0) u = nextFloat();
    const v = nextFloat();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    hasSpare = true;
    return r * Math.cos(2 * Math.PI * v);
  };

  return { nextUint32, nextFloat, nextInt, normal };
}

/**
 * Normal(mean, std) truncated to [a, b] by rejection, as PyTorch's `trunc_normal_`. Note that timm
 * calls it as `trunc_normal_(w, std=.02)` with the default *absolute* bounds a = −2, b = 2, i.e. ±100σ:
 * in effect an untruncated normal.
 */
export function truncatedNormal(rng: Rng, mean: number, std: number, a: number, b: number): number {
  for (;;) {
    const x = mean + std * rng.normal();
    if (x >= a && x <= b) return x;
  }
}

/** Fisher–Yates shuffle in place. */
export function shuffle<A extends { length: number; [index: number]: unknown }>(rng: Rng, items: A): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
