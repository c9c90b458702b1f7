/**
 * Loading a page in headless Chromium and asking it what it drew. The page gets a small script (and
 * a Content-Security-Policy that lets it run; images stay restricted to data: URIs) that, once every
 * image has loaded, draws each into a canvas and counts the pixels that are not background, then
 * writes the counts into the DOM, which `--dump-dom` prints.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export interface RenderedImage {
  alt: string;
  complete: boolean;
  naturalWidth: number;
  naturalHeight: number;
  /** Pixels visibly darker than white: something was drawn. */
  inked: number;
}

const CHECK = `<script>
window.addEventListener('load', () => {
  const images = [...document.images].map((img) => {
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth || 1;
    canvas.height = img.naturalHeight || 1;
    const ctx = canvas.getContext('2d');
    let inked = 0;
    if (img.complete && img.naturalWidth > 0) {
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200)) inked++;
    }
    return { alt: img.alt, complete: img.complete, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, inked };
  });
  const out = document.createElement('pre');
  out.id = 'render-check';
  out.textContent = JSON.stringify(images);
  document.body.appendChild(out);
});
</script>`;

/** What Chromium rendered of every <img> of `htmlFile`. Throws, saying so, when Chromium is missing. */
export function renderedImages(htmlFile: string): RenderedImage[] {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`headless check needs Chromium at ${CHROMIUM} (install the chromium package, or set CHROMIUM to its path); it is not there`);
  }
  const work = mkdtempSync(join(tmpdir(), 'vitsim-chromium-'));
  try {
    const page = join(work, 'page.html');
    const html = readFileSync(htmlFile, 'utf8').replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';").replace('</body>', `${CHECK}\n</body>`);
    writeFileSync(page, html);
    const dom = execFileSync(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${join(work, 'profile')}`,
        '--virtual-time-budget=20000',
        '--dump-dom',
        pathToFileURL(page).href,
      ],
      { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 90_000, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const match = /<pre id="render-check">([\s\S]*?)<\/pre>/.exec(dom);
    if (!match) throw new Error('Chromium ran, but the page never reported its images (did the load event fire?)');
    return JSON.parse(match[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')) as RenderedImage[];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
