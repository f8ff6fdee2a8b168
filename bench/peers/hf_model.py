#!/usr/bin/python3
"""PyTorch peer of bench/src/hf-model.ts: a Qwen3 model folder in Hugging Face layout.

Reads the model folder the TypeScript side wrote (config.json + model.safetensors, F32) with its
own small safetensors parser (numpy only: Python's `safetensors` package is not installed), runs
its own port of transformers' Qwen3 forward pass in PyTorch on the CPU with one thread, and
prints one JSON object to stdout: versions, BLAS, peak RSS, and per group the timed runs in ms
and where its outputs are. Outputs are raw .bin files in <data>/torch/; progress goes to stderr.

Groups:
  forward  teacher-forced scoring: per-token log-probs and entropies of B responses of T tokens
           after their prompts (one pass over prompt + response, the head only on the T
           positions that predict response tokens), as @hicra/policy's `score`
  sample   greedy decoding with a KV cache: one prefill over the prompts, then one token per
           step; maxNewTokens tokens per prompt, no stop token, as `sample` with temperature 0.
           An untimed first pass also records the top-1 minus top-2 logit margin of every step

The port follows transformers' modeling_qwen3.py (eager attention), statement by statement:
RMSNorm x * rsqrt(mean(x^2) + eps) * w in float32; q/k/v projections without bias, split into
heads of config.head_dim; q_norm / k_norm (RMSNorm over each head) before RoPE; rotate-half
RoPE with inv_freq = 1 / theta^(2j / head_dim); scores q.k / sqrt(head_dim), causal mask,
softmax in float32; query head h reads kv head h // (heads / kv); o_proj; MLP
down(silu(gate(x)) * up(x)); final norm; lm_head tied to the embedding when
tie_word_embeddings. `--check-fixture DIR` checks the port against a golden fixture folder
(packages/policy/test/fixtures/hf/qwen3-qknorm: transformers' logits, log-probs, greedy tokens).
"""

import argparse
import json
import math
import os
import resource
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

# Versions, BLAS and the log format are shared with the tensor-ops peer in this folder.
from tensor_ops import log, peer_environment  # noqa: E402
from timing import timed  # noqa: E402


def peak_rss_mb():
    """Peak resident set size of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- safetensors -------------------------------------------------------------------------------


def read_safetensors(path):
    """Tensors of a safetensors file by name (F32 only), with strict layout checks."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (header_length,) = struct.unpack("<Q", data[:8])
    if 8 + header_length > len(data):
        raise ValueError(f"{path}: header length {header_length} runs past the end of the file")
    header = json.loads(data[8 : 8 + header_length].decode("utf-8"))
    base = 8 + header_length
    buffer_length = len(data) - base
    tensors = {}
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: {name} is {info['dtype']}; this reader handles F32 only")
        shape = [int(n) for n in info["shape"]]
        begin, end = (int(n) for n in info["data_offsets"])
        count = math.prod(shape)
        if not 0 <= begin <= end <= buffer_length or end - begin != 4 * count:
            raise ValueError(f"{path}: {name} has offsets [{begin}, {end}) for shape {shape}")
        spans.append((begin, end))
        array = np.frombuffer(data, dtype="<f4", count=count, offset=base + begin)
        tensors[name] = torch.from_numpy(array.reshape(shape).astype(np.float32, copy=True))
    spans.sort()
    position = 0
    for begin, end in spans:
        if begin != position:
            raise ValueError(f"{path}: the tensors do not tile the data buffer (gap at {position})")
        position = end
    if position != buffer_length:
        raise ValueError(f"{path}: {buffer_length - position} bytes after the last tensor")
    return tensors


# --- the model ---------------------------------------------------------------------------------


