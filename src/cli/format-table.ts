/** Left-aligned columns separated by two blanks, header first: the lines of the CLI's tables. */
export function tableLines(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

export function formatTable(header: string[], rows: string[][]): string {
  return `${tableLines(header, rows).join('\n')}\n`;
}
