#!/usr/bin/python3
"""The training parity reference: mmaux's ber-vit-concat / ber-vit-att trained in plain PyTorch.

The models are python_loop.py's modules (imported, not copied): Hugging Face-style BERT and ViT
towers, the two bias-free ITC projections, concatenation (or one-query attention) fusion and the
classifier. Around them, what `mmaux train` does, written the plain PyTorch way:

- data: the HDF5 shards of `mmaux preprocess` (include/mmaux/data/shard.h), read with h5py;
  pixels normalised with the manifest's mean and std exactly as the loader's table does
  (src/data/input_spec.cpp, float32 arithmetic); attention mask from the stored lengths;
- order: data::Loader::epoch_order (splitmix64 Fisher-Yates seeded with (seed, epoch)), global
  batches of --batch-size, the last incomplete one dropped;
- loss: λ_ce · CE (balanced class weights N / (C · n_c), summed and divided by the batch size, the
  paper's normaliser) + λ_itc · ITC (L2-normalised projections, similarities scaled by exp(s) with
  a learned s, the mean of the two directions' cross entropies; METHOD.md §1);
- optimiser: torch.optim.AdamW with two groups (weight decay on tensors of 2 or more dimensions,
  none on biases, LayerNorm and the logit scale), the learning rate set per step from linear
  warmup then constant / linear / cosine decay (train::scheduled_lr), gradients clipped to
  --clip-norm when their global norm exceeds it (scale clip / (norm + 1e-6));
- evaluation after every epoch: validation macro F1 (classes present in the labels or the
  predictions), weighted F1, accuracy and the weighted CE loss, without dropout.

Two starts: --init DIR loads the weights a run of `mmaux train --train.save-initial DIR` wrote
(model.safetensors and config.json of save_pretrained, itc.safetensors with the logit scale; read
by the small safetensors reader below), which is how bench/model/parity.sh compares the two
implementations step by step; without it the model is initialised from --seed as mmaux
initialises (normal(0, 0.02) weights and embeddings, zero biases, unit LayerNorms), which is how
bench/model/seed_study.py draws independent runs.

metrics.jsonl lines have mmaux's fields: {"kind": "step", "step", "epoch", "lr", "loss", "ce",
"itc", "itm", "logit_scale"} per step (step counts from 1, the losses are those of the batch before
the update) and {"kind": "epoch", "epoch", "step", "validation": {"macro_f1", ...}} per epoch.

    /usr/bin/python3 bench/model/python_train.py --data data/demo/shards --out runs/py \\
        [--init DIR | --seed 1] [--model ber-vit-concat] [--preset tiny] [--epochs 10] \\
        [--itc 0.1] [--dtype float64] [--max-steps 150] [--threads 2]

Needs Debian's python3-torch (libtorch 1.13, the one mmaux links), python3-numpy and
python3-h5py (apt-get install python3-h5py). Not part of the build or the tests.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import python_loop as pl  # noqa: E402  (the model modules)

LOGIT_SCALE_INIT = 2.659260036932778  # ln(1 / 0.07), loss.logit-scale-init
M64 = (1 << 64) - 1


# ---- data::Loader::epoch_order (include/mmaux/core/hash.h, src/data/loader.cpp) ---------------
def mix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & M64

    def next(self):
        z = mix64(self.state)
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        return z

    def below(self, bound):
        limit = M64 - (M64 % bound)
        while True:
            v = self.next()
            if v < limit:
                return v % bound


def mix_seed(a, b, c=0):
    x = SplitMix64(a ^ 0x5851F42D4C957F2D).next() ^ b
    y = SplitMix64(x).next() ^ c
    return SplitMix64(y).next()


def epoch_order(n, seed, epoch):
    order = list(range(n))
    rng = SplitMix64(mix_seed(seed, epoch, 0x6C6F61646572))
    for i in range(n - 1, 0, -1):
        j = rng.below(i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def scheduled_lr(schedule, lr, warmup, step, total):  # train::scheduled_lr
    w = warmup if warmup >= 1 else warmup * total
    if w > 0 and step < w:
        return lr * step / w
    span = total - w
    progress = min(1.0, max(0.0, (step - w) / span)) if span > 0 else 1.0
    if schedule == "constant":
        return lr
    if schedule == "linear":
        return lr * (1.0 - progress)
    return lr * 0.5 * (1.0 + math.cos(math.pi * progress))


# ---- shards --------------------------------------------------------------------------------
class Split:
    """One split of a preprocessed data set in memory: ids, mask, normalised pixels, labels."""

    def __init__(self, data_dir, manifest, name):
        info = manifest["splits"][name]
        # One value per channel, or one for all three.
        mean = np.broadcast_to(np.asarray(manifest["image"]["mean"], np.float64), (3,)).astype(np.float32)
        std = np.broadcast_to(np.asarray(manifest["image"]["std"], np.float64), (3,)).astype(np.float32)
        # The loader's table: float(v) · (1 / (255 · std)) − mean / std, in float32.
        scale = np.float32(1.0) / (np.float32(255.0) * std)
        lut = np.arange(256, dtype=np.float32)[None, :] * scale[:, None] - (mean / std)[:, None]
        ids, lengths, pixels, labels, index = [], [], [], [], []
        for shard in info["shards"]:
            path = os.path.join(data_dir, shard["file"])
            with h5py.File(path, "r") as f:
                n = f["labels"].shape[0]
                if n != shard["rows"]:
                    raise SystemExit(f"{path}: {n} rows, the manifest says {shard['rows']}")
                hw = f["image_hw"][:]
                if (hw != hw[0]).any():
                    raise SystemExit(f"{path}: images of several sizes (a fixed-size preset is needed)")
                h, w = int(hw[0, 0]), int(hw[0, 1])
                raw = f["pixels"][:, : 3 * h * w].reshape(n, 3, h, w)
                pixels.append(np.stack([lut[c][raw[:, c]] for c in range(3)], 1))
                ids.append(f["input_ids"][:].astype(np.int64))
                lengths.append(f["lengths"][:].astype(np.int64))
                labels.append(f["labels"][:].astype(np.int64))
                index.append(f["sample_index"][:].astype(np.int64))
        index = np.concatenate(index)
        if (index != np.arange(len(index))).any():
            raise SystemExit(f"{data_dir}: split {name}: sample indices are not 0 .. n-1 in shard order")
        self.ids = torch.from_numpy(np.concatenate(ids))
        length = self.ids.shape[1]
        self.mask = (torch.arange(length)[None, :] < torch.from_numpy(np.concatenate(lengths))[:, None]).long()
        self.pixels = torch.from_numpy(np.concatenate(pixels))
        self.labels = torch.from_numpy(np.concatenate(labels))
        self.n = len(self.labels)

    def take(self, rows, dtype):
        rows = torch.as_tensor(rows, dtype=torch.long)
        return self.ids[rows], self.mask[rows], self.pixels[rows].to(dtype), self.labels[rows]


def balanced_weights(manifest, classes):  # loss::balanced_class_weights, in double
    counts = manifest["splits"]["train"]["class_counts_by_id"]
    total = sum(counts)
    return torch.tensor([total / (classes * c) if c > 0 else 0.0 for c in counts], dtype=torch.float64)


# ---- weights -------------------------------------------------------------------------------
SAFETENSORS_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
                      "I32": np.int32, "U8": np.uint8}


def read_safetensors(path):
    """{name: tensor}: 8-byte little-endian header length, JSON header, raw little-endian data."""
    with open(path, "rb") as f:
        data = f.read()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in SAFETENSORS_DTYPES:
            raise SystemExit(f"{path}: tensor {name} has dtype {info['dtype']}, not one of {sorted(SAFETENSORS_DTYPES)}")
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data[8 + size + begin: 8 + size + end], SAFETENSORS_DTYPES[info["dtype"]])
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out


def python_name(name):
    """mmaux's parameter name (model.named_parameters()) -> python_loop's DualStream name."""
    rules = [("text.embeddings.word_embeddings", "text.word"), ("text.embeddings.position_embeddings", "text.pos"),
             ("text.embeddings.token_type_embeddings", "text.token_type"), ("text.embeddings.LayerNorm", "text.norm"),
             ("text.encoder.layer.", "text.layers."), ("image.encoder.layer.", "vision.layers."),
             ("image.embeddings.cls_token", "vision.cls"), ("image.embeddings.position_embeddings", "vision.pos"),
             ("image.embeddings.patch_embeddings.projection", "vision.patch"), ("image.layernorm", "vision.norm"),
             ("image.pooler.dense", "vision.pooler"), ("text.pooler.dense", "text.pooler"),
             (".attention.self.", ".attention."), (".attention.attention.", ".attention."),
             (".attention.output.dense", ".attn_out"), (".attention.output.LayerNorm", ".attn_norm"),
             (".intermediate.dense", ".inter"), (".output.dense", ".out"), (".output.LayerNorm", ".out_norm"),
             (".layernorm_before", ".before"), (".layernorm_after", ".after"),
             ("text_projection", "text_proj"), ("image_projection", "image_proj"), ("cross_attention.query", "q"),
             ("cross_attention.key", "k"), ("cross_attention.value", "v")]
    for a, b in rules:
        name = name.replace(a, b)
    return name


def load_initial(model, directory):
    """Loads mmaux's initial weights (strict: every tensor of the model, nothing left over but
    the ITM head, which a run without ITM never uses). Returns the logit scale."""
    tensors = read_safetensors(os.path.join(directory, "model.safetensors"))
    state = {python_name(k): v for k, v in tensors.items() if not k.startswith("itm_head.")}
    model.load_state_dict(state, strict=True)
    return float(read_safetensors(os.path.join(directory, "itc.safetensors"))["itc.logit_scale"])


def init_like_mmaux(model):
    """mmaux's initialisation (src/model/layers.cpp): normal(0, 0.02), zero biases, unit norms."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.Embedding)):
                m.weight.normal_(0.0, 0.02)
                if getattr(m, "bias", None) is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.LayerNorm):
                m.weight.fill_(1.0)
                m.bias.zero_()
        model.vision.cls.normal_(0.0, 0.02)
        model.vision.pos.normal_(0.0, 0.02)