def rms_norm(x, weight, eps):
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Qwen3:
    """Qwen3ForCausalLM's inference forward pass over weights read from a model folder."""

    def __init__(self, folder):
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
            config = json.load(f)
        if config.get("model_type") != "qwen3":
            raise ValueError(f"{folder}: model_type {config.get('model_type')!r}, expected 'qwen3'")
        if config.get("rope_scaling") is not None:
            raise ValueError(f"{folder}: rope_scaling is not supported by this peer")
        self.config = config
        self.vocab = config["vocab_size"]
        self.hidden = config["hidden_size"]
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        self.kv_heads = config["num_key_value_heads"]
        self.head_dim = config.get("head_dim") or self.hidden // self.heads
        self.groups = self.heads // self.kv_heads
        self.eps = config["rms_norm_eps"]
        self.scaling = self.head_dim**-0.5
        weights = read_safetensors(os.path.join(folder, "model.safetensors"))
        self.weights = weights
        self.embed = weights["model.embed_tokens.weight"]
        if config.get("tie_word_embeddings", False):
            self.lm_head = self.embed
        else:
            self.lm_head = weights["lm_head.weight"]
        self.final_norm = weights["model.norm.weight"]
        self.blocks = []
        for i in range(self.layers):
            p = f"model.layers.{i}."
            self.blocks.append({k: weights[p + name] for k, name in BLOCK_TENSORS.items()})
        # transformers' default RoPE: float32 inverse frequencies, angle = position * inv_freq.
        exponents = torch.arange(0, self.head_dim, 2, dtype=torch.int64).float() / self.head_dim
        self.inv_freq = 1.0 / (config["rope_theta"] ** exponents)
        self.parameters = sum(t.numel() for t in weights.values())

    def rotary(self, start, length):
        positions = torch.arange(start, start + length, dtype=torch.float32)
        freqs = positions[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos()[None, None], emb.sin()[None, None]

    def attention(self, x, block, cos, sin, cache):
        batch, length, _ = x.shape
        q = F.linear(x, block["q"]).view(batch, length, self.heads, self.head_dim)
        k = F.linear(x, block["k"]).view(batch, length, self.kv_heads, self.head_dim)
        v = F.linear(x, block["v"]).view(batch, length, self.kv_heads, self.head_dim)
        q = rms_norm(q, block["q_norm"], self.eps).transpose(1, 2)
        k = rms_norm(k, block["k_norm"], self.eps).transpose(1, 2)
        v = v.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            if cache[0] is not None:
                k = torch.cat((cache[0], k), dim=2)
                v = torch.cat((cache[1], v), dim=2)
            cache[0], cache[1] = k, v
        total = k.shape[2]
        # GQA: query head h reads kv head h // groups (transformers' repeat_kv).
        k = k.repeat_interleave(self.groups, dim=1)
        v = v.repeat_interleave(self.groups, dim=1)
        scores = torch.matmul(q, k.transpose(2, 3)) * self.scaling
        if length > 1:
            # Causal: the new token at row r sees keys 0 .. past + r.
            allowed = torch.ones(length, total, dtype=torch.bool).tril(total - length)
            scores = scores.masked_fill(~allowed, float("-inf"))
        weights = torch.softmax(scores, dim=-1, dtype=torch.float32)
        attended = torch.matmul(weights, v).transpose(1, 2).reshape(batch, length, -1)
        return F.linear(attended, block["o"])

    def hidden_states(self, ids, start=0, caches=None):
        """Final-normed hidden states [B, L, hidden] of ids [B, L] at positions start.."""
        cos, sin = self.rotary(start, ids.shape[1])
        x = F.embedding(ids, self.embed)
        for i, block in enumerate(self.blocks):
            cache = None if caches is None else caches[i]
            x = x + self.attention(rms_norm(x, block["input_norm"], self.eps), block, cos, sin, cache)
            h = rms_norm(x, block["post_norm"], self.eps)
            x = x + F.linear(F.silu(F.linear(h, block["gate"])) * F.linear(h, block["up"]), block["down"])
        return rms_norm(x, self.final_norm, self.eps)

    def logits(self, hidden):
        return F.linear(hidden, self.lm_head)


BLOCK_TENSORS = {
    "input_norm": "input_layernorm.weight",
    "q": "self_attn.q_proj.weight",
    "k": "self_attn.k_proj.weight",
    "v": "self_attn.v_proj.weight",
    "o": "self_attn.o_proj.weight",
    "q_norm": "self_attn.q_norm.weight",
    "k_norm": "self_attn.k_norm.weight",
    "post_norm": "post_attention_layernorm.weight",
    "gate": "mlp.gate_proj.weight",
    "up": "mlp.up_proj.weight",
    "down": "mlp.down_proj.weight",
}


def score(model, prompts, responses):
    """Per-token log-probs and entropies [B, T] of responses [B, T] after prompts [B, S]."""
    prompt_length = prompts.shape[1]
    seq_len = responses.shape[1]
    # The last response token is never an input; position S - 1 + t predicts response token t.
    ids = torch.cat((prompts, responses[:, :-1]), dim=1)
    hidden = model.hidden_states(ids)[:, prompt_length - 1 : prompt_length - 1 + seq_len]
    logits = model.logits(hidden)
    log_softmax = torch.log_softmax(logits, dim=-1)
    log_probs = log_softmax.gather(-1, responses[..., None]).squeeze(-1)
    entropies = torch.logsumexp(logits, -1) - (torch.softmax(logits, -1) * logits).sum(-1)
    return log_probs, entropies


def greedy(model, prompts, new_tokens, margins=False):
    """Greedy continuation [B, new_tokens] with a KV cache, the log-prob of each token and, when
    asked, the top-1 minus top-2 logit margin of each step."""
    batch, prompt_length = prompts.shape
    caches = [[None, None] for _ in range(model.layers)]
    logits = model.logits(model.hidden_states(prompts, 0, caches)[:, -1])
    tokens = torch.empty(batch, new_tokens, dtype=torch.int64)
    log_probs = torch.empty(batch, new_tokens)
    gaps = torch.empty(batch, new_tokens) if margins else None
    for t in range(new_tokens):
        token = logits.argmax(-1)
        tokens[:, t] = token
        log_probs[:, t] = logits.gather(-1, token[:, None]).squeeze(-1) - torch.logsumexp(logits, -1)
        if margins:
            top = logits.topk(2, dim=-1).values
            gaps[:, t] = top[:, 0] - top[:, 1]
        if t == new_tokens - 1:
            break
        hidden = model.hidden_states(token[:, None], prompt_length + t, caches)
        logits = model.logits(hidden[:, -1])
    return tokens, log_probs, gaps


def pick_prompts(model, candidates, new_tokens, min_margin):
    """For each prompt slot, the first of its candidate prompts whose greedy continuation keeps a
    top-1 / top-2 logit margin >= min_margin at every step (else the one with the largest
    smallest margin), so that float32 rounding differences between two implementations cannot
    flip a greedy token. Candidates are tried in rounds, only for the slots still open."""
    count, slots = candidates.shape[0], candidates.shape[1]
    best = [(-1.0, 0)] * slots
    chosen = [None] * slots
    for k in range(count):
        open_slots = [s for s in range(slots) if chosen[s] is None]
        if not open_slots:
            break
        _, _, gaps = greedy(model, candidates[k, open_slots], new_tokens, margins=True)
        for row, slot in enumerate(open_slots):
            smallest = float(gaps[row].min())
            if smallest > best[slot][0]:
                best[slot] = (smallest, k)
            if smallest >= min_margin:
                chosen[slot] = k
    # When a slot found none, best holds its best candidate; when it did, the chosen one.
    indices = [best[s][1] for s in range(slots)]
    log(f"prompts: candidate {indices} per slot (smallest greedy margin >= {min_margin} wanted)")
    return {
        "indices": indices,
        "minMargin": min_margin,
        "allMet": all(c is not None for c in chosen),
        "slotMargins": [best[s][0] for s in range(slots)],
    }


# --- the benchmark -----------------------------------------------------------------------------


def load_ids(data, name, shape):
    return torch.from_numpy(np.fromfile(os.path.join(data, name), dtype="<i4").reshape(shape)).long()


def benchmark(args):
    meta = json.load(open(os.path.join(args.data, "meta.json"), encoding="utf-8"))
    groups = set(args.groups.split(","))
    out_dir = os.path.join(args.data, "torch")
    os.makedirs(out_dir, exist_ok=True)

    def save(name, tensor, dtype):
        array = tensor.detach().contiguous().numpy().astype(dtype)
        file = f"{name}.bin"
        array.tofile(os.path.join(out_dir, file))
        return {"file": f"torch/{file}", "dtype": str(array.dtype), "length": int(array.size)}

    start = time.perf_counter()
    model = Qwen3(meta["modelDir"])
    load_ms = (time.perf_counter() - start) * 1e3
    memory = {"afterLoadMb": peak_rss_mb()}
    log(f"loaded {model.parameters:,} parameters in {load_ms:.0f} ms")
    prompt_meta = meta["prompts"]
    candidates = load_ids(
        args.data,
        prompt_meta["candidatesFile"],
        (prompt_meta["candidates"], prompt_meta["count"], prompt_meta["length"]),
    )
    with torch.no_grad():
        choice = pick_prompts(model, candidates, meta["sample"]["maxNewTokens"], prompt_meta["minMargin"])
    prompts = candidates[choice["indices"], torch.arange(prompt_meta["count"])]
    ops = {}

    def record(name, fn):
        log(f"{name}: {args.warmup} warm-up + {args.runs} timed runs")
        result, times = timed(fn, args.runs, args.warmup)
        ops[name] = {"times_ms": times, "median_ms": statistics.median(times)}
        return result

    with torch.no_grad():
        if "forward" in groups:
            score_meta = meta["score"]
            responses = load_ids(args.data, score_meta["file"], (score_meta["batchSize"], score_meta["seqLen"]))
            log_probs, entropies = record("forward", lambda: score(model, prompts, responses))
            ops["forward"]["outputs"] = {
                "logProbs": save("forward_log_probs", log_probs, np.float32),
                "entropies": save("forward_entropies", entropies, np.float32),
            }
            memory["afterForwardMb"] = peak_rss_mb()
        if "sample" in groups:
            new_tokens = meta["sample"]["maxNewTokens"]
            # Untimed: the tokens once more with the top-1 / top-2 margin of every step.
            reference, _, gaps = greedy(model, prompts, new_tokens, margins=True)
            tokens, log_probs, _ = record("sample", lambda: greedy(model, prompts, new_tokens))
            if not torch.equal(tokens, reference):
                raise RuntimeError("greedy decoding is not deterministic here")
            ops["sample"]["outputs"] = {
                "tokenIds": save("sample_token_ids", tokens, np.int32),
                "logProbs": save("sample_log_probs", log_probs, np.float32),
            }
            ops["sample"]["margins"] = save("sample_margins", gaps, np.float32)
            smallest = int(gaps.argmin())
            ops["sample"]["minMargin"] = {
                "value": float(gaps.reshape(-1)[smallest]),
                "row": smallest // new_tokens,
                "step": smallest % new_tokens,
            }
            memory["afterSampleMb"] = peak_rss_mb()
    memory["peakRssMb"] = peak_rss_mb()
    return {
        **peer_environment(args),
        "parameters": model.parameters,
        "loadMs": load_ms,
        "memory": memory,
        "promptChoice": choice,
        "ops": ops,
    }


def check_fixture(folder):
    """Compares the port with a golden fixture folder's expected.json; returns an exit status."""
    model = Qwen3(folder)
    expected = json.load(open(os.path.join(folder, "expected.json"), encoding="utf-8"))
    tolerance = expected["tolerance"]
    failures = 0
    inv_freq = torch.tensor(expected["ropeInvFreq"], dtype=torch.float32)
    inv_diff = float(((model.inv_freq - inv_freq).abs() / inv_freq).max())
    print(f"inv_freq: max relative diff {inv_diff:.1e}")
    failures += inv_diff > 1e-6
    with torch.no_grad():
        for case in expected["cases"]:
            ids = torch.tensor([case["inputIds"]], dtype=torch.int64)
            logits = model.logits(model.hidden_states(ids))[0]
            logits_diff = float((logits - torch.tensor(case["logits"])).abs().max())
            lp = torch.log_softmax(logits, -1)[:-1].gather(-1, ids[0, 1:, None]).squeeze(-1)
            lp_diff = float((lp - torch.tensor(case["tokenLogprobs"])).abs().max()) if lp.numel() else 0.0
            tokens, _, _ = greedy(model, ids, len(case["greedyTokens"]))
            uncached = ids
            for _ in case["greedyTokens"]:
                nxt = model.logits(model.hidden_states(uncached))[:, -1].argmax(-1)
                uncached = torch.cat((uncached, nxt[:, None]), dim=1)
            same = tokens[0].tolist() == case["greedyTokens"]
            same_uncached = uncached[0, ids.shape[1] :].tolist() == case["greedyTokens"]
            ok = (
                logits_diff <= tolerance["logitsAtol"]
                and lp_diff <= tolerance["tokenLogprobsAtol"]
                and same
                and same_uncached
            )
            failures += not ok
            print(
                f"L = {ids.shape[1]:2d}: logits max |diff| {logits_diff:.1e}, log-probs {lp_diff:.1e}, "
                f"greedy tokens (KV cache) {'equal' if same else 'DIFFER'}, "
                f"(no cache) {'equal' if same_uncached else 'DIFFER'}: {'ok' if ok else 'FAIL'}"
            )
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="folder with meta.json and the inputs")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--groups", default="forward,sample")
    parser.add_argument("--check-fixture", metavar="DIR", help="check the port against a golden fixture folder")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    if args.check_fixture:
        sys.exit(check_fixture(args.check_fixture))
    if not args.data:
        parser.error("--data is required")
    print(json.dumps(benchmark(args)))


if __name__ == "__main__":
    main()
