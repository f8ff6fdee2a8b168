"""PyTorch peer of the policy benchmark (bench/src/policy-step.ts): the same decoder-only
architecture as @hicra/policy (pre-LayerNorm, rotary embeddings with the rotate-half rule,
multi-head causal attention, tanh-GELU MLP of 4x width, untied head, no biases in linear
layers), one thread (or the "threads" of its arguments, to match a multi-threaded backend). Times a training step (forward, cross-entropy, backward, Adam) and KV-cache
sampling (32 sequences x 64 new tokens), median of runs after warm-up, and reports peak RSS."""
import json
import math
import resource
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)


class Block(torch.nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = torch.nn.LayerNorm(d)
        self.qkv = torch.nn.Linear(d, 3 * d, bias=False)
        self.out = torch.nn.Linear(d, d, bias=False)
        self.ln2 = torch.nn.LayerNorm(d)
        self.up = torch.nn.Linear(d, 4 * d, bias=False)
        self.down = torch.nn.Linear(4 * d, d, bias=False)

    def forward(self, x, cos, sin, cache=None):
        b, l, d = x.shape
        h = self.heads
        q, k, v = self.qkv(self.ln1(x)).view(b, l, 3, h, d // h).permute(2, 0, 3, 1, 4)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        if cache is not None:
            if cache[0] is not None:
                k = torch.cat([cache[0], k], 2)
                v = torch.cat([cache[1], v], 2)
            cache[0], cache[1] = k, v
        total = k.shape[2]
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // h)
        mask = torch.ones(l, total, dtype=torch.bool).tril(total - l)
        scores = scores.masked_fill(~mask, float("-inf"))
        attended = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, l, d)
        x = x + self.out(attended)
        return x + self.down(F.gelu(self.up(self.ln2(x)), approximate="tanh"))


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * cos - b * sin, b * cos + a * sin], -1)


class Model(torch.nn.Module):
    def __init__(self, vocab, d, layers, heads):
        super().__init__()
        self.heads = heads
        self.embed = torch.nn.Embedding(vocab, d)
        self.blocks = torch.nn.ModuleList([Block(d, heads) for _ in range(layers)])
        self.ln = torch.nn.LayerNorm(d)
        self.head = torch.nn.Linear(d, vocab, bias=False)
        half = d // heads // 2
        self.inv = 10000 ** (-torch.arange(half) * 2 / (d // heads))

    def rotary(self, positions):
        angles = positions[:, None].float() * self.inv[None, :]
        return angles.cos()[None, None], angles.sin()[None, None]

    def forward(self, ids, start=0, caches=None):
        cos, sin = self.rotary(torch.arange(start, start + ids.shape[1]))
        x = self.embed(ids)
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, None if caches is None else caches[i])
        return self.head(self.ln(x))


def timed(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[len(times) // 2], times


def main():
    args = json.loads(sys.argv[1])
    torch.set_num_threads(int(args.get("threads", 1)))
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cases": {}}
    for case in args["cases"]:
        vocab, batch, seq = case["vocab"], case["batch"], case["seq"]
        model = Model(vocab, case["width"], case["layers"], case["heads"])
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        ids = torch.randint(0, vocab, (batch, seq + 1))

        def step():
            optimizer.zero_grad()
            logits = model(ids[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, vocab), ids[:, 1:].reshape(-1))
            loss.backward()
            optimizer.step()

        train_ms, train_times = timed(step, case["runs"], case["warmup"])
        result = {"train_step_ms": train_ms, "train_times_ms": train_times}
        if case.get("sample"):
            def sample():
                with torch.no_grad():
                    caches = [[None, None] for _ in model.blocks]
                    tokens = torch.randint(0, vocab, (case["sample_sequences"], 1))
                    logits = model(tokens, 0, caches)
                    for t in range(case["sample_tokens"]):
                        probs = logits[:, -1].softmax(-1)
                        nxt = torch.multinomial(probs, 1)
                        logits = model(nxt, t + 1, caches)

            sample_ms, sample_times = timed(sample, case["runs"], case["warmup"])
            result.update({"sample_ms": sample_ms, "sample_times_ms": sample_times})
        out["cases"][case["name"]] = result
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