def configure(preset, config_json, vocab, positions, classes):
    """Sets python_loop's size globals: the preset's, checked against the exported config.json."""
    pl.__dict__.update(pl.PRESETS[preset])
    pl.VOCAB, pl.TEXT_POS, pl.NUM_CLASSES = vocab, positions, classes
    if config_json:
        c = json.load(open(config_json))
        text, vision = c.get("text_config", {}), c.get("vision_config", {})
        want = {"HIDDEN": text.get("hidden_size"), "LAYERS": text.get("num_hidden_layers"),
                "HEADS": text.get("num_attention_heads"), "FFN": text.get("intermediate_size"),
                "IMAGE": vision.get("image_size"), "PATCH": vision.get("patch_size"),
                "PROJ": c.get("projection_dim")}
        for key, value in want.items():
            if value is not None and value != getattr(pl, key):
                raise SystemExit(f"{config_json}: {key.lower()} = {value}, but preset {preset} has {getattr(pl, key)}")


# ---- training ------------------------------------------------------------------------------
def losses(model, batch, weights, logit_scale, w_ce, w_itc):
    ids, mask, pixels, labels = batch
    logits = model(ids, pixels, mask)
    ce = F.cross_entropy(logits, labels, weight=weights, reduction="sum") / len(labels)
    total, itc = w_ce * ce, torch.zeros(())
    if w_itc > 0:
        t, v = (F.normalize(x, dim=1) for x in model.itc)
        target = torch.arange(len(labels))
        i2t = logit_scale.exp() * v @ t.t()
        itc = 0.5 * (F.cross_entropy(i2t, target) + F.cross_entropy(i2t.t(), target))
        total = total + w_itc * itc
    return total, ce, itc


