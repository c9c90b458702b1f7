import { describe, expect, it } from 'vitest';
import { IMAGE_SIZE, interleave, loadDataset, type ImageSet } from '../../src/model/datasets.js';

function classCounts(set: ImageSet, upTo = set.count): number[] {
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < upTo; i++) counts[set.labels[i]]++;
  return counts;
}

function sameImage(a: ImageSet, i: number, b: ImageSet, j: number): boolean {
  const x = a.pixels.subarray(i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE);
  const y = b.pixels.subarray(j * IMAGE_SIZE, (j + 1) * IMAGE_SIZE);
  return x.every((v, p) => v === y[p]);
}

describe('Fashion-MNIST split', () => {
  const train = loadDataset('fashion-mnist', 'train');
  const test = loadDataset('fashion-mnist', 'test');

  it('has 60,000 train and 10,000 test images, 6,000 and 1,000 per class', () => {
    expect(train.count).toBe(60_000);
    expect(test.count).toBe(10_000);
    expect(classCounts(train)).toEqual(new Array(10).fill(6000));
    expect(classCounts(test)).toEqual(new Array(10).fill(1000));
    expect(train.pixels.length).toBe(60_000 * IMAGE_SIZE);
  });

  it('drops the two empty records of class 0 and counts them', () => {
    expect(train.skipped).toBe(2);
    expect(test.skipped).toBe(2);
  });

  it('interleaves the classes: image i is of class i mod 10 in both splits', () => {
    expect(train.labels.every((l, i) => l === i % 10)).toBe(true);
    expect(test.labels.every((l, i) => l === i % 10)).toBe(true);
  });

  it('every prefix of ten images holds one image of each class', () => {
    for (const n of [10, 100, 1230, 9990]) expect(classCounts(test, n)).toEqual(new Array(10).fill(n / 10));
  });

  it('scales pixels to [0,1] with both ends reached', () => {
    let min = Infinity;
    let max = -Infinity;
    for (const v of train.pixels) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
    // The package stores bytes, so every pixel is a multiple of 1/255 (up to float32 rounding).
    expect(test.pixels.every((v) => Math.abs(v * 255 - Math.round(v * 255)) < 1e-4)).toBe(true);
  });

  it('keeps test and train disjoint: the 1,000th valid image of a class opens its train split', () => {
    // Train image c (round 0) is the first image after the class's test images, not one of them.
    for (let c = 0; c < 10; c++) {
      for (let j = c; j < 10_000; j += 10) expect(sameImage(train, c, test, j)).toBe(false);
    }
  });

  it('a limit takes a prefix of the split', () => {
    const head = loadDataset('fashion-mnist', 'test', 25);
    expect(head.count).toBe(25);
    expect(head.pixels).toEqual(test.pixels.subarray(0, 25 * IMAGE_SIZE));
    expect(loadDataset('fashion-mnist', 'test', 20_000).count).toBe(10_000);
  });
});

describe('MNIST split', () => {
  const train = loadDataset('mnist', 'train');
  const test = loadDataset('mnist', 'test');

  it('has 2,000 test images (200 per class) and the other 8,000 for training', () => {
    expect(test.count).toBe(2000);
    expect(classCounts(test)).toEqual(new Array(10).fill(200));
    expect(train.count).toBe(8000);
    expect(classCounts(train)).toEqual([801, 927, 791, 832, 780, 663, 814, 870, 744, 778]);
    expect(train.skipped).toBe(0);
  });

  it('interleaves round-robin until the smallest class (5, 663 train images) runs out', () => {
    expect(train.labels.subarray(0, 6630).every((l, i) => l === i % 10)).toBe(true);
    // Round 663 onwards has no 5: the rotation is 0,1,2,3,4,6,7,8,9.
    expect(Array.from(train.labels.subarray(6630, 6639))).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9]);
    expect(train.labels[train.count - 1]).toBe(1);
  });

  it('keeps pixels in [0,1]', () => {
    expect(train.pixels.every((v) => v >= 0 && v <= 1)).toBe(true);
  });
});

describe('interleave', () => {
  it('drops a class from the rotation once it has run out', () => {
    expect(interleave([2, 1, 3]).map((o) => `${o.cls}:${o.index}`)).toEqual(['0:0', '1:0', '2:0', '0:1', '2:1', '2:2']);
  });
});
