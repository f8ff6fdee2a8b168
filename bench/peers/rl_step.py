#!/usr/bin/python3
"""PyTorch peer of bench/src/rl-step.ts: one full RL step on the policy benchmark's transformer.

Reads what the TypeScript side wrote to --data (meta.json, the local engine's initial weights as
its saveState checkpoint `initial/model.safetensors`, the prompts, each prompt's reward token, and
a fixed batch), and runs on the CPU with one thread:

1. the check, untimed, on the FIXED batch (the same tokens and planning mask as the TypeScript
   side): old log-probs and entropies of every position (no-grad forward), rewards, GRPO + HICRA
   advantages, one update (loss, gradient norm before clipping), and the log-probs after it.
   Its arrays go to <data>/torch/*.bin; the TypeScript side compares them with its own;
2. --warmup untimed, then --runs timed RL steps, each phase timed on its own:
   sample   KV-cache sampling of P prompts x G samples x maxNewTokens tokens at the temperature
            (softmax, torch.multinomial, the sampled token's log-prob) from the sampler's copy
   score    no-grad forward of prompt + response for the old log-probs and entropies
   credit   rewards (parity of the count of the prompt's reward token in the response), a random
            planning mask (`planningFraction` of the response tokens), GRPO (unbiased group std,
            + epsilon) and HICRA (A + alpha*|A| on planning tokens), vectorised
   update   verl's PPO loss with clip-higher (ratio clipped to [1 - low, 1 + high]), token-mean,
            backward, global-norm clipping, AdamW (no weight decay)
   refresh  the sampler's copy of the weights: load_state_dict from the trained model
The model is policy_step.Model (the same architecture as @hicra/policy's transformer). Prints one
JSON object to stdout; progress goes to stderr.
"""

import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from hf_model import read_safetensors
from policy_step import Model
from tensor_ops import log, peer_environment

torch.set_num_threads(1)


def load_engine_weights(model, path, layers):
    """Copies the local engine's checkpoint (parameter names, [in, out] matrices) into the model."""
    tensors = read_safetensors(path)
    names = {"embed.weight": ("embed.weight", False), "final_norm.weight": ("ln.weight", False)}
    names["final_norm.bias"] = ("ln.bias", False)
    names["lm_head.weight"] = ("head.weight", True)
    for layer in range(layers):
        ours, theirs = f"layers.{layer}", f"blocks.{layer}"
        for a, b in [("attn_norm", "ln1"), ("mlp_norm", "ln2")]:
            names[f"{ours}.{a}.weight"] = (f"{theirs}.{b}.weight", False)
            names[f"{ours}.{a}.bias"] = (f"{theirs}.{b}.bias", False)
        for a, b in [("attn.qkv", "qkv"), ("attn.out", "out"), ("mlp.up", "up"), ("mlp.down", "down")]:
            names[f"{ours}.{a}.weight"] = (f"{theirs}.{b}.weight", True)
    if set(tensors) != set(names):
        raise ValueError(f"{path}: tensors {sorted(tensors)} do not match the model's {sorted(names)}")
    state = {}
    for name, (target, transpose) in names.items():
        value = torch.from_numpy(np.array(tensors[name], dtype=np.float32))
        state[target] = value.t().contiguous() if transpose else value
    model.load_state_dict(state, strict=True)


def token_statistics(logits, targets):
    """Log-probs of the targets and entropies (logsumexp - sum softmax*logits, verl's)."""
    log_probs = logits.log_softmax(-1)
    chosen = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    entropies = torch.logsumexp(logits, -1) - (logits.softmax(-1) * logits).sum(-1)
    return chosen, entropies


class Step:
    """One RL step's phases on a model, its sampler copy and its optimizer."""

    def __init__(self, meta, weights):
        self.meta = meta
        m = meta["model"]
        self.model = Model(m["vocabSize"], m["width"], m["layers"], m["heads"])
        load_engine_weights(self.model, weights, m["layers"])
        self.sampler = Model(m["vocabSize"], m["width"], m["layers"], m["heads"])
        self.sampler.load_state_dict(self.model.state_dict())
        adam = meta["adam"]
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(),
            lr=adam["learningRate"],
            betas=(adam["beta1"], adam["beta2"]),
            eps=adam["eps"],
            weight_decay=0.0,
        )
        w = meta["workload"]
        self.P, self.G, self.S, self.T = w["prompts"], w["samplesPerPrompt"], w["promptLength"], w["newTokens"]
        self.B = self.P * self.G
        self.prompt_index = torch.arange(self.B) // self.G

    def sample(self, prompts, generator):
        """KV-cache sampling; the tokens [B, T] and their log-probs at the temperature."""
        temperature = self.meta["workload"]["temperature"]
        with torch.no_grad():
            caches = [[None, None] for _ in self.sampler.blocks]
            rows = prompts[self.prompt_index]
            logits = self.sampler(rows, 0, caches)[:, -1]
            tokens = torch.empty(self.B, self.T, dtype=torch.long)
            log_probs = torch.empty(self.B, self.T)
            for t in range(self.T):
                scaled = logits / temperature
                nxt = torch.multinomial(scaled.softmax(-1), 1, generator=generator)
                tokens[:, t] = nxt[:, 0]
                log_probs[:, t] = scaled.log_softmax(-1).gather(-1, nxt)[:, 0]
                if t < self.T - 1:
                    logits = self.sampler(nxt, self.S + t, caches)[:, -1]
        return tokens, log_probs

    def score(self, sequences):
        """Old log-probs and entropies of every position of prompt + response [B, S + T - 1]."""
        with torch.no_grad():
            logits = self.model(sequences[:, :-1])
            return token_statistics(logits, sequences[:, 1:])

    def credit(self, tokens, targets, planning):
        """Rewards (count parity of the prompt's reward token), GRPO + HICRA advantages [B, T]."""
        c = self.meta["credit"]
        rewards = ((tokens == targets[self.prompt_index][:, None]).sum(-1) % 2).float()
        grouped = rewards.view(self.P, self.G)
        mean = grouped.mean(-1, keepdim=True)
        std = grouped.std(-1, keepdim=True)  # unbiased, as verl's torch.std
        scores = ((grouped - mean) / (std + c["epsilon"])).reshape(self.B)
        advantages = scores[:, None].expand(self.B, self.T)
        return rewards, advantages + c["alpha"] * advantages.abs() * planning

    def update(self, sequences, old_log_probs, advantages):
        """PPO clip-higher, token-mean; backward; clipping; AdamW. Loss, grad norm, split times."""
        loss_settings, adam = self.meta["loss"], self.meta["adam"]
        start = time.perf_counter()
        self.optimizer.zero_grad()
        logits = self.model(sequences[:, :-1])
        log_probs, _ = token_statistics(logits[:, self.S - 1 :], sequences[:, self.S :])
        ratio = torch.exp(torch.clamp(log_probs - old_log_probs, -20.0, 20.0))
        clipped = torch.clamp(ratio, 1 - loss_settings["clipRatioLow"], 1 + loss_settings["clipRatioHigh"])
        per_token = torch.maximum(-advantages * ratio, -advantages * clipped)
        # Every response token is valid (no stop token): token-mean is a mean over B x T.
        loss = (per_token / per_token.numel()).sum()
        loss.backward()
        middle = time.perf_counter()
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), adam["gradClipNorm"])
        self.optimizer.step()
        end = time.perf_counter()
        return loss.item(), norm.item(), (middle - start) * 1e3, (end - middle) * 1e3

    def refresh(self):
        self.sampler.load_state_dict(self.model.state_dict())


