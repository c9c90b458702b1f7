/** How the kernel benchmarks time a call: best of several batches, each long enough to measure. */


/** Seconds per call of `call`: calls doubled until a batch lasts 30 ms, then the best of `batches` batches. */
export function bestSecondsPerCall(call: () => void, batches: number): number {
  call(); // warm-up: JIT tiers and wasm instantiation stay out of the timing
  let calls = 1;
  while (busySeconds(() => { for (let r = 0; r < calls; r++) call(); }) < 0.03) calls *= 2;
  let best = Infinity;
  for (let batch = 0; batch < batches; batch++) {
    best = Math.min(best, busySeconds(() => { for (let r = 0; r < calls; r++) call(); }) / calls);
  }
  return best;
}

/** min(wall, process CPU time): a shared machine only ever adds to either. */
function busySeconds(work: () => void): number {
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  work();
  const cpu = process.cpuUsage(cpu0);
  return Math.min((performance.now() - wall0) / 1e3, (cpu.user + cpu.system) / 1e6);
}

/** A typed array's view of a range (what a stack of matrices is cut with). */
interface Sliceable<T> {
  subarray(begin: number, end: number): T;
}

/** One call per matrix of a stack of `count`, as the attention layer calls per (image, head). */
export function perMatrix<A extends Sliceable<A>, B extends Sliceable<B>, C extends Sliceable<C>, S extends { m: number; k: number; n: number }>(
  kernel: (a: A, b: B, c: C, shape: S) => void, count: number,
): (a: A, b: B, c: C, shape: S) => void {
  if (count === 1) return kernel;
  return (a, b, c, shape) => {
    const { m, k, n } = shape;
    for (let i = 0; i < count; i++) {
      kernel(a.subarray(i * m * k, (i + 1) * m * k), b.subarray(i * k * n, (i + 1) * k * n), c.subarray(i * m * n, (i + 1) * m * n), shape);
    }
  };
}
