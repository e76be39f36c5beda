"""PyTorch reference for bench/gemm.ts, bench/elementwise.ts, bench/gated-fc.ts, bench/poso-mha.ts and bench/mmoe.ts on the same shapes.

Run on a GPU machine beside `GATEWISE_BACKEND=cuda npm run bench` (PyTorch is the eager
baseline to beat; add --compile for torch.compile). Prints the same columns as bench/.
    python3 bench/torch_reference.py [--compile] [--cpu] [--only gemm,mmoe] [--min-ms 100] [--json out.jsonl]
--json appends one JSON object per case as it finishes (so a run cut short keeps what it
measured), named as bench/ names it: {bench, case, config, medianMs, rate, unit}, the case
with this script's variant name (torch, naive, mixed, loop, bmm, …) where bench/ has its own
(native/scripts/gpu-report.js matches the two by bench, case without the variant, and config).
"""
import argparse
import json
import time
import traceback

import torch

MIN_MS = 300.0
JSON_OUT = None


def emit(line, bench, case, config, ms, rate, unit):
    """Prints a result line and, with --json, appends it as a record."""
    print(line, flush=True)
    if JSON_OUT:
        JSON_OUT.write(json.dumps({"bench": bench, "case": case, "config": config, "medianMs": ms, "rate": rate, "unit": unit}) + "\n")
        JSON_OUT.flush()


