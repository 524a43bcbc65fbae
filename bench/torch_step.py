#!/usr/bin/python3
"""PyTorch reference for bench/throughput.ts: the same BERT (HF layout: word/position/type embeddings,
post-LN encoder, erf GELU, tanh pooler, linear classifier), the same batch, AdamW, dropout 0.1.

One configuration per process, so the thread settings are the process's own from the start:

  OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/torch_step.py '{"layers":2,"hidden":128,"heads":2,"inter":512,
      "seq":96,"batch":32,"vocab":4000,"labels":10,"torch_threads":1,"warmup":3,"steps":10,
      "eval_warmup":3,"eval_batches":20}'

Debian's torch has no MKL: its matrix products run on the system OpenBLAS, whose thread pool is sized by
OPENBLAS_NUM_THREADS when the library loads (torch.set_num_threads does not change it). The caller sets that
variable before this process starts; torch.set_num_threads(torch_threads) sets ATen's own (OpenMP) threads.
Both are read back and checked: OpenBLAS's with threadpoolctl when it is importable, otherwise only torch's
(torch.__config__.parallel_info()), and the output says which.

OpenBLAS's kernels ("core") are chosen when it loads: by OPENBLAS_CORETYPE when the caller set it, else by OpenBLAS
from the CPU model. The output names the core OpenBLAS reports (threadpoolctl's "architecture") and what
OPENBLAS_CORETYPE was. With "flush_denormal": true the process calls torch.set_flush_denormal(True) (denormal
floats flushed to zero, as our kernels do) on the calling thread, before torch's OpenMP threads start (they inherit
it); OpenBLAS's own worker threads, started at import, keep IEEE denormals (at OPENBLAS_NUM_THREADS=1 every product
runs on the calling thread). The output says whether the call took.

Prints one JSON line: per-step wall and CPU seconds of the training step (forward, backward, AdamW) and of an
inference batch (eval mode, no_grad, argmax), the threads seen, an sgemm rate (torch.mm 1024^3) and peak RSS.
"""
import json
import math
import os
import resource
import statistics
import sys
import time


def blas_threads():
    """(threads, info, how) of the OpenBLAS torch runs on, read back from the loaded library."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None, None, "torch.__config__.parallel_info() (threadpoolctl not importable: OpenBLAS threads unverified)"
    pools = [p for p in threadpool_info() if p.get("internal_api") == "openblas"]
    if not pools:
        return None, None, "threadpoolctl (no OpenBLAS loaded)"
    p = pools[0]
    info = {k: p.get(k) for k in ("version", "architecture", "threading_layer", "filepath")}
    return p["num_threads"], info, "threadpoolctl"


def build(c):
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

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    B, T = c["batch"], c["seq"]
    ids = torch.randint(1, c["vocab"], (B, T), generator=g)
    lengths = torch.randint(T // 2, T + 1, (B,), generator=g)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).long()
    types = torch.zeros(B, T, dtype=torch.long)
    labels = torch.randint(0, c["labels"], (B,), generator=g)
    return Bert(c), (ids * mask, types, mask), labels, F


def timed(fn, warmup, n):
    """wall and CPU seconds (this process, all threads) of each of n calls after `warmup` untimed ones"""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def sgemm_gflops(torch):
    a = torch.rand(1024, 1024)
    b = torch.rand(1024, 1024)
    wall, _ = timed(lambda: torch.mm(a, b), 3, 10)
    return 2 * 1024**3 / statistics.median(wall) / 1e9


def main():
    c = json.loads(sys.argv[1])
    import torch

    torch.set_num_threads(int(c["torch_threads"]))
    # False where the CPU has no FTZ/DAZ; None when not asked for (torch's default: IEEE denormals)
    flushed = bool(torch.set_flush_denormal(True)) if c.get("flush_denormal") else None
    blas, blas_info, how = blas_threads()
    want = os.environ.get("OPENBLAS_NUM_THREADS")
    if blas is not None and want is not None and blas != int(want):
        sys.exit(f"torch_step.py: OPENBLAS_NUM_THREADS={want} but the loaded OpenBLAS runs {blas} threads")
    if torch.get_num_threads() != int(c["torch_threads"]):
        sys.exit(f"torch_step.py: torch.set_num_threads({c['torch_threads']}) left {torch.get_num_threads()} threads")

    model, inputs, labels, F = build(c)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01)
    state = {"loss": float("nan")}

    def train():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(*inputs), labels)
        loss.backward()
        opt.step()
        state["loss"] = float(loss)

    def infer():
        with torch.no_grad():
            model(*inputs).argmax(-1)

    model.train()
    train_wall, train_cpu = timed(train, c["warmup"], c["steps"])
    model.eval()
    eval_wall, eval_cpu = timed(infer, c["eval_warmup"], c["eval_batches"])
    print(json.dumps({
        "torch": torch.__version__,
        "threads": {
            "openblas_env": want,
            "openblas_seen": blas,
            "torch": torch.get_num_threads(),
            "verified_with": how,
        },
        "blas": blas_info,
        "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE"),
        "denormals_flushed": flushed,
        "parallel_info": torch.__config__.parallel_info(),
        "params": sum(p.numel() for p in model.parameters()),
        "train_s": train_wall,
        "train_cpu_s": train_cpu,
        "eval_s": eval_wall,
        "eval_cpu_s": eval_cpu,
        "loss": state["loss"],
        "sgemm_gflops": sgemm_gflops(torch),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }))


if __name__ == "__main__":
    main()
