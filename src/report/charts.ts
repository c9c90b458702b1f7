/**
 * Charts for people and papers: chart.js drawn off-screen by chartjs-node-canvas, each chart written
 * as PNG (for the web page) and as SVG and PDF (vector, for papers).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChartConfiguration, Plugin } from 'chart.js';
import { ChartJSNodeCanvas } from 'chartjs-node-canvas';

export interface ChartFiles {
  png: string;
  svg: string;
  pdf: string;
}

/** Tableau 10: distinguishable, and still readable in greyscale print. */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

const WIDTH = 900;
const HEIGHT = 500;

/** Renders `config` three times and writes `<dir>/<name>.{png,svg,pdf}`; returns the paths. */
export async function writeChart(dir: string, name: string, config: ChartConfiguration): Promise<ChartFiles> {
  mkdirSync(dir, { recursive: true });
  // Animations off: a canvas that is rendered once must be drawn in its final state.
  const datasets = config.data.datasets.map((d, i) => ({ backgroundColor: PALETTE[i % PALETTE.length], borderColor: PALETTE[i % PALETTE.length], ...d }));
  const still = { ...config, data: { ...config.data, datasets }, options: { ...config.options, animation: false, responsive: false }, plugins: [...(config.plugins ?? []), WHITE_BACKGROUND] } as ChartConfiguration;
  const files: ChartFiles = { png: join(dir, `${name}.png`), svg: join(dir, `${name}.svg`), pdf: join(dir, `${name}.pdf`) };
  const { raster, svg, pdf } = renderers();
  writeFileSync(files.png, await raster.renderToBuffer(still, 'image/png'));
  writeFileSync(files.svg, svg.renderToBufferSync(still, 'image/svg+xml'));
  writeFileSync(files.pdf, pdf.renderToBufferSync(still, 'application/pdf'));
  return files;
}

/**
 * Paints the canvas white before anything else is drawn. chartjs-node-canvas's own backgroundColour
 * paints behind the finished chart ('destination-over'), which a vector surface can only do by
 * rasterising: SVG and PDF came out several times larger and slower to write.
 */
const WHITE_BACKGROUND: Plugin = {
  id: 'vitsim-white-background',
  beforeDraw: (chart) => {
    const { ctx } = chart;
    ctx.save();
    ctx.fillStyle = 'white';
    ctx.fillRect(0, 0, chart.width, chart.height);
    ctx.restore();
  },
};

let cached: { raster: ChartJSNodeCanvas; svg: ChartJSNodeCanvas; pdf: ChartJSNodeCanvas } | undefined;

/** One renderer per format, made once: each loads its own chart.js, which costs more than drawing a chart. */
function renderers(): { raster: ChartJSNodeCanvas; svg: ChartJSNodeCanvas; pdf: ChartJSNodeCanvas } {
  cached ??= {
    raster: new ChartJSNodeCanvas({ width: WIDTH, height: HEIGHT }),
    svg: new ChartJSNodeCanvas({ width: WIDTH, height: HEIGHT, type: 'svg' }),
    pdf: new ChartJSNodeCanvas({ width: WIDTH, height: HEIGHT, type: 'pdf' }),
  };
  return cached;
}
