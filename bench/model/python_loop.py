#!/usr/bin/python3
"""The baseline of the model benchmarks: what a user would write in plain PyTorch.

The ber-vit-att / ber-vit-concat / vilt models of mmaux (presets tiny, small, ber-vit-base,
vilt-b32), written the way the Hugging Face modeling files write them (nn.Linear, nn.LayerNorm,
nn.Dropout, exact GELU, attention as matmul → softmax → dropout → matmul, or with
--attention sdpa as F.scaled_dot_product_attention, the default of recent transformers), trained
with a plain forward + cross entropy + backward loop.

CPU (the default): on the same libtorch mmaux links (Debian's python3-torch is the libtorch-dev
build), measured like bench_model's: each step paired with a 0.25 s 1024² matmul right after it,
medians over the steps.

    /usr/bin/python3 bench/model/python_loop.py [--threads 2] [--batch 16] [--steps 10]
        [--model ber-vit-att] [--preset small] [--adamw 1]

GPU (--device cuda, bench/gpu/run.sh): bf16 autocast (--bf16 1), torch.optim.AdamW (foreach on
CUDA) with --adamw 1, `--warmup` untimed steps, then the mean time of `--steps` steps between
two device synchronisations, as bench_gpu_model measures mmaux; MFU against --peak-tflops (the
H200's dense bf16 peak, 989 nominal) and against a measured 8192³ bf16 matmul. --json prints one
JSON object (bench_gpu_model's fields).

    python3 bench/model/python_loop.py --device cuda --bf16 1 --adamw 1 --model ber-vit-concat \
        --preset ber-vit-base --batch 64 --steps 30 --attention sdpa --json

--print-flops prints the training FLOPs per sample (3 × forward) and exits: run.sh checks that
they equal mmaux's count. Needs torch (python3-torch here, PyTorch 2.x on the GPU machine); not
part of the build or the tests.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# The presets of src/model/config.cpp (text length as in bench_model). ber-vit-base is
# bert-base-uncased + ViT-B/16 at 224; vilt-b32 is dandelin/vilt-b32 (patch 32, images 384).
PRESETS = {
    "tiny": dict(TEXT_POS=64, HIDDEN=128, LAYERS=2, HEADS=4, FFN=512, TEXT_LEN=32, IMAGE=64, PROJ=64, VILT_LAYERS=2,
                 PATCH=16, VILT_POS=64),
    "small": dict(TEXT_POS=128, HIDDEN=256, LAYERS=4, HEADS=4, FFN=1024, TEXT_LEN=64, IMAGE=128, PROJ=128, VILT_LAYERS=6,
                  PATCH=16, VILT_POS=64),
    "ber-vit-base": dict(TEXT_POS=512, HIDDEN=768, LAYERS=12, HEADS=12, FFN=3072, TEXT_LEN=128, IMAGE=224, PROJ=512,
                         VILT_LAYERS=12, PATCH=16, VILT_POS=40),
    "vilt-b32": dict(TEXT_POS=512, HIDDEN=768, LAYERS=12, HEADS=12, FFN=3072, TEXT_LEN=40, IMAGE=384, PROJ=512,
                     VILT_LAYERS=12, PATCH=32, VILT_POS=40),
}
VOCAB, VILT_VOCAB = 30522, 30522
NUM_CLASSES = 4  # python_train.py sets the data set's
TEXT_POS = HIDDEN = LAYERS = HEADS = FFN = TEXT_LEN = IMAGE = PROJ = VILT_LAYERS = PATCH = VILT_POS = None  # set by main()
SDPA = False  # --attention sdpa


class SelfAttention(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        self.query, self.key, self.value = (nn.Linear(HIDDEN, HIDDEN) for _ in range(3))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, bias=None):  # bias: [b, 1, 1, n] added to the scores (padding), or None
        b, n, _ = x.shape
        split = lambda t: t.view(b, n, HEADS, HIDDEN // HEADS).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        if SDPA:
            p = self.dropout.p if self.training else 0.0
            return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p).transpose(1, 2).reshape(b, n, HIDDEN)
        scores = q @ k.transpose(-1, -2) / (HIDDEN // HEADS) ** 0.5
        if bias is not None:
            scores = scores + bias
        probs = self.dropout(scores.softmax(-1))
        return (probs @ v).transpose(1, 2).reshape(b, n, HIDDEN)


class BertLayer(nn.Module):  # post-LayerNorm
    def __init__(self, dropout):
        super().__init__()
        self.attention = SelfAttention(dropout)
        self.attn_out, self.attn_norm = nn.Linear(HIDDEN, HIDDEN), nn.LayerNorm(HIDDEN, eps=1e-12)
        self.inter, self.out = nn.Linear(HIDDEN, FFN), nn.Linear(FFN, HIDDEN)
        self.out_norm, self.dropout = nn.LayerNorm(HIDDEN, eps=1e-12), nn.Dropout(dropout)

    def forward(self, x, bias=None):
        a = self.attn_norm(x + self.dropout(self.attn_out(self.attention(x, bias))))
        return self.out_norm(a + self.dropout(self.out(F.gelu(self.inter(a)))))


class VitLayer(nn.Module):  # pre-LayerNorm
    def __init__(self, dropout):
        super().__init__()
        self.attention = SelfAttention(dropout)
        self.attn_out = nn.Linear(HIDDEN, HIDDEN)
        self.inter, self.out = nn.Linear(HIDDEN, FFN), nn.Linear(FFN, HIDDEN)
        self.before, self.after = nn.LayerNorm(HIDDEN, eps=1e-12), nn.LayerNorm(HIDDEN, eps=1e-12)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, bias=None):
        h = x + self.dropout(self.attn_out(self.attention(self.before(x), bias)))
        return h + self.dropout(self.out(F.gelu(self.inter(self.after(h)))))


class Text(nn.Module):
    def __init__(self, dropout=0.1):
        super().__init__()
        self.word, self.pos, self.token_type = nn.Embedding(VOCAB, HIDDEN), nn.Embedding(TEXT_POS, HIDDEN), nn.Embedding(2, HIDDEN)
        self.norm, self.dropout = nn.LayerNorm(HIDDEN, eps=1e-12), nn.Dropout(dropout)
        self.layers = nn.ModuleList(BertLayer(dropout) for _ in range(LAYERS))
        self.pooler = nn.Linear(HIDDEN, HIDDEN)

    def forward(self, ids, mask=None):  # mask: [b, L] 1 = real token (None: no padding)
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.dropout(self.norm(self.word(ids) + self.pos(pos) + self.token_type(torch.zeros_like(ids))))
        bias = None
        if mask is not None:  # as BERT's extended attention mask: the dtype's lowest value at padding
            bias = torch.zeros(mask.shape, dtype=x.dtype, device=x.device)
            bias = bias.masked_fill(mask == 0, torch.finfo(x.dtype).min)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        return x, torch.tanh(self.pooler(x[:, 0]))


class Vision(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, HIDDEN, PATCH, PATCH)
        self.cls = nn.Parameter(torch.randn(1, 1, HIDDEN) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, (IMAGE // PATCH) ** 2 + 1, HIDDEN) * 0.02)
        self.layers = nn.ModuleList(VitLayer(0.0) for _ in range(LAYERS))
        self.norm, self.pooler = nn.LayerNorm(HIDDEN, eps=1e-12), nn.Linear(HIDDEN, HIDDEN)

    def forward(self, pixels):
        x = self.patch(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        for layer in self.layers:
            x = layer(x)
        x = self.norm(x)
        return x, torch.tanh(self.pooler(x[:, 0]))


class DualStream(nn.Module):
    def __init__(self, attention, text_dropout=0.1, classifier_dropout=0.05):
        super().__init__()
        self.text, self.vision, self.attention = Text(text_dropout), Vision(), attention
        self.text_proj, self.image_proj = nn.Linear(HIDDEN, PROJ, bias=False), nn.Linear(HIDDEN, PROJ, bias=False)
        if attention:
            self.q, self.k, self.v = (nn.Linear(HIDDEN, HIDDEN) for _ in range(3))
        self.fusion, self.classifier = nn.Linear(2 * HIDDEN, HIDDEN), nn.Linear(HIDDEN, NUM_CLASSES)
        self.dropout = nn.Dropout(classifier_dropout)

    def forward(self, ids, pixels, mask=None):
        t_states, t_pooled = self.text(ids, mask)
        v_states, v_pooled = self.vision(pixels)
        self.itc = (self.text_proj(t_pooled), self.image_proj(v_pooled))
        second = v_pooled
        if self.attention:
            q = self.q(t_states[:, :1])
            w = (q @ self.k(v_states).transpose(1, 2) / HIDDEN ** 0.5).softmax(-1)
            second = (w @ self.v(v_states))[:, 0]
        fused = F.relu(self.fusion(torch.cat([t_pooled, second], 1)))
        return self.classifier(self.dropout(fused))


class Vilt(nn.Module):
    def __init__(self):
        super().__init__()
        self.word, self.pos, self.token_type = nn.Embedding(VILT_VOCAB, HIDDEN), nn.Embedding(VILT_POS, HIDDEN), nn.Embedding(2, HIDDEN)
        self.norm = nn.LayerNorm(HIDDEN, eps=1e-12)
        self.patch = nn.Conv2d(3, HIDDEN, PATCH, PATCH)
        self.cls = nn.Parameter(torch.randn(1, 1, HIDDEN) * 0.02)
        self.img_pos = nn.Parameter(torch.randn(1, (IMAGE // PATCH) ** 2 + 1, HIDDEN) * 0.02)
        self.modality = nn.Embedding(2, HIDDEN)
        self.layers = nn.ModuleList(VitLayer(0.0) for _ in range(VILT_LAYERS))
        self.final, self.pooler = nn.LayerNorm(HIDDEN, eps=1e-12), nn.Linear(HIDDEN, HIDDEN)
        self.classifier, self.dropout = nn.Linear(HIDDEN, 4), nn.Dropout(0.05)

    def forward(self, ids, pixels):
        pos = torch.arange(ids.shape[1], device=ids.device)
        text = self.norm(self.word(ids) + self.pos(pos) + self.token_type(torch.zeros_like(ids)))
        x = self.patch(pixels).flatten(2).transpose(1, 2)
        image = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.img_pos
        x = torch.cat([text + self.modality.weight[0], image + self.modality.weight[1]], 1)
        for layer in self.layers:
            x = layer(x)
        x = self.final(x)
        return self.classifier(self.dropout(torch.tanh(self.pooler(x[:, 0]))))


def matmul_gflops(seconds=0.25, n=1024):
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
    return 2.0 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


def layer_flops(tokens, hidden, ffn):
    return 2.0 * tokens * (4 * hidden * hidden + 2 * hidden * ffn) + 4.0 * tokens * tokens * hidden


def forward_flops(model, text_len):  # the formula of mmaux::model::forward_flops
    patches = (IMAGE // PATCH) ** 2
    patch = 2.0 * patches * 3 * PATCH * PATCH * HIDDEN
    if model == "vilt":
        return patch + VILT_LAYERS * layer_flops(text_len + patches + 1, HIDDEN, FFN) + 2.0 * HIDDEN * HIDDEN + 8.0 * HIDDEN
    h = float(HIDDEN)
    text = LAYERS * layer_flops(text_len, HIDDEN, FFN) + 2 * h * h
    image = patch + LAYERS * layer_flops(patches + 1, HIDDEN, FFN) + 2 * h * h
    heads = 2 * 2 * h * PROJ + 2 * 2 * h * h + 4 * h
    if model == "ber-vit-att":
        heads += 2 * h * h + 4 * (patches + 1) * h * h + 4 * (patches + 1) * h
    return text + image + heads


def device_matmul_tflops(device, bf16, n=8192, seconds=1.0):
    """TFLOP/s of square matmuls on the GPU in the benchmark's precision (bench_gpu_model's)."""
    dtype = torch.bfloat16 if bf16 else torch.float32
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize(device)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(10):
            a @ b
        torch.cuda.synchronize(device)
        reps += 10
    return 2.0 * n ** 3 * reps / (time.perf_counter() - t0) / 1e12


def run_cuda(a, model, opt, ids, pixels, labels, flops):
    """bench_gpu_model's measurement: warm-up, then the mean of `steps` steps between syncs."""
    device = ids.device

    def step(read_loss):
        for q in model.parameters():
            q.grad = None
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bool(a.bf16)):
            loss = F.cross_entropy(model(ids, pixels), labels)
        loss.backward()
        if opt:
            opt.step()
        return loss.item() if read_loss else None

    for _ in range(a.warmup):
        step(False)
    torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for i in range(a.steps):
        last = step(i + 1 == a.steps)
    torch.cuda.synchronize(device)
    seconds = (time.perf_counter() - t0) / a.steps
    peak = device_matmul_tflops(device, a.bf16)
    tflops = 3 * flops * a.batch / seconds / 1e12
    return dict(step_ms=1e3 * seconds, samples_per_s=a.batch / seconds, model_tflops=tflops,
                mfu_nominal=tflops / a.peak_tflops, mfu_measured=tflops / peak, matmul_peak_tflops=peak,
                last_loss=last)


