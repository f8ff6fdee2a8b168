#!/usr/bin/python3
"""PyTorch peer of bench/src/tensor-ops.ts.

Reads the inputs that the TypeScript side wrote (raw little-endian .bin files plus meta.json in
--data), runs the same computations in PyTorch on the CPU with one thread, and prints one JSON
object to stdout: versions, BLAS, and per op the timed runs in ms and where its outputs are.
Outputs are written as raw .bin files to <data>/torch/ so the TypeScript side can compare them
with its own (max |diff|). Progress goes to stderr.

Method (the same as the TypeScript side): every op runs --warmup times, then --runs timed
times; the reported number is the median. PyTorch on the CPU is eager and synchronous, so the
timed call has finished its work when it returns; scalar results are read with .item().
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys

import numpy as np
import torch

from timing import timed


def log(message):
    print(f"[torch] {message}", file=sys.stderr, flush=True)


def load(data, name, dtype, shape=None):
    array = np.fromfile(os.path.join(data, name), dtype=dtype)
    if shape is not None:
        array = array.reshape(shape)
    return torch.from_numpy(array)


def blas_libraries():
    """The BLAS/LAPACK shared libraries mapped into this process (after a matmul)."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    found = []
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                name = os.path.basename(path).lower()
                if ("blas" in name or "lapack" in name or "mkl" in name) and path not in found:
                    found.append(path)
    except OSError:
        pass
    return [os.path.realpath(p) for p in found]


def peer_environment(args):
    """What every peer reports about itself: interpreter, torch, threads, BLAS, runs."""
    return {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "torch": torch.__version__,
        "debianPackages": debian_packages(),
        "numpy": np.__version__,
        "threads": torch.get_num_threads(),
        "config": config_blas_info(),
        "blasLibraries": blas_libraries(),
        "runs": args.runs,
        "warmup": args.warmup,
    }


def config_blas_info():
    text = torch.__config__.show()
    info = re.search(r"BLAS_INFO=([^,\s]+)", text)
    return {
        "first_lines": [line.strip() for line in text.splitlines()[:4]],
        "blas_info": f"BLAS_INFO={info.group(1)}" if info else None,
    }


