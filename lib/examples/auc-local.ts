/** Temporary exact AUC (replaced by lib/metrics/auc.ts). */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let rankSum = 0;
  let pos = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j < idx.length && scores[idx[j]] === scores[idx[i]]) ++j;
    const rank = (i + j + 1) / 2;
    for (let k = i; k < j; ++k) if (labels[idx[k]] === 1) { rankSum += rank; ++pos; }
    i = j;
  }
  const neg = idx.length - pos;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}
