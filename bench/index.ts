/**
 * `npm run bench`: runs every benchmark in bench/ (each file exports `run()`), in name order,
 * after printing the machine it runs on. Results go to stdout; BENCHMARKS.md records them
 * with the command that produced them.
 */
import { readdirSync } from 'node:fs';
import { cpus, totalmem, platform, arch } from 'node:os';
import { fileURLToPath } from 'node:url';

const only = process.argv.slice(2);
const dir = fileURLToPath(new URL('.', import.meta.url));
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const cpu = cpus()[0];
console.log(`machine: ${cpu?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${arch()}, node ${process.version}`);
console.log(`date: ${new Date().toISOString()}`);
for (const file of files) {
  console.log(`\n## ${file.replace(/\.bench\.ts$/, '')}`);
  const module = (await import(new URL(file, import.meta.url).href)) as { run: () => Promise<void> | void };
  await module.run();
}