def evaluate(model, split, weights, dtype, classes, batch=128):
    model.eval()
    confusion = np.zeros((classes, classes), np.int64)
    loss_sum = 0.0
    with torch.no_grad():
        for first in range(0, split.n, batch):
            ids, mask, pixels, labels = split.take(range(first, min(first + batch, split.n)), dtype)
            logits = model(ids, pixels, mask)
            loss_sum += float(F.cross_entropy(logits, labels, weight=weights, reduction="sum"))
            np.add.at(confusion, (labels.numpy(), logits.argmax(1).numpy()), 1)
    model.train()
    tp, support, predicted = np.diag(confusion), confusion.sum(1), confusion.sum(0)
    precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), 0.0)
    recall = np.where(support > 0, tp / np.maximum(support, 1), 0.0)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0.0)
    present = (support > 0) | (predicted > 0)
    return {"macro_f1": float(f1[present].mean()), "weighted_f1": float((f1 * support).sum() / support.sum()),
            "accuracy": float(tp.sum() / support.sum()), "loss": loss_sum / split.n}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="shards directory (manifest.json) of mmaux preprocess")
    p.add_argument("--out", required=True, help="directory for metrics.jsonl and results.json")
    p.add_argument("--init", default="", help="initial weights written by mmaux train --train.save-initial")
    p.add_argument("--seed", type=int, default=1, help="batch order, and the initialisation without --init")
    p.add_argument("--model", default="ber-vit-concat", choices=["ber-vit-concat", "ber-vit-att"])
    p.add_argument("--preset", default="tiny", choices=["tiny", "small"])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0 = all epochs)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--eval-batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--schedule", default="linear", choices=["constant", "linear", "cosine"])
    p.add_argument("--warmup", type=float, default=0.1, help="steps (>= 1) or fraction of all steps")
    p.add_argument("--clip-norm", type=float, default=1.0, help="0 = off")
    p.add_argument("--itc", type=float, default=0.0, help="ITC weight")
    p.add_argument("--ce", type=float, default=-1.0, help="CE weight (< 0: 1 - itc)")
    p.add_argument("--dropout", type=float, default=0.05, help="classifier dropout")
    p.add_argument("--encoder-dropout", type=float, default=0.1, help="text tower dropout (ViT: 0)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log-every", type=int, default=1)
    return p.parse_args(argv)


