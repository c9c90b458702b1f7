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
