/**
 * One self-contained HTML page: charts embedded as data URIs, tables inline, styles inline. A
 * Content-Security-Policy forbids every request except data: images, so the page opens the same from
 * a laptop, a mail attachment or a CI artifact, and cannot quietly depend on the network.
 */
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { Column } from './table.js';

/** What a page section holds, in order. */
export type Block =
  | { kind: 'heading'; text: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'chart'; title: string; file: string; downloads: string[] }
  | { kind: 'table'; html: string }
  | { kind: 'note'; text: string };

export const CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

/** The whole page. Chart files are read now and embedded; `downloads` are relative links beside the page. */
export function htmlPage(title: string, blocks: readonly Block[]): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${CONTENT_SECURITY_POLICY}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(title)}</h1>`,
    ...blocks.map(renderBlock),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** An HTML table; numbers are right-aligned. */
export function htmlTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string {
  const numeric = columns.map((c) => rows.length > 0 && typeof c.value(rows[0]) === 'number');
  const cell = (tag: string, v: string | number, i: number) => `<${tag}${numeric[i] ? ' class="num"' : ''}>${escapeHtml(String(v))}</${tag}>`;
  return [
    '<table>',
    `<thead><tr>${columns.map((c, i) => cell('th', c.header, i)).join('')}</tr></thead>`,
    '<tbody>',
    ...rows.map((row) => `<tr>${columns.map((c, i) => cell('td', c.value(row), i)).join('')}</tr>`),
    '</tbody>',
    '</table>',
  ].join('\n');
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** `file` as a data URI (SVG or PNG). */
export function dataUri(file: string): string {
  const type = extname(file) === '.svg' ? 'image/svg+xml' : extname(file) === '.png' ? 'image/png' : undefined;
  if (type === undefined) throw new Error(`dataUri: cannot embed ${file} (SVG or PNG only)`);
  return `data:${type};base64,${readFileSync(file).toString('base64')}`;
}

function renderBlock(block: Block): string {
  switch (block.kind) {
    case 'heading':
      return `<h2>${escapeHtml(block.text)}</h2>`;
    case 'paragraph':
      return `<p>${escapeHtml(block.text)}</p>`;
    case 'note':
      return `<p class="note">${escapeHtml(block.text)}</p>`;
    case 'table':
      return `<div class="scroll">${block.html}</div>`;
    case 'chart':
      return [
        '<figure>',
        `<img src="${dataUri(block.file)}" alt="${escapeHtml(block.title)}">`,
        `<figcaption>${escapeHtml(block.title)} — ${block.downloads.map((d) => `<a href="${escapeHtml(d)}">${escapeHtml(extname(d).slice(1).toUpperCase() || basename(d))}</a>`).join(' · ')}</figcaption>`,
        '</figure>',
      ].join('\n');
  }
}

const STYLE = [
  'body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}',
  'h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}',
  'figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}figcaption{font-size:.9em;color:#555}',
  '.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.85em;margin:1em 0}',
  'th,td{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:left;white-space:nowrap}th{border-bottom:2px solid #444}',
  '.num{text-align:right;font-variant-numeric:tabular-nums}.note{color:#666;font-style:italic}',
].join('');
