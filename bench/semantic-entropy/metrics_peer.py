"""Straightforward Python peer of @hicra/semantic-entropy's per-step metrics (stdlib only).

Reads the synthetic batch written by metrics.bench.ts, computes every strategy and
token-class metric with collections.Counter and math, times the computation alone (median
of several runs after a warm-up) and prints {"times": [...], "metrics": {...}} as JSON.
"""

import itertools
import json
import math
import re
import sys
import time
from collections import Counter, defaultdict

# Words as in docs/decisions/0032: letter/digit runs, or any other single non-space character.
WORD = re.compile(r"[^\W_]+|[^\w\s]|_")


def entropy(counter):
    total = sum(counter.values())
    if total == 0:
        return 0.0
    return -sum(c / total * math.log(c / total) for c in counter.values())


def quantile(sorted_values, p):
    position = p * (len(sorted_values) - 1)
    lower = math.floor(position)
    fraction = position - lower
    low = sorted_values[lower]
    if fraction == 0 or lower + 1 >= len(sorted_values):
        return low
    return low + fraction * (sorted_values[lower + 1] - low)


def compute(d):
    grams, class_of, n, q = d["grams"], d["classOf"], d["continuationLength"], d["topQ"]
    texts, all_matches = d["texts"], d["matches"]

    gram_counts = Counter()
    class_counts = Counter()
    following = defaultdict(Counter)
    matches_total = 0
    for text, matches in zip(texts, all_matches):
        matches_total += len(matches)
        for j, (start, end, g) in enumerate(matches):
            gram = grams[g]
            gram_counts[gram] += 1
            class_counts[class_of[g]] += 1
            segment_end = matches[j + 1][0] if j + 1 < len(matches) else len(text)
            words = [m.group(0).lower() for m in itertools.islice(WORD.finditer(text, end, segment_end), n)]
            if words:
                following[gram][" ".join(words)] += 1

    continued = sum(sum(c.values()) for c in following.values())
    procedural = sum(sum(c.values()) / continued * entropy(c) for c in following.values())

    # Token classes over the valid tokens of each response (ragged lists).
    n_all = n_plan = n_exec = 0
    h_all = h_plan = h_exec = 0.0
    nll_all = nll_plan = nll_exec = 0.0
    for entropies, log_probs, planning in zip(d["entropies"], d["logProbs"], d["planning"]):
        for h, lp, p in zip(entropies, log_probs, planning):
            n_all += 1
            h_all += h
            nll_all -= lp
            if p:
                n_plan += 1
                h_plan += h
                nll_plan -= lp
            else:
                n_exec += 1
                h_exec += h
                nll_exec -= lp

    # Fork overlap: top q of all valid tokens by entropy (torch.quantile's linear rule, ties kept).
    values = sorted(h for entropies in d["entropies"] for h in entropies)
    threshold = quantile(values, 1 - q)
    top = top_planning = 0
    for entropies, planning in zip(d["entropies"], d["planning"]):
        for h, p in zip(entropies, planning):
            if h >= threshold:
                top += 1
                top_planning += p

    return {
        "token_entropy/all": h_all / n_all,
        "token_entropy/planning": h_plan / n_plan,
        "token_entropy/execution": h_exec / n_exec,
        "perplexity/all": math.exp(nll_all / n_all),
        "perplexity/planning": math.exp(nll_plan / n_plan),
        "perplexity/execution": math.exp(nll_exec / n_exec),
        "fork_overlap/planning_in_top_entropy": top_planning / n_plan,
        "fork_overlap/top_entropy_is_planning": top_planning / top,
        "strategy/matches_per_response": matches_total / len(texts),
        "strategy/semantic_entropy": entropy(gram_counts),
        "strategy/semantic_entropy_clustered": entropy(class_counts),
        "strategy/conditional_procedural_entropy": procedural,
    }


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        data = json.load(f)
    warmup, runs = int(sys.argv[2]), int(sys.argv[3])
    for _ in range(warmup):
        compute(data)
    times = []
    metrics = None
    for _ in range(runs):
        t0 = time.perf_counter()
        metrics = compute(data)
        times.append((time.perf_counter() - t0) * 1000)
    json.dump({"times": times, "metrics": metrics}, sys.stdout)


if __name__ == "__main__":
    main()
