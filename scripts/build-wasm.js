// Compiles every AssemblyScript kernel in src/kernels/assembly/ to build/wasm/<name>.wasm.
// Runs as part of `npm run build` (and so of `npm ci`); the .wasm files are not committed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sourceDir = join(root, 'src/kernels/assembly');
const outDir = join(root, 'build/wasm');
mkdirSync(outDir, { recursive: true });

const asc = join(root, 'node_modules/assemblyscript/bin/asc.js');
const sources = existsSync(sourceDir) ? readdirSync(sourceDir).filter((f) => f.endsWith('.ts') && !f.startsWith('_')) : [];
for (const file of sources) {
  const name = file.replace(/\.ts$/, '');
  execFileSync(process.execPath, [
    asc, join(sourceDir, file),
    '--outFile', join(outDir, `${name}.wasm`),
    '-O3', '--noAssert', '--enable', 'simd', '--runtime', 'stub', '--initialMemory', '256',
  ], { stdio: 'inherit' });
  console.log(`build/wasm/${name}.wasm`);
}
