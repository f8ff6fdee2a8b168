import { SeededGenerator } from '@hicra/tensor/kernels';

/**
 * Clustering of L2-normalised vectors (`[n·dimension]` float32, row-major) by cosine
 * similarity. Both functions return a label per vector, labels numbered `0 .. clusters - 1`
 * in order of each cluster's first member, and are deterministic (k-means++ for a seed).
 */
export interface Clustering {
  readonly labels: Int32Array;
  readonly clusterCount: number;
}

function dot(v: Float32Array, a: number, b: number, dimension: number): number {
  let s = 0;
  const oa = a * dimension;
  const ob = b * dimension;
  for (let d = 0; d < dimension; d++) s += v[oa + d]! * v[ob + d]!;
  return s;
}

function relabel(raw: Int32Array): Clustering {
  const map = new Map<number, number>();
  const labels = new Int32Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    let l = map.get(raw[i]!);
    if (l === undefined) {
      l = map.size;
      map.set(raw[i]!, l);
    }
    labels[i] = l;
  }
  return { labels, clusterCount: map.size };
}

/**
 * Spherical k-means with k-means++ seeding: the first centre uniform, each next one drawn with
 * probability proportional to the squared Euclidean distance to the nearest centre (2 - 2·cos
 * for unit vectors); Lloyd iterations assign each vector to the most similar centre (ties to
 * the lower index) and re-normalise the means, until no label changes or `maxIterations`.
 * A centre that loses every member keeps its position. Fewer than k distinct vectors give
 * fewer clusters.
 */
export function kMeansPlusPlus(
  vectors: Float32Array,
  n: number,
  dimension: number,
  k: number,
  seed: number,
  maxIterations = 100,
): Clustering {
  if (n === 0) return { labels: new Int32Array(0), clusterCount: 0 };
  const generator = new SeededGenerator(seed);
  const centres: number[] = [generator.nextInt(n)];
  const best = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const update = (c: number) => {
    for (let i = 0; i < n; i++) {
      const d = Math.max(0, 2 - 2 * dot(vectors, i, c, dimension));
      if (d < best[i]!) best[i] = d;
    }
  };
  update(centres[0]!);
  while (centres.length < Math.min(k, n)) {
    let total = 0;
    for (let i = 0; i < n; i++) total += best[i]!;
    if (!(total > 1e-12)) break;
    const c = generator.nextCategorical(best);
    centres.push(c);
    update(c);
  }
  const count = centres.length;
  const centroids = new Float64Array(count * dimension);
  centres.forEach((c, j) => {
    for (let d = 0; d < dimension; d++) centroids[j * dimension + d] = vectors[c * dimension + d]!;
  });
  const labels = new Int32Array(n).fill(-1);
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    let changed = false;
    for (let i = 0; i < n; i++) {
      let bestJ = 0;
      let bestSim = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < count; j++) {
        let s = 0;
        const oi = i * dimension;
        const oj = j * dimension;
        for (let d = 0; d < dimension; d++) s += vectors[oi + d]! * centroids[oj + d]!;
        if (s > bestSim) {
          bestSim = s;
          bestJ = j;
        }
      }
      if (labels[i] !== bestJ) {
        labels[i] = bestJ;
        changed = true;
      }
    }
    if (!changed) break;
    const sums = new Float64Array(count * dimension);
    const sizes = new Int32Array(count);
    for (let i = 0; i < n; i++) {
      const j = labels[i]!;
      sizes[j]! += 1;
      for (let d = 0; d < dimension; d++) sums[j * dimension + d]! += vectors[i * dimension + d]!;
    }
    for (let j = 0; j < count; j++) {
      if (sizes[j] === 0) continue;
      let norm = 0;
      for (let d = 0; d < dimension; d++) norm += sums[j * dimension + d]! ** 2;
      if (norm === 0) continue;
      const scale = 1 / Math.sqrt(norm);
      for (let d = 0; d < dimension; d++)
        centroids[j * dimension + d] = sums[j * dimension + d]! * scale;
    }
  }
  return relabel(labels);
}

/**
 * Agglomerative clustering, average linkage on cosine similarity, cut at `threshold`: two
 * clusters merge while their mean pairwise similarity is at least `threshold`. Uses the
 * nearest-neighbour-chain algorithm (O(n²) time, n·(n-1)/2 floats of memory), which yields the
 * same clusters as greedy merging because average linkage is reducible. Ties go to the lower index.
 */
export function agglomerativeCosine(
  vectors: Float32Array,
  n: number,
  dimension: number,
  threshold: number,
): Clustering {
  if (n === 0) return { labels: new Int32Array(0), clusterCount: 0 };
  // Condensed similarity matrix, i < j at i·n - i·(i+1)/2 + (j - i - 1).
  const index = (a: number, b: number) => {
    const i = Math.min(a, b);
    const j = Math.max(a, b);
    return i * n - (i * (i + 1)) / 2 + (j - i - 1);
  };
  const sim = new Float32Array((n * (n - 1)) / 2);
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) sim[index(i, j)] = dot(vectors, i, j, dimension);
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const size = new Int32Array(n).fill(1);
  // 0 active, 1 merged away, 2 final (its best similarity is below the threshold).
  const state = new Uint8Array(n);
  const chain: number[] = [];
  let open = n;
  while (open > 0) {
    if (chain.length === 0) {
      let first = 0;
      while (state[first] !== 0) first++;
      chain.push(first);
    }
    const a = chain[chain.length - 1]!;
    const previous = chain.length >= 2 ? chain[chain.length - 2]! : -1;
    let b = -1;
    let bestSim = Number.NEGATIVE_INFINITY;
    for (let x = 0; x < n; x++) {
      if (x === a || state[x] !== 0) continue;
      const s = sim[index(a, x)]!;
      if (s > bestSim || (s === bestSim && x === previous)) {
        bestSim = s;
        b = x;
      }
    }
    if (previous >= 0 && b !== previous && sim[index(a, previous)]! === bestSim) b = previous;
    if (b === -1 || bestSim < threshold) {
      state[a] = 2;
      open--;
      chain.length = 0;
      continue;
    }
    if (b === previous) {
      chain.length -= 2;
      // Merge b into a (a keeps its index); Lance–Williams update for average linkage.
      const sa = size[a]!;
      const sb = size[b]!;
      for (let x = 0; x < n; x++) {
        if (x === a || x === b || state[x] === 1) continue;
        sim[index(a, x)] = (sa * sim[index(a, x)]! + sb * sim[index(b, x)]!) / (sa + sb);
      }
      size[a] = sa + sb;
      state[b] = 1;
      open--;
      for (let x = 0; x < n; x++) if (parent[x] === b) parent[x] = a;
    } else chain.push(b);
  }
  return relabel(parent);
}
