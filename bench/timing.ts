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
