"""PyTorch peer of the GRPO + HICRA credit pipeline benchmark (bench/src/advantage-pipeline.ts).

Reads the inputs the TypeScript side wrote (raw little-endian arrays), computes
  1. verl's compute_grpo_outcome_advantage as verl writes it (a Python loop over responses
     and groups), then HICRA's A + alpha*|A| on planning tokens;
  2. the same vectorised in torch (scatter_add over group indices),
times each (median of runs after warm-up, one thread) and writes the advantages for comparison.
"""
import json
import os
import sys
import time

import numpy as np
import torch

torch.set_num_threads(1)


def main():
    data = sys.argv[sys.argv.index("--data") + 1]
    runs = int(sys.argv[sys.argv.index("--runs") + 1])
    warmup = int(sys.argv[sys.argv.index("--warmup") + 1])
    meta = json.load(open(os.path.join(data, "meta.json")))
    B, T, alpha, eps = meta["B"], meta["T"], meta["alpha"], meta["epsilon"]
    index = torch.from_numpy(np.fromfile(os.path.join(data, "group_ids.bin"), dtype="<i4").astype(np.int64))
    rewards = torch.from_numpy(np.fromfile(os.path.join(data, "rewards.bin"), dtype="<f4"))
    mask = torch.from_numpy(np.fromfile(os.path.join(data, "response_mask.bin"), dtype="u1").reshape(B, T)).float()
    planning = torch.from_numpy(np.fromfile(os.path.join(data, "planning_mask.bin"), dtype="u1").reshape(B, T)).float()
    token_rewards = torch.zeros(B, T)
    lengths = mask.sum(-1).long()
    token_rewards[torch.arange(B), lengths - 1] = rewards

    def verl_reference():
        # verl's compute_grpo_outcome_advantage (norm_adv_by_std_in_grpo=True), then HICRA.
        scores = token_rewards.sum(dim=-1)
        id2score = {}
        id2mean = {}
        id2std = {}
        with torch.no_grad():
            bsz = scores.shape[0]
            for i in range(bsz):
                id2score.setdefault(int(index[i]), []).append(scores[i])
            for idx in id2score:
                if len(id2score[idx]) == 1:
                    id2mean[idx] = torch.tensor(0.0)
                    id2std[idx] = torch.tensor(1.0)
                else:
                    stacked = torch.stack(id2score[idx])
                    id2mean[idx] = torch.mean(stacked)
                    id2std[idx] = torch.std(stacked)
            for i in range(bsz):
                scores[i] = (scores[i] - id2mean[int(index[i])]) / (id2std[int(index[i])] + eps)
            advantages = scores.unsqueeze(-1) * mask
            advantages = advantages + alpha * advantages.abs() * planning
        return advantages

    def vectorised():
        with torch.no_grad():
            scores = token_rewards.sum(dim=-1)
            groups, inverse = torch.unique(index, return_inverse=True)
            g = groups.shape[0]
            count = torch.zeros(g).scatter_add_(0, inverse, torch.ones(B))
            total = torch.zeros(g).scatter_add_(0, inverse, scores)
            mean = total / count
            centred = scores - mean[inverse]
            var = torch.zeros(g).scatter_add_(0, inverse, centred * centred) / (count - 1).clamp(min=1)
            single = count[inverse] == 1
            mean_b = torch.where(single, torch.zeros(B), mean[inverse])
            std_b = torch.where(single, torch.ones(B), var.sqrt()[inverse])
            advantages = ((scores - mean_b) / (std_b + eps)).unsqueeze(-1) * mask
            return advantages + alpha * advantages.abs() * planning

    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "ops": {}}
    for name, fn in [("verl-loop", verl_reference), ("torch-vectorised", vectorised)]:
        for _ in range(warmup):
            fn()
        times = []
        result = None
        for _ in range(runs):
            start = time.perf_counter()
            result = fn()
            times.append((time.perf_counter() - start) * 1000)
        path = os.path.join(data, f"advantages-{name}.bin")
        result.numpy().astype("<f4").tofile(path)
        out["ops"][name] = {"times_ms": times, "median_ms": float(np.median(times)), "file": path}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