def timed(fn, sync, min_ms=None, max_reps=200):
    min_ms = MIN_MS if min_ms is None else min_ms
    fn()
    sync()
    samples = []
    while (sum(samples) < min_ms or len(samples) < 3) and len(samples) < max_reps:
        t0 = time.perf_counter()
        fn()
        sync()
        samples.append((time.perf_counter() - t0) * 1e3)
    samples.sort()
    return samples[len(samples) // 2]


# bench/gated-fc.ts: (B, in, out, act, placement), scale 1; the same rate columns (GFLOP/s of
# the GEMMs: 2·B·in·out forward, 3× that forward + backward; epilogue GB/s as counted there).
GATED_FC_CASES = [
    (16384, 64, 64, "relu", "lazy"),
    (16384, 256, 256, "sigmoid", "lazy"),
    (4096, 256, 256, "relu", "lazy"),
    (4096, 512, 512, "gelu", "lazy"),
    (1024, 1024, 1024, "relu", "lazy"),
    (16384, 64, 64, "relu", "eager"),
    (4096, 256, 256, "sigmoid", "eager"),
]


def gated_fc_epilogue_bytes(b, i, o, placement, backward):
    if placement == "lazy":
        return (32 if backward else 8) * b * o
    return 32 * b * i + 20 * b * o if backward else 12 * b * i + 4 * b * o


def gated_fc(dev, sync, wrap):
    """The gated FC layer: lazy y = C·gate ⊙ act(x·Wᵀ + b); eager y = act((C·gate ⊙ x)·Wᵀ + b)."""
    F = torch.nn.functional
    acts = {"identity": lambda z: z, "relu": torch.relu, "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
            "sigmoid": torch.sigmoid, "tanh": torch.tanh, "gelu": F.gelu}
    scale = 1.0
    for b, i, o, act_name, placement in GATED_FC_CASES:
        act = acts[act_name]
        if placement == "lazy":
            layer = wrap(lambda x, g, w, bias, act=act: scale * g * act(F.linear(x, w, bias)))
        else:
            layer = wrap(lambda x, g, w, bias, act=act: act(F.linear(scale * g * x, w, bias)))
        x = (torch.rand(b, i, device=dev) * 2 - 1).requires_grad_()
        g = (torch.rand(b, o if placement == "lazy" else i, device=dev) * 2).requires_grad_()
        w = ((torch.rand(o, i, device=dev) * 2 - 1) / i ** 0.5).requires_grad_()
        bias = ((torch.rand(o, device=dev) * 2 - 1) * 0.1).requires_grad_()
        dy = torch.rand(b, o, device=dev) * 2 - 1

        def fwd():
            with torch.no_grad():
                layer(x, g, w, bias)

        def fwd_bwd():
            layer(x, g, w, bias).backward(dy)
            for t in (x, g, w, bias):
                t.grad = None

        for backward, fn in ((False, fwd), (True, fwd_bwd)):
            ms = timed(fn, sync)
            flops = (6 if backward else 2) * b * i * o
            epi = gated_fc_epilogue_bytes(b, i, o, placement, backward) / (ms * 1e6)
            stage = 'fwd+bwd' if backward else 'fwd'
            label = f"gated-fc     {placement} {act_name} {stage} B={b} in={i} out={o}"
            emit(label.ljust(56) + f" {ms:9.3f} ms {flops / (ms * 1e6):9.1f} GFLOP/s · epilogue {epi:.1f} GB/s",
                 "gated-fc", f"{placement} {act_name} torch {stage}", {"B": b, "in": i, "out": o}, ms, flops / (ms * 1e6), "GFLOP/s")


# bench/poso-mha.ts: (B, L, D, heads), target attention (Lq = 1), N = 4 value folds, gates
# (B, D) and (B, N), lengths in [L/2, L]; the same rate columns (GB/s and GFLOP/s of the fused
# op's traffic and work over the K = Σ lengths valid keys, as counted there).
POSO_MHA_FOLDS = 4
POSO_MHA_CPU_CASES = [
    (1024, 50, 64, 4),
    (1024, 200, 64, 1),
    (1024, 200, 64, 4),
    (1024, 200, 64, 8),
    (1024, 1000, 64, 4),
    (8192, 50, 64, 4),
]
POSO_MHA_CUDA_CASES = [
    (1024, 200, 64, 4),
    (8192, 50, 64, 4),
    (8192, 200, 64, 4),
    (8192, 500, 64, 4),
    (4096, 1000, 64, 4),
    (8192, 200, 128, 8),
    (1024, 1000, 128, 8),
    (1024, 200, 256, 1),
    (1024, 1000, 256, 4),
]


def poso_mha_bytes(b, l, d, h, n, k, backward):
    inputs = 2 * b * d + b * n + b + k * d + k * n * d
    fwd = inputs + b * d
    if not backward:
        return 4 * fwd
    bwd = inputs + 2 * b * d + h * b + 2 * b * d + b * n + b * l * d + b * l * n * d
    return 4 * (fwd + h * b + bwd)


def poso_mha_flops(d, n, k, backward):
    attention, mixing = 4 * k * d, 2 * k * n * d
    return 3.5 * attention + 3 * mixing if backward else attention + mixing


def poso_mha(dev, sync, wrap, cases):
    """POSO attention, out = Σ_i g_i · softmax(q·(g_k ⊙ K)ᵀ/√dh over the valid keys) · V⁽ⁱ⁾, two ways:
    naive: N scaled_dot_product_attention calls (one per value fold, on the gated K), summed with the
    fold gates; mixed: the folds mixed first (einsum), then one call. The same function of the inputs."""
    F = torch.nn.functional
    n = POSO_MHA_FOLDS

    def heads_first(x, h):  # (B, T, H·dh) → (B, H, T, dh)
        b, t, d = x.shape
        return x.view(b, t, h, d // h).transpose(1, 2)

    def naive(q, k, v, gk, gv, mask, h):
        b, d = q.shape
        qh, kh = heads_first(q[:, None], h), heads_first(k * gk[:, None], h)
        folds = v.view(b, -1, n, d)
        out = 0
        for i in range(n):
            o = F.scaled_dot_product_attention(qh, kh, heads_first(folds[:, :, i], h), attn_mask=mask)
            out = out + gv[:, i, None, None, None] * o
        return out.transpose(1, 2).reshape(b, d)

    def mixed(q, k, v, gk, gv, mask, h):
        b, d = q.shape
        vmix = torch.einsum("blnd,bn->bld", v.view(b, -1, n, d), gv)
        o = F.scaled_dot_product_attention(heads_first(q[:, None], h), heads_first(k * gk[:, None], h), heads_first(vmix, h), attn_mask=mask)
        return o.transpose(1, 2).reshape(b, d)

    gen = torch.Generator().manual_seed(11)
    for b, l, d, h in cases:
        if wrap is torch.compile:
            torch._dynamo.reset()  # a fresh compile per shape, within the recompile limit
        q = (torch.rand(b, d, device=dev) * 2 - 1).requires_grad_()
        k = (torch.rand(b, l, d, device=dev) * 2 - 1).requires_grad_()
        v = (torch.rand(b, l, n * d, device=dev) * 2 - 1).requires_grad_()
        gk = (torch.rand(b, d, device=dev) * 2).requires_grad_()
        gv = (torch.rand(b, n, device=dev) * 2).requires_grad_()
        dy = torch.rand(b, d, device=dev) * 2 - 1
        lengths = l - torch.randint(0, l // 2 + 1, (b,), generator=gen)
        mask = (torch.arange(l)[None] < lengths[:, None]).view(b, 1, 1, l).to(dev)  # True: the key takes part
        keys = int(lengths.sum())
        for name, f in (("naive", wrap(naive)), ("mixed", wrap(mixed))):

            def fwd():
                with torch.no_grad():
                    f(q, k, v, gk, gv, mask, h)

            def fwd_bwd():
                f(q, k, v, gk, gv, mask, h).backward(dy)
                for t in (q, k, v, gk, gv):
                    t.grad = None

            for backward, fn in ((False, fwd), (True, fwd_bwd)):
                ms = timed(fn, sync)
                gbs = poso_mha_bytes(b, l, d, h, n, keys, backward) / (ms * 1e6)
                gflops = poso_mha_flops(d, n, keys, backward) / (ms * 1e6)
                stage = 'fwd+bwd' if backward else 'fwd'
                label = f"poso-mha     {name} {stage} B={b} L={l} Lq=1 D={d} heads={h} N={n}"
                emit(label.ljust(72) + f" {ms:9.3f} ms {gbs:9.1f} GB/s · {gflops:.1f} GFLOP/s",
                     "poso-mha", f"{name} {stage}", {"B": b, "L": l, "Lq": 1, "D": d, "heads": h, "N": n}, ms, gbs, "GB/s")
        del q, k, v, gk, gv, dy


# bench/mmoe.ts: (experts E, batch B); input IN, one expert layer of H ReLU units, T tasks.
MMOE_IN, MMOE_H, MMOE_T = 256, 64, 2
MMOE_CASES = [(4, 1024), (8, 1024), (16, 1024), (4, 16384), (8, 16384), (16, 16384)]


def mmoe(dev, sync, wrap):
    """The MMoE layer as PyTorch users write it, two ways: loop, nn.Linear-style experts in a
    Python loop, stacked, softmax gates, einsum mix; bmm, the experts as one torch.baddbmm over
    stacked weights. Rate: GFLOP/s of the expert GEMMs (2·B·IN·H·E forward, 3× with backward)."""
    F = torch.nn.functional
    n_in, h, t = MMOE_IN, MMOE_H, MMOE_T

    def loop(x, ws, bs, wg):
        experts = torch.stack([torch.relu(F.linear(x, w, b)) for w, b in zip(ws, bs)])  # (E, B, H)
        gates = torch.softmax(F.linear(x, wg).view(x.shape[0], t, -1), -1)  # (B, T, E)
        return torch.einsum("bte,ebh->tbh", gates, experts)

    def bmm(x, w, b, wg):
        experts = torch.relu(torch.baddbmm(b[:, None], x.expand(w.shape[0], -1, -1), w.transpose(1, 2)))
        gates = torch.softmax(F.linear(x, wg).view(x.shape[0], t, -1), -1)
        return torch.einsum("bte,ebh->tbh", gates, experts)

    for e, b in MMOE_CASES:
        if wrap is torch.compile:
            torch._dynamo.reset()
        bound = (6 / n_in) ** 0.5
        x = (torch.rand(b, n_in, device=dev) * 2 - 1).requires_grad_()
        w = ((torch.rand(e, h, n_in, device=dev) * 2 - 1) * bound).requires_grad_()
        bias = ((torch.rand(e, h, device=dev) * 2 - 1) * 0.1).requires_grad_()
        ws = [w[i].detach().clone().requires_grad_() for i in range(e)]
        bs = [bias[i].detach().clone().requires_grad_() for i in range(e)]
        wg = ((torch.rand(t * e, n_in, device=dev) * 2 - 1) * 0.1).requires_grad_()
        dy = torch.rand(t, b, h, device=dev) * 2 - 1
        variants = (("loop", wrap(loop), (x, ws, bs, wg), [x, wg, *ws, *bs]), ("bmm", wrap(bmm), (x, w, bias, wg), [x, w, bias, wg]))
        for name, f, args, leaves in variants:

            def fwd():
                with torch.no_grad():
                    f(*args)

            def fwd_bwd():
                f(*args).backward(dy)
                for leaf in leaves:
                    leaf.grad = None

            for backward, fn in ((False, fwd), (True, fwd_bwd)):
                ms = timed(fn, sync)
                gflops = (6 if backward else 2) * b * n_in * h * e / (ms * 1e6)
                stage = 'fwd+bwd' if backward else 'fwd'
                label = f"mmoe         E{e} B{b} {name} {stage}"
                emit(label.ljust(72) + f" {ms:9.3f} ms {gflops:9.1f} GFLOP/s",
                     "mmoe", f"E{e} B{b} {name} {stage}", {"E": e, "B": b, "in": n_in, "H": h, "T": t}, ms, gflops, "GFLOP/s")
        del x, w, bias, ws, bs, wg, dy


APG_B = 256
APG_SIZES = (256, 512, 1024)
APG_RANKS = (8, 16, 32, 64)


def apg(dev, sync, wrap):
    """APG's layer y = ((x·U)·S(z))·V + b as PyTorch users write it, the shapes of bench/apg.ts:
    decomposed, F.linear → torch.bmm with the per-sample core → F.linear; materialized, W(z) =
    U·S(z)·V formed per sample with two bmm/matmul, then bmm. S(z) is an input. Rate: GFLOP/s
    of the variant's own arithmetic (3× with backward)."""
    F = torch.nn.functional

    def decomposed(x, u, s, v, b):
        return F.linear(torch.bmm(F.linear(x, u).unsqueeze(1), s).squeeze(1), v, b)

    def materialized(x, u, s, v, b):
        w = torch.matmul(torch.matmul(u.t(), s), v.t())  # (B, N, M) = U·S(z)·V
        return torch.bmm(x.unsqueeze(1), w).squeeze(1) + b

    for n in APG_SIZES:
        for k in APG_RANKS:
            if wrap is torch.compile:
                torch._dynamo.reset()
            bsz = APG_B
            x = (torch.rand(bsz, n, device=dev) * 2 - 1).requires_grad_()
            u = ((torch.rand(k, n, device=dev) * 2 - 1) / n**0.5).requires_grad_()
            v = ((torch.rand(n, k, device=dev) * 2 - 1) / k**0.5).requires_grad_()
            b = ((torch.rand(n, device=dev) * 2 - 1) * 0.1).requires_grad_()
            s = ((torch.rand(bsz, k, k, device=dev) * 2 - 1) / k**0.5).requires_grad_()
            dy = torch.rand(bsz, n, device=dev) * 2 - 1
            flops = {"decomposed": 2 * bsz * (n * k + k * k + k * n), "materialized": 2 * bsz * (n * k * k + n * k * n + n * n)}
            for name, fn in (("decomposed", wrap(decomposed)), ("materialized", wrap(materialized))):

                def fwd():
                    with torch.no_grad():
                        fn(x, u, s, v, b)

                def fwd_bwd():
                    fn(x, u, s, v, b).backward(dy)
                    for leaf in (x, u, v, b, s):
                        leaf.grad = None

                for backward, f in ((False, fwd), (True, fwd_bwd)):
                    ms = timed(f, sync)
                    gflops = flops[name] * (3 if backward else 1) / (ms * 1e6)
                    stage = 'fwd+bwd' if backward else 'fwd'
                    label = f"apg          N{n} M{n} K{k} B{bsz} {name} {stage}"
                    emit(label.ljust(72) + f" {ms:9.3f} ms {gflops:9.1f} GFLOP/s",
                         "apg", f"N{n} M{n} K{k} {name} {stage}", {"B": bsz, "N": n, "M": n, "K": k}, ms, gflops, "GFLOP/s")
            del x, u, v, b, s, dy


def gemm(dev, sync, wrap):
    """bench/gemm.ts: square matmuls, a tower layer with bias + ReLU, transposed operands."""
    sizes = [512, 1024, 2048, 4096, 8192] if dev == "cuda" else [256, 512, 1024, 2048]
    mm = wrap(lambda a, b: a @ b)
    for n in sizes:
        a = torch.rand(n, n, device=dev) * 2 - 1
        b = torch.rand(n, n, device=dev) * 2 - 1
        ms = timed(lambda: mm(a, b), sync)
        emit(f"gemm         matmul {n}³".ljust(40) + f" {ms:9.3f} ms {2 * n**3 / (ms * 1e6):9.1f} GFLOP/s",
             "gemm", f"matmul {n}³", {"m": n, "n": n, "k": n}, ms, 2 * n**3 / (ms * 1e6), "GFLOP/s")
    layers = [(16384, 1024, 512), (65536, 512, 256)] if dev == "cuda" else [(2048, 512, 256), (4096, 256, 128)]
    lin = wrap(lambda x, w, bias: torch.relu(torch.nn.functional.linear(x, w, bias)))
    for m, k, n in layers:
        x, w, bias = torch.rand(m, k, device=dev), torch.rand(n, k, device=dev), torch.rand(n, device=dev)
        ms = timed(lambda: lin(x, w, bias), sync)
        emit(f"gemm         linear+bias+relu m={m} k={k} n={n}".ljust(40) + f" {ms:9.3f} ms {2 * m * n * k / (ms * 1e6):9.1f} GFLOP/s",
             "gemm", "linear+bias+relu", {"m": m, "k": k, "n": n}, ms, 2 * m * n * k / (ms * 1e6), "GFLOP/s")
    t = 4096 if dev == "cuda" else 1024
    a = torch.rand(t, t, device=dev) * 2 - 1
    b = torch.rand(t, t, device=dev) * 2 - 1
    for name, f in (("Aᵀ·B", wrap(lambda a, b: a.t() @ b)), ("A·Bᵀ", wrap(lambda a, b: a @ b.t()))):
        ms = timed(lambda: f(a, b), sync)
        emit(f"gemm         matmul {name} {t}³".ljust(40) + f" {ms:9.3f} ms {2 * t**3 / (ms * 1e6):9.1f} GFLOP/s",
             "gemm", f"matmul {name} {t}³", {"m": t, "n": t, "k": t}, ms, 2 * t**3 / (ms * 1e6), "GFLOP/s")


def elementwise(dev, sync, wrap):
    """bench/elementwise.ts: memory-bound ops over 32768×1024; GB/s of bytes read + written."""
    rows, cols = 1 << 15, 1024
    a = torch.rand(rows, cols, device=dev) * 4 - 2
    b = torch.rand(rows, cols, device=dev) * 4 - 2
    bias = torch.rand(cols, device=dev)
    cases = [
        ("add", 3, lambda: a + b), ("mul", 3, lambda: a * b), ("add bias (broadcast)", 2, lambda: a + bias),
        ("relu", 2, lambda: torch.relu(a)), ("sigmoid", 2, lambda: torch.sigmoid(a)),
        ("gelu", 2, lambda: torch.nn.functional.gelu(a)), ("softmax (rows)", 2, lambda: torch.softmax(a, -1)),
        ("sum (rows)", 1, lambda: a.sum(-1)),
    ]
    for label, touches, fn in cases:
        f = wrap(fn)
        ms = timed(f, sync)
        gbs = touches * 4 * rows * cols / (ms * 1e6)
        emit(f"elementwise  {label}".ljust(40) + f" {ms:9.3f} ms {gbs:9.1f} GB/s", "elementwise", label, {"rows": rows, "cols": cols}, ms, gbs, "GB/s")


def poso(dev, sync, wrap):
    poso_mha(dev, sync, wrap, POSO_MHA_CUDA_CASES if dev == "cuda" else POSO_MHA_CPU_CASES)


SECTIONS = {"gemm": gemm, "gated-fc": gated_fc, "poso-mha": poso, "mmoe": mmoe, "apg": apg, "elementwise": elementwise}


def main():
    global MIN_MS, JSON_OUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--compile", action="store_true", help="wrap each op in torch.compile")
    ap.add_argument("--cpu", action="store_true", help="run on the CPU instead of CUDA")
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections, run in this order (default: all)")
    ap.add_argument("--min-ms", type=float, default=MIN_MS, help="minimum measured time per case (default 300)")
    ap.add_argument("--json", metavar="FILE", help="append one JSON line per case to FILE")
    args = ap.parse_args()
    MIN_MS = args.min_ms
    JSON_OUT = open(args.json, "a") if args.json else None
    dev = "cpu" if args.cpu or not torch.cuda.is_available() else "cuda"
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    torch.backends.cuda.matmul.allow_tf32 = False  # gatewise's GEMM is exact fp32
    wrap = torch.compile if args.compile else (lambda f: f)
    name = torch.cuda.get_device_name() if dev == "cuda" else "CPU"
    print(f"torch {torch.__version__} on {name}{' (torch.compile)' if args.compile else ''}", flush=True)

    sections = args.only.split(",")
    for section in sections:
        if section not in SECTIONS:
            ap.error(f"unknown section {section!r}; sections: {', '.join(SECTIONS)}")
    failed = 0
    for section in sections:
        try:
            SECTIONS[section](dev, sync, wrap)
        except Exception as e:  # one section's failure (OOM, a compile error) must not cost the others
            failed += 1
            traceback.print_exc()
            print(f"{section}: FAILED: {type(e).__name__}: {e}", flush=True)
            if JSON_OUT:
                JSON_OUT.write(json.dumps({"bench": section, "error": f"{type(e).__name__}: {e}"}) + "\n")
                JSON_OUT.flush()
        if dev == "cuda":
            torch.cuda.empty_cache()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