def train(a):
    torch.set_num_threads(a.threads)
    dtype = torch.float64 if a.dtype == "float64" else torch.float32
    manifest = json.load(open(os.path.join(a.data, "manifest.json")))
    classes = len(manifest["class_names"])
    train_split, val = Split(a.data, manifest, "train"), Split(a.data, manifest, "validation")
    config_json = os.path.join(a.init, "config.json") if a.init else ""
    if a.init:
        shapes = read_safetensors(os.path.join(a.init, "model.safetensors"))
        vocab, positions = (shapes["text.embeddings.word_embeddings.weight"].shape[0],
                            shapes["text.embeddings.position_embeddings.weight"].shape[0])
    else:
        vocab, positions = pl.VOCAB, pl.PRESETS[a.preset]["TEXT_POS"]
    configure(a.preset, config_json, vocab, positions, classes)
    torch.manual_seed(a.seed)
    model = pl.DualStream(a.model == "ber-vit-att", a.encoder_dropout, a.dropout)
    if a.init:
        scale0 = load_initial(model, a.init)
    else:
        init_like_mmaux(model)
        scale0 = float(torch.tensor(LOGIT_SCALE_INIT, dtype=dtype))
    model = model.to(dtype)
    model.train()
    # As mmaux: the scale and the class weights are made in the training dtype from double values
    # (the scale read back from the file as mmaux wrote it, in its dtype).
    logit_scale = nn.Parameter(torch.tensor(scale0, dtype=dtype), requires_grad=a.itc > 0)
    weights = balanced_weights(manifest, classes).to(dtype)
    w_ce = a.ce if a.ce >= 0 else 1.0 - a.itc
    named = list(model.named_parameters()) + ([("itc.logit_scale", logit_scale)] if a.itc > 0 else [])
    groups = [{"params": [p for _, p in named if p.dim() > 1], "weight_decay": a.weight_decay},
              {"params": [p for _, p in named if p.dim() <= 1], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, foreach=False)
    params = [p for _, p in named]

    steps_per_epoch = train_split.n // a.batch_size
    total = steps_per_epoch * a.epochs
    if a.max_steps > 0:
        total = min(total, a.max_steps)
    os.makedirs(a.out, exist_ok=True)
    log = open(os.path.join(a.out, "metrics.jsonl"), "w")
    step, history, start = 0, [], time.time()
    for epoch in range(a.epochs):
        order = epoch_order(train_split.n, a.seed, epoch)
        for k in range(steps_per_epoch):
            if step >= total:
                break
            batch = train_split.take(order[k * a.batch_size:(k + 1) * a.batch_size], dtype)
            loss, ce, itc = losses(model, batch, weights, logit_scale, w_ce, a.itc)
            loss.backward()
            grads = [p.grad for p in params if p.grad is not None]
            norm = math.sqrt(sum(float(n) ** 2 for n in torch._foreach_norm(grads)))
            if not math.isfinite(norm) or not math.isfinite(float(loss)):
                raise SystemExit(f"step {step + 1}: non-finite loss {float(loss)} or gradient norm {norm}")
            if a.clip_norm > 0 and norm > a.clip_norm:
                for g in grads:
                    g.mul_(a.clip_norm / (norm + 1e-6))
            lr = scheduled_lr(a.schedule, a.lr, a.warmup, step, total)
            for g in opt.param_groups:
                g["lr"] = lr
            opt.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            if step % a.log_every == 0:
                log.write(json.dumps({"kind": "step", "step": step, "epoch": epoch, "lr": lr, "loss": float(loss),
                                      "ce": float(ce), "itc": float(itc), "itm": 0.0,
                                      "logit_scale": float(logit_scale)}) + "\n")
        scores = evaluate(model, val, weights, dtype, classes, a.eval_batch_size)
        history.append(scores)
        log.write(json.dumps({"kind": "epoch", "epoch": epoch, "step": step, "validation": scores}) + "\n")
        log.flush()
        print(f"[python] epoch {epoch + 1}/{a.epochs}: validation macro F1 {scores['macro_f1']:.4f} "
              f"({time.time() - start:.0f} s)", flush=True)
        if step >= total:  # as mmaux, a run stopped by --max-steps is validated where it stopped
            break
    log.close()
    best = max(range(len(history)), key=lambda e: history[e]["macro_f1"]) if history else -1
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"impl": "pytorch", "torch": torch.__version__, "seed": a.seed, "steps": step,
                   "best_epoch": best, "validation_by_epoch": history, "config": vars(a)}, f, indent=1)


if __name__ == "__main__":
    train(parse_args())