def load(data, name, dtype, shape):
    return torch.from_numpy(np.fromfile(os.path.join(data, name), dtype=dtype).reshape(shape))


def save(out_dir, name, tensor):
    path = os.path.join(out_dir, name)
    tensor.detach().numpy().astype("<f4").tofile(path)
    return {"file": os.path.join("torch", name), "dtype": "float32", "length": tensor.numel()}


def check(meta, data, weights, out_dir):
    """The fixed batch, untimed: every array the TypeScript side compares."""
    step = Step(meta, weights)
    B, S, T = step.B, step.S, step.T
    sequences = load(data, "fixed_tokens.bin", "<i4", (B, S + T)).long()
    planning = load(data, "fixed_planning.bin", "u1", (B, T)).float()
    targets = load(data, "targets.bin", "<i4", (step.P,)).long()
    old, entropies = step.score(sequences)
    rewards, advantages = step.credit(sequences[:, S:], targets, planning)
    loss, norm, _, _ = step.update(sequences, old[:, S - 1 :], advantages)
    new, _ = step.score(sequences)
    return {
        "loss": loss,
        "gradNorm": norm,
        "outputs": {
            "oldLogProbs": save(out_dir, "fixed_old_log_probs.bin", old),
            "entropies": save(out_dir, "fixed_entropies.bin", entropies),
            "rewards": save(out_dir, "fixed_rewards.bin", rewards),
            "advantages": save(out_dir, "fixed_advantages.bin", advantages),
            "newLogProbs": save(out_dir, "fixed_new_log_probs.bin", new),
        },
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--groups", default="", help="ignored (the common peer command line)")
    args = parser.parse_args()
    meta = json.load(open(os.path.join(args.data, "meta.json")))
    weights = os.path.join(args.data, meta["weights"])
    out_dir = os.path.join(args.data, "torch")
    os.makedirs(out_dir, exist_ok=True)

    log("checking the fixed batch")
    fixed = check(meta, args.data, weights, out_dir)

    step = Step(meta, weights)
    P, S = step.P, step.S
    prompts = load(args.data, "prompts.bin", "<i4", (P, S)).long()
    targets = load(args.data, "targets.bin", "<i4", (P,)).long()
    generator = torch.Generator().manual_seed(meta["seeds"]["sampling"])
    fraction = meta["credit"]["planningFraction"]
    runs = []
    log(f"{args.warmup} warm-up + {args.runs} timed RL steps")
    for i in range(args.warmup + args.runs):
        marks = [time.perf_counter()]
        tokens, _ = step.sample(prompts, generator)
        marks.append(time.perf_counter())
        sequences = torch.cat([prompts[step.prompt_index], tokens], 1)
        old, _ = step.score(sequences)
        old = old[:, S - 1 :]
        marks.append(time.perf_counter())
        planning = (torch.rand(step.B, step.T, generator=generator) < fraction).float()
        rewards, advantages = step.credit(tokens, targets, planning)
        marks.append(time.perf_counter())
        loss, norm, backward_ms, optim_ms = step.update(sequences, old, advantages)
        marks.append(time.perf_counter())
        step.refresh()
        marks.append(time.perf_counter())
        phases = [(b - a) * 1e3 for a, b in zip(marks, marks[1:])]
        runs.append(
            {
                "warmup": i < args.warmup,
                "phasesMs": dict(zip(["sample", "score", "credit", "update", "refresh"], phases)),
                "totalMs": (marks[-1] - marks[0]) * 1e3,
                "updateSplitMs": {"forwardBackward": backward_ms, "optimStep": optim_ms},
                "loss": loss,
                "gradNorm": norm,
                "rewardMean": rewards.mean().item(),
            }
        )
    report = {
        **peer_environment(args),
        "ops": {},
        "fixed": fixed,
        "steps": runs,
        "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
