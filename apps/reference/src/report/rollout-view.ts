import type { RolloutRecordV1 } from '@hicra/spec';
import { escapeHtml } from './html.js';

/**
 * The response text as HTML: planning-phrase occurrences in `<mark class="planning">`, and,
 * when the record has token spans, each token in `<span class="tok">` carrying its index and
 * (when present) its advantage, for the hover readout and the shading. A match that covers
 * several tokens becomes one mark per token piece (same `data-match`), so elements always nest.
 * Every piece of text is escaped.
 */
export function renderResponseHtml(record: RolloutRecordV1): string {
  const text = record.response;
  const length = text.length;
  const matchAt = new Int32Array(length).fill(-1);
  (record.planningMatches ?? []).forEach((match, m) => {
    for (let c = match.start; c < match.end; c++) if (matchAt[c] === -1) matchAt[c] = m;
  });
  const tokenAt = new Int32Array(length).fill(-1);
  record.tokenSpans?.forEach(([start, end], t) => {
    for (let c = start; c < end; c++) if (tokenAt[c] === -1) tokenAt[c] = t;
  });
  const advantages = record.tokenSpans === undefined ? undefined : record.advantages;
  let scale = 0;
  for (const a of advantages ?? []) scale = Math.max(scale, Math.abs(a));
  const matches = record.planningMatches ?? [];

  const openToken = (t: number): string => {
    if (advantages === undefined) return `<span class="tok" data-t="${t}">`;
    const a = advantages[t]!;
    const sign = a > 0 ? 'pos' : a < 0 ? 'neg' : 'zero';
    const weight = scale > 0 ? (Math.abs(a) / scale).toFixed(3) : '0';
    return `<span class="tok ${sign}" data-t="${t}" data-adv="${a}" style="--w:${weight}" title="token ${t}: advantage ${a.toFixed(4)}">`;
  };
  const openMark = (m: number): string => {
    const gram = matches[m]!.gram;
    const label = typeof gram === 'string' ? gram : '';
    return `<mark class="planning" data-match="${m}" title="planning: ${escapeHtml(label)}">`;
  };

  let html = '';
  let c = 0;
  while (c < length) {
    const t = tokenAt[c]!;
    let end = c + 1;
    while (end < length && tokenAt[end] === t) end++;
    let inner = '';
    let p = c;
    while (p < end) {
      const m = matchAt[p]!;
      let q = p + 1;
      while (q < end && matchAt[q] === m) q++;
      const piece = escapeHtml(text.slice(p, q));
      inner += m === -1 ? piece : `${openMark(m)}${piece}</mark>`;
      p = q;
    }
    html += t === -1 ? inner : `${openToken(t)}${inner}</span>`;
    c = end;
  }
  return html;
}