def main():
    global SDPA
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--model", default="ber-vit-att", choices=["ber-vit-concat", "ber-vit-att", "vilt"])
    p.add_argument("--preset", default="small", choices=sorted(PRESETS))
    p.add_argument("--adamw", type=int, default=0, help="1: add torch.optim.AdamW's step, as a training loop does")
    p.add_argument("--device", default="cpu", help="cpu (paired matmul medians) or cuda[:k]")
    p.add_argument("--bf16", type=int, default=0, help="1: bf16 autocast of the forward pass (CUDA)")
    p.add_argument("--attention", default="eager", choices=["eager", "sdpa"])
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before the timed ones (CUDA)")
    p.add_argument("--peak-tflops", type=float, default=989.0, help="nominal dense peak for MFU (CUDA)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--print-flops", action="store_true", help="print 3 x forward FLOPs per sample and exit")
    a = p.parse_args()
    globals().update(PRESETS[a.preset])
    SDPA = a.attention == "sdpa"
    if a.print_flops:
        print(f"{3 * forward_flops(a.model, TEXT_LEN):.9e}")
        return
    if SDPA and not hasattr(F, "scaled_dot_product_attention"):
        raise SystemExit(f"--attention sdpa needs torch >= 2.0 (this is {torch.__version__})")
    device = torch.device(a.device)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = (Vilt() if a.model == "vilt" else DualStream(a.model == "ber-vit-att")).to(device)
    model.train()
    text_len = TEXT_LEN
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=2.5e-4) if a.adamw else None
    ids = torch.randint(1, VOCAB, (a.batch, text_len), device=device)
    pixels = torch.randn(a.batch, 3, IMAGE, IMAGE, device=device)
    labels = torch.randint(0, 4, (a.batch,), device=device)
    flops = forward_flops(a.model, text_len)
    params = sum(q.numel() for q in model.parameters())
    if device.type == "cuda":
        r = run_cuda(a, model, opt, ids, pixels, labels, flops)
        r.update(impl="pytorch", attention=a.attention, model=a.model, preset=a.preset, batch=a.batch,
                 text_length=text_len, device=str(device), bf16_autocast=bool(a.bf16), steps=a.steps,
                 train_flops_per_sample=3 * flops, parameters=params, adamw=bool(a.adamw), torch=torch.__version__)
        if a.json:
            print(json.dumps(r))
        else:
            print(f"python {a.model} {a.preset} ({a.attention}{', bf16' if a.bf16 else ''}): {r['samples_per_s']:.1f} samples/s, "
                  f"MFU {100 * r['mfu_nominal']:.1f}% of {a.peak_tflops:g} TFLOP/s, {100 * r['mfu_measured']:.1f}% of the measured matmul")
        return

    def step():
        for q in model.parameters():
            q.grad = None
        F.cross_entropy(model(ids, pixels), labels).backward()
        if opt:
            opt.step()

    step()
    seconds, fractions = [], []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - t0)
        fractions.append(3 * flops * a.batch / seconds[-1] / 1e9 / matmul_gflops())
    if a.json:
        print(json.dumps(dict(impl="pytorch", attention=a.attention, model=a.model, preset=a.preset, batch=a.batch,
                              device="cpu", samples_per_s=a.batch / statistics.median(seconds),
                              share_of_matmul_peak=statistics.median(fractions), parameters=params,
                              train_flops_per_sample=3 * flops, torch=torch.__version__)))
        return
    print(f"python {a.model} {a.preset}{' +AdamW' if a.adamw else ''}: {params} parameters, {a.batch / statistics.median(seconds):.1f} samples/s, "
          f"{100 * statistics.median(fractions):.1f}% of the matmul peak (torch {torch.__version__}, {a.threads} threads)")


if __name__ == "__main__":
    main()
