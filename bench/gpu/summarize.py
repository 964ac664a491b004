#!/usr/bin/env python3
"""Collects what bench/gpu/run.sh measured into one JSON file and prints a summary.

    python3 bench/gpu/summarize.py LOGS RESULTS_JSON

Reads LOGS/stages.tsv (stage, status, seconds, note), LOGS/env.json, the ctest log of the
gpu-labelled tests (LOGS/ctest_gpu.log), the per-step losses of the training runs
(LOGS/train/<preset>-<precision>.jsonl, mmaux's metrics.jsonl) with their results.json, and the
benchmark lines (LOGS/bench_mmaux.jsonl, LOGS/bench_pytorch.jsonl). The per-step losses go into
the JSON too. Standard library only.

Loss curves: for each preset, the bf16 curve against the float32 one over the steps both logged:
max and mean of |L_bf16 - L_fp32| / |L_fp32|, raw and after a centred moving average over
`window` steps (per-step losses of a few hundred steps are noisy; both runs see the same batches
in the same order and the same initialisation, so the gap is what bf16 changes).
"""
import json
import os
import re
import sys


def read_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def read_jsonl(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    return out


def stages(out):
    rows = []
    try:
        with open(os.path.join(out, "stages.tsv")) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 3:
                    rows.append(dict(stage=parts[0], status=parts[1], seconds=float(parts[2]),
                                     note=parts[3] if len(parts) > 3 else ""))
    except OSError:
        pass
    return rows


def gpu_tests(out):
    """ctest's verdict per test, and the figures the tests print."""
    text = ""
    try:
        with open(os.path.join(out, "ctest_gpu.log"), errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    tests = {}
    for m in re.finditer(r"Test\s+#\d+: (\S+) \.+\s*(\*\*\*)?\s*(Passed|Failed|Not Run|Skipped|\w+[^\n]*?)\s+[\d.]+ sec", text):
        status = m.group(3).strip()
        tests[m.group(1)] = "skipped" if "Skipped" in status else status.lower()
    diffs = [dict(model=m.group(1), itm=m.group(2), max_relative_difference=float(m.group(3)))
             for m in re.finditer(r"(\S+), ITM (\w+): CUDA vs CPU max relative difference (\S+)", text)]
    bf16 = [dict(loss=m.group(1), float32=float(m.group(2)), bf16=float(m.group(3)))
            for m in re.finditer(r"loss (\w+): float32 (\S+), bf16 autocast (\S+)", text)]
    summary = re.search(r"(\d+)% tests passed, (\d+) tests failed out of (\d+)", text)
    return dict(tests=tests, cuda_vs_cpu=diffs, bf16_step=bf16,
                summary=summary.group(0) if summary else None)


def smooth(values, window):
    if window <= 1:
        return list(values)
    half = window // 2
    out = []
    for i in range(len(values)):
        part = values[max(0, i - half):i + half + 1]
        out.append(sum(part) / len(part))
    return out


def gaps(reference, other):
    rel = [abs(b - a) / abs(a) for a, b in zip(reference, other) if a != 0]
    if not rel:
        return None
    return dict(max=max(rel), mean=sum(rel) / len(rel))


def curves(out, window=10):
    result = {}
    train = os.path.join(out, "train")
    if not os.path.isdir(train):
        return result
    presets = sorted({f.rsplit("-", 1)[0] for f in os.listdir(train) if f.endswith(".jsonl")})
    for preset in presets:
        runs = {}
        for precision in ("fp32", "bf16"):
            steps = [r for r in read_jsonl(os.path.join(train, f"{preset}-{precision}.jsonl"))
                     if r.get("kind") == "step"]
            res = read_json(os.path.join(train, f"{preset}-{precision}.results.json"), {}) or {}
            runs[precision] = dict(
                steps=len(steps), loss={r["step"]: r["loss"] for r in steps if "loss" in r},
                train_samples_per_s=res.get("timings", {}).get("train_samples_per_s"),
                test_macro_f1=(res.get("test") or {}).get("macro_f1"),
                skipped_steps=res.get("skipped_steps"))
        entry = {p: {k: v for k, v in r.items() if k != "loss"} for p, r in runs.items()}
        for p, r in runs.items():
            entry[p]["loss_by_step"] = [[k, r["loss"][k]] for k in sorted(r["loss"])]
        common = sorted(set(runs["fp32"]["loss"]) & set(runs["bf16"]["loss"]))
        if common:
            a = [runs["fp32"]["loss"][s] for s in common]
            b = [runs["bf16"]["loss"][s] for s in common]
            entry["compared_steps"] = len(common)
            entry["relative_gap_raw"] = gaps(a, b)
            entry["relative_gap_smoothed"] = gaps(smooth(a, window), smooth(b, window))
            entry["smoothing_window"] = window
            tail = max(1, len(common) // 10)
            entry["fp32_loss_first_last"] = [sum(a[:tail]) / tail, sum(a[-tail:]) / tail]
            entry["bf16_loss_first_last"] = [sum(b[:tail]) / tail, sum(b[-tail:]) / tail]
        result[preset] = entry
    return result


def throughput(out):
    mm = read_jsonl(os.path.join(out, "bench_mmaux.jsonl"))
    pt = read_jsonl(os.path.join(out, "bench_pytorch.jsonl"))
    rows = []
    for m in mm:
        row = dict(m)
        for p in pt:
            if p.get("model") == m.get("model") and p.get("preset") == m.get("preset") \
                    and p.get("batch") == m.get("batch") and "samples_per_s" in p and "samples_per_s" in m:
                att = p.get("attention", "eager")
                row[f"pytorch_{att}_samples_per_s"] = p["samples_per_s"]
                row[f"pytorch_{att}_mfu_nominal"] = p.get("mfu_nominal")
                row[f"ratio_vs_pytorch_{att}"] = m["samples_per_s"] / p["samples_per_s"]
        rows.append(row)
    return dict(mmaux=mm, pytorch=pt, side_by_side=rows)


def main():
    out, target = sys.argv[1], sys.argv[2]
    env = read_json(os.path.join(out, "env.json"), {})
    failures = []
    try:
        with open(os.path.join(out, "build_failures.txt")) as f:
            failures = [l.strip() for l in f if l.strip()]
    except OSError:
        pass
    results = dict(
        schema="mmaux-gpu-run-1",
        build_failures=failures,
        mode=env.get("mode"),
        env=env,
        stages=stages(out),
        gpu_tests=gpu_tests(out),
        bf16_training=curves(out),
        throughput=throughput(out),
        targets=dict(note="ber-vit-base: >= 0.40 MFU (bf16, of 989 TFLOP/s) and >= 1.3x the plain PyTorch loop"),
    )
    # Verdicts, each with its rule: the GPU tests ran (none skipped) and passed; the bf16 loss
    # curve stays within 5 % of float32's on average (10-step moving averages) for every preset.
    t = results["gpu_tests"] or {}
    statuses = list((t.get("tests") or {}).values())
    results["verdict"] = dict(
        gpu_tests_ran_and_passed=bool(statuses) and all(v == "passed" for v in statuses),
        bf16_curves_within_5_percent=bool(results["bf16_training"]) and all(
            (c.get("relative_gap_smoothed") or {}).get("mean", 1) <= 0.05
            for c in results["bf16_training"].values()),
        rules="gpu tests: every test labelled gpu passed, none skipped; bf16: mean relative gap of "
              "the 10-step moving averages <= 0.05 for every preset trained")
    base = [r for r in results["throughput"]["side_by_side"] if r.get("preset") == "ber-vit-base"]
    if base:
        r = base[0]
        results["targets"].update(
            ber_vit_base_mfu_nominal=r.get("mfu_nominal"),
            ber_vit_base_ratio_vs_pytorch_eager=r.get("ratio_vs_pytorch_eager"),
            ber_vit_base_ratio_vs_pytorch_sdpa=r.get("ratio_vs_pytorch_sdpa"))
    with open(target, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)

    print(f"== mmaux GPU run ({results['mode']}): {target}")
    print(f"  verdict: {json.dumps({k: v for k, v in results['verdict'].items() if k != 'rules'})}")
    for s in results["stages"]:
        print(f"  {s['stage']:<12} {s['status']:<8} {s['seconds']:7.1f} s  {s['note']}")
    t = results["gpu_tests"]
    if t:
        print(f"  gpu tests: {t['summary']}; " + ", ".join(f"{k} {v}" for k, v in sorted(t["tests"].items())))
        for d in t["cuda_vs_cpu"]:
            print(f"    {d['model']} ITM {d['itm']}: CUDA vs CPU {d['max_relative_difference']:.3g}")
    for preset, c in results["bf16_training"].items():
        g, s = c.get("relative_gap_raw"), c.get("relative_gap_smoothed")
        if g:
            print(f"  bf16 vs fp32 loss, {preset}, {c['compared_steps']} steps: raw max {g['max']:.3f} mean {g['mean']:.4f}; "
                  f"smoothed max {s['max']:.3f} mean {s['mean']:.4f}")
    for r in results["throughput"]["side_by_side"]:
        if "samples_per_s" not in r:
            print(f"  {r.get('model')} {r.get('preset')}: failed")
            continue
        extra = "".join(f", x{r[k]:.2f} vs PyTorch {k.rsplit('_', 1)[1]}" for k in sorted(r) if k.startswith("ratio_vs_pytorch_"))
        print(f"  {r['model']} {r['preset']} batch {r['batch']}: {r['samples_per_s']:.1f} samples/s, "
              f"MFU {100 * r['mfu_nominal']:.1f}% (nominal), {100 * r['mfu_measured']:.1f}% (measured matmul){extra}")


if __name__ == "__main__":
    main()
