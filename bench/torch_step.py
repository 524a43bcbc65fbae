#!/usr/bin/python3
"""PyTorch reference for bench/throughput.ts: the same BERT (HF layout: word/position/type embeddings,
post-LN encoder, erf GELU, tanh pooler, linear classifier), the same batch, AdamW, dropout 0.1.

Usage: /usr/bin/python3 bench/torch_step.py '{"layers":2,"hidden":128,"heads":2,"inter":512,"seq":96,
        "batch":32,"vocab":4000,"labels":10,"steps":8,"warmup":2,"threads":[1,2],"infer_batches":8}'
Prints one JSON line: per thread count, median train-step and inference-batch seconds.

With --serve (as throughput.ts runs it) it builds the model once and answers JSON commands on stdin, one
line each: {"cmd":"train","n":1,"threads":1} / {"cmd":"infer",...} -> {"times":[...]}; {"cmd":"quit"} ->
{"rss_mb":...}. The caller interleaves these with its own steps so both see the same machine load.
"""
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Layer(nn.Module):
    def __init__(self, h, heads, inter, p):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)
        self.attn_out = nn.Linear(h, h)
        self.ln1 = nn.LayerNorm(h, eps=1e-12)
        self.intermediate = nn.Linear(h, inter)
        self.output = nn.Linear(inter, h)
        self.ln2 = nn.LayerNorm(h, eps=1e-12)
        self.drop = nn.Dropout(p)

    def forward(self, x, mask_add):
        B, T, H = x.shape
        d = H // self.heads

        def split(t):
            return t.view(B, T, self.heads, d).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + mask_add
        probs = self.drop(F.softmax(scores, dim=-1))
        ctx = torch.matmul(probs, v).transpose(1, 2).reshape(B, T, H)
        x = self.ln1(x + self.drop(self.attn_out(ctx)))
        y = self.output(F.gelu(self.intermediate(x)))
        return self.ln2(x + self.drop(y))


class Bert(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden"]
        self.word = nn.Embedding(c["vocab"], h)
        self.pos = nn.Embedding(512, h)
        self.token_type = nn.Embedding(2, h)
        self.ln = nn.LayerNorm(h, eps=1e-12)
        self.drop = nn.Dropout(0.1)
        self.layers = nn.ModuleList([Layer(h, c["heads"], c["inter"], 0.1) for _ in range(c["layers"])])
        self.pooler = nn.Linear(h, h)
        self.classifier = nn.Linear(h, c["labels"])

    def forward(self, ids, types, mask):
        T = ids.shape[1]
        pos = torch.arange(T).unsqueeze(0)
        x = self.drop(self.ln(self.word(ids) + self.pos(pos) + self.token_type(types)))
        mask_add = (1.0 - mask[:, None, None, :].float()) * -10000.0
        for layer in self.layers:
            x = layer(x, mask_add)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        return self.classifier(self.drop(pooled))


def batch(c, g):
    B, T = c["batch"], c["seq"]
    ids = torch.randint(1, c["vocab"], (B, T), generator=g)
    lengths = torch.randint(T // 2, T + 1, (B,), generator=g)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).long()
    types = torch.zeros(B, T, dtype=torch.long)
    labels = torch.randint(0, c["labels"], (B,), generator=g)
    return ids * mask, types, mask, labels


def measure(c, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = Bert(c)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01)
    ids, types, mask, labels = batch(c, g)
    model.train()
    times = []
    for i in range(c["warmup"] + c["steps"]):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(ids, types, mask), labels)
        loss.backward()
        opt.step()
        if i >= c["warmup"]:
            times.append(time.perf_counter() - t0)
    model.eval()
    infer = []
    with torch.no_grad():
        for i in range(c["warmup"] + c["infer_batches"]):
            t0 = time.perf_counter()
            model(ids, types, mask).argmax(-1)
            if i >= c["warmup"]:
                infer.append(time.perf_counter() - t0)
    return {"threads": threads, "train_s": statistics.median(times), "train_all": times,
            "infer_s": statistics.median(infer), "loss": float(loss)}


class Runner:
    def __init__(self, c):
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(0)
        self.model = Bert(c)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=2e-5, weight_decay=0.01)
        self.ids, self.types, self.mask, self.labels = batch(c, g)
        self.loss = float("nan")

    def train(self, n):
        self.model.train()
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            self.opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(self.model(self.ids, self.types, self.mask), self.labels)
            loss.backward()
            self.opt.step()
            out.append(time.perf_counter() - t0)
            self.loss = float(loss)
        return out

    def infer(self, n):
        self.model.eval()
        out = []
        with torch.no_grad():
            for _ in range(n):
                t0 = time.perf_counter()
                self.model(self.ids, self.types, self.mask).argmax(-1)
                out.append(time.perf_counter() - t0)
        return out


def serve(c):
    r = Runner(c)
    print(json.dumps({"ready": True, "torch": torch.__version__}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            print(json.dumps({"rss_mb": peak_rss_mb()}), flush=True)
            return
        torch.set_num_threads(int(cmd.get("threads", 1)))
        times = r.train(int(cmd.get("n", 1))) if cmd["cmd"] == "train" else r.infer(int(cmd.get("n", 1)))
        print(json.dumps({"times": times, "loss": r.loss}), flush=True)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        c = json.loads(sys.argv[2])
        serve(c)
        return
    c = {"layers": 2, "hidden": 128, "heads": 2, "inter": 512, "seq": 96, "batch": 32, "vocab": 4000,
         "labels": 10, "steps": 8, "warmup": 2, "threads": [1, os.cpu_count() or 1], "infer_batches": 8}
    if len(sys.argv) > 1:
        c.update(json.loads(sys.argv[1]))
    runs = [measure(c, t) for t in sorted(set(c["threads"]))]
    best = min(runs, key=lambda r: r["train_s"])
    best_infer = min(runs, key=lambda r: r["infer_s"])
    print(json.dumps({"torch": torch.__version__, "runs": runs, "train_s": best["train_s"],
                      "train_threads": best["threads"], "infer_s": best_infer["infer_s"],
                      "infer_threads": best_infer["threads"],
                      "rss_mb": peak_rss_mb()}))


def peak_rss_mb():
    try:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    except Exception:  # noqa: BLE001 - best effort
        return None


if __name__ == "__main__":
    main()
