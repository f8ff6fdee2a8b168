/** The ratio table. */

export interface Row {
  readonly op: string;
  readonly backend: string;
  readonly size: string;
  readonly oursMs?: number;
  readonly torchMs?: number;
  readonly maxAbsDiff?: number;
  readonly agree?: boolean;
  readonly error?: string;
}

export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1) return ms.toFixed(3);
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return ms.toFixed(0);
}

export function formatDiff(diff: number | undefined): string {
  if (diff === undefined) return '—';
  if (diff === 0) return '0';
  if (!Number.isFinite(diff)) return String(diff);
  return diff.toExponential(1);
}

/** `ours / torch`, and who is faster by how much. */
export function ratioOf(row: Row): { ratio?: number; faster: string } {
  if (row.oursMs === undefined || row.torchMs === undefined || row.torchMs <= 0) {
    return { faster: '—' };
  }
  const ratio = row.oursMs / row.torchMs;
  const times = (x: number) => (x >= 10 ? x.toFixed(0) : x.toFixed(1));
  return { ratio, faster: ratio > 1 ? `torch ${times(ratio)}x` : `ours ${times(1 / ratio)}x` };
}

/** A markdown table, padded so that it also reads well in a terminal. */
export function markdownTable(rows: readonly Row[]): string {
  const header = [
    'op',
    'backend',
    'size',
    'ours ms',
    'torch ms',
    'ours/torch',
    'faster',
    'max |diff|',
  ];
  const right = [false, false, false, true, true, true, false, true];
  const body = rows.map((row) => {
    const { ratio, faster } = ratioOf(row);
    const diff = row.error
      ? `ERROR: ${row.error}`
      : `${formatDiff(row.maxAbsDiff)}${row.agree === false ? ' (DISAGREE)' : ''}`;
    return [
      row.op,
      row.backend,
      row.size,
      formatMs(row.oursMs),
      formatMs(row.torchMs),
      ratio === undefined ? '—' : ratio < 0.1 ? ratio.toFixed(3) : ratio.toFixed(2),
      faster,
      diff,
    ];
  });
  const escapePipes = (cell: string) => cell.replaceAll('|', '\\|');
  const cells = [header, ...body].map((line) => line.map(escapePipes));
  const widths = header.map((_, c) => Math.max(...cells.map((line) => line[c]!.length)));
  const pad = (cell: string, c: number) =>
    right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!);
  const line = (cellsOfLine: string[]) =>
    `| ${cellsOfLine.map((cell, c) => pad(cell, c)).join(' | ')} |`;
  const rule = `| ${widths.map((w, c) => (right[c] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(cells[0]!), rule, ...cells.slice(1).map(line)].join('\n');
}