def debian_packages():
    """Versions of the Debian packages the peer comes from (None when not installed)."""
    versions = {}
    for package in ("python3-torch", "libopenblas0-pthread", "python3-numpy"):
        try:
            result = subprocess.run(
                ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True
            )
            versions[package] = result.stdout.strip() if result.returncode == 0 else None
        except OSError:
            versions[package] = None
    return versions


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="folder with meta.json and the inputs")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--groups", default="masked,logits")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    meta = json.load(open(os.path.join(args.data, "meta.json"), encoding="utf-8"))
    groups = set(args.groups.split(","))
    out_dir = os.path.join(args.data, "torch")
    os.makedirs(out_dir, exist_ok=True)
    ops = {}

    def save(name, tensor):
        """Writes an output array; returns its descriptor for the JSON report."""
        array = tensor.detach().contiguous().numpy()
        file = f"{name}.bin"
        array.tofile(os.path.join(out_dir, file))
        return {"file": f"torch/{file}", "dtype": str(array.dtype), "length": int(array.size)}

    def record(name, fn, outputs):
        log(f"{name}: {args.warmup} warm-up + {args.runs} timed runs")
        result, times = timed(fn, args.runs, args.warmup)
        ops[name] = {
            "times_ms": times,
            "median_ms": statistics.median(times),
            "outputs": outputs(result),
        }

    def scalars(keys):
        return lambda values: {k: {"value": float(v)} for k, v in zip(keys, values)}

    if "masked" in groups:
        b, t = meta["B"], meta["T"]
        log_probs = load(args.data, "log_probs.bin", np.float32, (b, t))
        old_log_probs = load(args.data, "old_log_probs.bin", np.float32, (b, t))
        ref_log_probs = load(args.data, "ref_log_probs.bin", np.float32, (b, t))
        advantages = load(args.data, "advantages.bin", np.float32, (b, t))
        per_token_loss = load(args.data, "per_token_loss.bin", np.float32, (b, t))
        mask = load(args.data, "response_mask.bin", np.float32, (b, t))
        values = load(args.data, "values.bin", np.float32)
        entropies = load(args.data, "entropies.bin", np.float32)
        rewards = load(args.data, "rewards.bin", np.float32)
        group_ids = load(args.data, "group_ids.bin", np.int32).long()
        flat_mask = mask.reshape(-1)
        flat_mask_bool = flat_mask > 0
        pl = meta["policyLoss"]

        def masked_mean(v, m):
            return (v * m).sum() / torch.clamp(m.sum(), min=1)

        def aggregate(loss, m, mode):
            masked = loss * m
            if mode == "token-mean":
                return masked.sum() / torch.clamp(m.sum(), min=1)
            if mode == "seq-mean-token-sum-norm":
                return masked.sum() / t
            per_sequence = masked.sum(1)
            counts = m.sum(1)
            if mode == "seq-mean-token-mean":
                per_sequence = per_sequence / torch.clamp(counts, min=1)
            present = (counts > 0).float()
            return (per_sequence * present).sum() / torch.clamp(present.sum(), min=1)

        def policy_loss():
            # verl's compute_policy_loss_vanilla (clip-higher, dual clip), token-mean.
            log_ratio = torch.clamp(log_probs - old_log_probs, -20, 20)
            ratio = torch.exp(log_ratio)
            neg_a = -advantages
            unclipped = neg_a * ratio
            clipped = neg_a * torch.clamp(ratio, 1 - pl["clipRatioLow"], 1 + pl["clipRatioHigh"])
            clip_loss = torch.maximum(unclipped, clipped)
            cap = neg_a * pl["clipRatioC"]
            negative = advantages < 0
            per_token = torch.where(negative, torch.minimum(cap, clip_loss), clip_loss)
            loss = aggregate(per_token, mask, "token-mean")
            clip_fraction = masked_mean((clipped > unclipped).float(), mask)
            clip_fraction_lower = masked_mean(((clip_loss > cap) & negative).float(), mask)
            approx_kl = masked_mean(-log_ratio, mask)
            return [x.item() for x in (loss, clip_fraction, clip_fraction_lower, approx_kl)]

        record(
            "policyLoss",
            policy_loss,
            scalars(["loss", "clipFraction", "clipFractionLower", "approxKl"]),
        )
        for mode in meta["aggregationModes"]:
            record(
                f"aggregateLoss:{mode}",
                lambda mode=mode: aggregate(per_token_loss, mask, mode).item(),
                lambda v: {"loss": {"value": float(v)}},
            )

        def kl_k3():
            kl = torch.clamp(ref_log_probs - log_probs, -20, 20)
            return torch.clamp(torch.exp(kl) - kl - 1, -10, 10)

        record("klPenalty:k3", kl_k3, lambda v: {"kl": save("klPenalty_k3", v)})

        def masked_whiten():
            # verl's masked_whiten (unbiased masked variance), zero outside the mask.
            count = flat_mask.sum()
            mean = (values * flat_mask).sum() / count
            centered = values - mean
            variance = (centered * centered * flat_mask).sum() / (count - 1)
            return centered * torch.rsqrt(variance + 1e-8) * flat_mask

        record("maskedWhiten", masked_whiten, lambda v: {"whitened": save("maskedWhiten", v)})

        rewards64 = rewards.double()

        def segment_mean_std():
            unique, inverse = torch.unique(group_ids, return_inverse=True)
            counts = torch.bincount(inverse, minlength=unique.numel()).double()
            sums = torch.zeros(unique.numel(), dtype=torch.float64).index_add_(0, inverse, rewards64)
            means = sums / counts
            deviation = rewards64 - means[inverse]
            squares = torch.zeros_like(sums).index_add_(0, inverse, deviation * deviation)
            stds = torch.sqrt(squares / (counts - 1))
            single = counts[inverse] == 1
            mean = torch.where(single, torch.zeros_like(rewards64), means[inverse])
            std = torch.where(single, torch.ones_like(rewards64), stds[inverse])
            return mean, std

        record(
            "segmentMeanStd",
            segment_mean_std,
            lambda v: {"mean": save("segment_mean", v[0]), "std": save("segment_std", v[1])},
        )

        q = meta["topQ"]["q"]

        def top_q_mask():
            threshold = torch.quantile(entropies[flat_mask_bool], 1 - q)
            return flat_mask_bool & (entropies >= threshold)

        record("topQMask", top_q_mask, lambda v: {"mask": save("topQMask", v.to(torch.uint8))})

    if "logits" in groups:
        n, v = meta["N"], meta["V"]
        logits = load(args.data, "logits.bin", np.float32, (n, v))
        labels = load(args.data, "labels.bin", np.int32).long()

        def log_probs_and_entropy(x):
            log_probs = torch.log_softmax(x, -1).gather(1, labels[:, None]).squeeze(1)
            entropy = torch.logsumexp(x, -1) - (torch.softmax(x, -1) * x).sum(-1)
            return log_probs, entropy

        def forward():
            with torch.no_grad():
                return log_probs_and_entropy(logits)

        record(
            "tokenLogProbsAndEntropy:forward",
            forward,
            lambda r: {"logProbs": save("tlpe_log_probs", r[0]), "entropies": save("tlpe_entropies", r[1])},
        )

        def forward_backward():
            x = logits.detach().requires_grad_(True)
            log_probs, entropy = log_probs_and_entropy(x)
            (log_probs.sum() + entropy.sum()).backward()
            return x.grad

        record(
            "tokenLogProbsAndEntropy:forward+backward",
            forward_backward,
            lambda g: {"gradient": save("tlpe_gradient", g)},
        )

    print(
        json.dumps(
            {
                **peer_environment(args),
                "ops": ops,
            }
        )
    )


if __name__ == "__main__":
    main()
