/** Tables of results as CSV (csv-stringify) and as Markdown, from one list of rows. */
import { writeFileSync } from 'node:fs';
import { stringify } from 'csv-stringify/sync';

export interface Column<Row> {
  header: string;
  value: (row: Row) => string | number;
}

export function writeCsv<Row>(file: string, rows: readonly Row[], columns: readonly Column<Row>[]): void {
  const records = rows.map((row) => columns.map((c) => c.value(row)));
  writeFileSync(file, stringify(records, { header: true, columns: columns.map((c) => c.header) }));
}

export function markdownTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [
    line(columns.map((c) => c.header)),
    line(columns.map((c) => (rows.length > 0 && typeof c.value(rows[0]) === 'number' ? '---:' : '---'))),
    ...rows.map((row) => line(columns.map((c) => c.value(row)))),
  ].join('\n');
}

/**
 * A LaTeX table in booktabs style (\toprule, \midrule, \bottomrule; no vertical rules), numbers
 * right-aligned. Cell text is escaped, so names such as `blocks.0.mlp_fc1` or `50%` print as written.
 */
export function latexTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[], caption?: { caption: string; label: string }): string {
  const align = columns.map((c) => (rows.length > 0 && typeof c.value(rows[0]) === 'number' ? 'r' : 'l')).join('');
  const line = (cells: readonly (string | number)[]) => `    ${cells.map((c) => latexEscape(String(c))).join(' & ')} \\\\`;
  const tabular = [
    `  \\begin{tabular}{${align}}`,
    '    \\toprule',
    line(columns.map((c) => c.header)),
    '    \\midrule',
    ...rows.map((row) => line(columns.map((c) => c.value(row)))),
    '    \\bottomrule',
    '  \\end{tabular}',
  ];
  if (!caption) return tabular.join('\n');
  return ['\\begin{table}', '  \\centering', `  \\caption{${latexEscape(caption.caption)}}`, `  \\label{${caption.label}}`, ...tabular, '\\end{table}'].join('\n');
}

const LATEX_SPECIALS: Record<string, string> = {
  '\\': '\\textbackslash{}',
  '&': '\\&',
  '%': '\\%',
  $: '\\$',
  '#': '\\#',
  _: '\\_',
  '{': '\\{',
  '}': '\\}',
  '~': '\\textasciitilde{}',
  '^': '\\textasciicircum{}',
  '²': '\\textsuperscript{2}',
  'µ': '\\textmu{}',
};

export function latexEscape(text: string): string {
  return text.replace(/[\\&%$#_{}~^²µ]/g, (c) => LATEX_SPECIALS[c]);
}
