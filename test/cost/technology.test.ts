import { describe, expect, it } from 'vitest';
import { NODES } from '../../src/cost/tables.js';
import { nodeScaling, quadratic } from '../../src/cost/technology.js';
import { refusal } from '../refusal.js';

// Factors from ../shared/reference/energy-area.md, "Technology scaling from 45 nm (Stillmaker & Baas, Integration 58, 2017)".
const TABULATED: [number, number, number][] = [
  // node, area factor, energy factor at nominal Vdd
  [45, 1, 1],
  [32, 0.46, 0.53],
  [20, 0.21, 0.23],
  [16, 0.19, 0.16],
  [14, 0.17, 0.11],
  [10, 0.1, 0.082],
  [7, 0.059, 0.056],
];


describe('technology scaling', () => {
  it('scaling 45 → 7 nm multiplies energy and area by the tabulated factors, and so does every other paper node', () => {
    for (const [nm, area, energy] of TABULATED) {
      const s = nodeScaling(nm * 1e-9);
      expect(s.areaFactor).toBe(area);
      expect(s.energyFactor).toBe(energy);
      expect(s.interpolated).toBe(false);
    }
  });

  it('the nominal supplies reproduce each tabulated energy factor through the paper\'s HP quadratics within 3%', () => {
    const hp45 = NODES.find((n) => n.nm === 45)!;
    const ref = quadratic(hp45.vdd!, hp45.nominalVolts!.value);
    for (const node of NODES.filter((n) => n.vdd && !n.interpolated)) {
      const ratio = quadratic(node.vdd!, node.nominalVolts!.value) / ref;
      expect(Math.abs(ratio / node.energy!.value - 1)).toBeLessThan(0.03);
    }
  });

  it('28 and 22 nm are flagged interpolated and follow a log-log line through 32 and 20 nm within 2%', () => {
    const logLog = (nm: number, at32: number, at20: number): number =>
      Math.exp(Math.log(at32) + (Math.log(32 / nm) / Math.log(32 / 20)) * Math.log(at20 / at32));
    for (const nm of [28, 22]) {
      const s = nodeScaling(nm * 1e-9);
      expect(s.interpolated).toBe(true);
      expect(s.sources.every((src) => src.startsWith('interpolated'))).toBe(true);
      expect(Math.abs(s.areaFactor / logLog(nm, 0.46, 0.21) - 1)).toBeLessThan(0.02);
      expect(Math.abs(s.energyFactor / logLog(nm, 0.53, 0.23) - 1)).toBeLessThan(0.02);
    }
  });

  it('naming the nominal supply changes nothing, and a lower supply lowers energy along the node\'s quadratic', () => {
    expect(nodeScaling(7e-9, 0.7).energyFactor).toBeCloseTo(0.056, 12);
    const low = nodeScaling(7e-9, 0.6);
    const hp7 = NODES.find((n) => n.nm === 7)!.vdd!;
    expect(low.energyFactor).toBeCloseTo((0.056 * quadratic(hp7, 0.6)) / quadratic(hp7, 0.7), 12);
    expect(low.energyFactor).toBeLessThan(0.056);
    expect(nodeScaling(45e-9, 0.9).voltageFactor).toBeCloseTo(quadratic(NODES[1].vdd!, 0.9) / quadratic(NODES[1].vdd!, 1.0), 12);
  });

  it('an unknown technology node is refused with one line', () => {
    for (const nm of [12, 90, 65]) {
      const message = refusal(() => nodeScaling(nm * 1e-9));
      expect(message).toContain(`${nm} nm`);
      expect(message).not.toContain('\n');
    }
  });

  it('a supply outside 0.6–1.1 V is refused with one line', () => {
    for (const v of [0.4, 0.59, 1.2]) {
      const message = refusal(() => nodeScaling(7e-9, v));
      expect(message).toMatch(/0\.6–1\.1 V/);
      expect(message).not.toContain('\n');
    }
  });
});
