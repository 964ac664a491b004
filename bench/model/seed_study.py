#!/usr/bin/python3
"""Seed study: CE vs CE + ITC, in mmaux and in the plain-PyTorch reference (python_train.py).

Trains the demo's setting (configs/demo.ini: tiny ber-vit-concat, batch 32, lr 1e-3 linear with
10 % warmup, clip 1, dropout 0.05 classifier / 0.1 text tower) for --epochs epochs (the issue's
10) from scratch, once per seed, arm and implementation:

    arm ce   loss.itc 0    (CE weight 1)
    arm itc  loss.itc 0.1  (CE weight 0.9: the paper's and the demo's weights)

mmaux runs as one process (W ranks equal one process on the global batch, tests/dist); each
implementation initialises from the seed in its own generator (same distributions), reads the
batches in the loader's order for that seed and draws its own dropout masks. Runs are
independent draws, so the two implementations are compared as distributions, not run by run.

Prints per cell the final (last-epoch) validation macro F1 of every seed, mean ± std, how many
runs reach the data's ceiling (final macro F1 >= --ceiling), the median after epoch 4, and
two-sample tests (Welch t, Mann-Whitney U, Fisher's exact test on the ceiling counts): mmaux vs
Python per arm, and CE vs CE + ITC per implementation. A run whose results exist is not trained
again, so an interrupted study continues where it stopped; --report-only prints what exists.

    /usr/bin/python3 bench/model/seed_study.py build [--seeds 1-10] [--epochs 10] [--out runs/seed-study]
        [--data data/demo/shards] [--threads 2] [--report-only]

Needs /usr/bin/python3 with python3-torch, python3-h5py and python3-scipy (apt-get install
python3-h5py python3-scipy); mpirun is not used.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ARMS = {"ce": 0.0, "itc": 0.1}
IMPLS = ("mmaux", "python")


def seeds_of(text):
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def ensure_data(mmaux, data):
    if os.path.exists(os.path.join(data, "manifest.json")):
        return
    raw = os.path.join(os.path.dirname(data.rstrip("/")), "raw")
    if not os.path.exists(os.path.join(raw, "posts.csv")):
        subprocess.run([mmaux, "synth", "--out", raw, "--posts", "1500", "--seed", "1"], check=True)
    subprocess.run([mmaux, "preprocess", "--dataset", "csv", "--raw", raw, "--out", data, "--model",
                    os.path.join(raw, "model")], check=True)


def command(impl, mmaux, a, arm, seed, out):
    itc = str(ARMS[arm])
    if impl == "mmaux":
        return [mmaux, "train", "--config", os.path.join(ROOT, "configs/demo.ini"), "--data.dir", a.data,
                "--loss.itc", itc, "--train.seed", str(seed), "--train.epochs", str(a.epochs),
                "--train.out", out, "--dist.threads", str(a.threads)]
    return [sys.executable, os.path.join(HERE, "python_train.py"), "--data", a.data, "--out", out, "--itc", itc,
            "--seed", str(seed), "--epochs", str(a.epochs), "--threads", str(a.threads), "--log-every", "20"]


def epochs_of(run):
    path = os.path.join(run, "metrics.jsonl")
    if not os.path.exists(os.path.join(run, "results.json")) or not os.path.exists(path):
        return None
    out = [json.loads(l)["validation"]["macro_f1"] for l in open(path) if '"validation"' in l]
    return out or None


def fmt_p(p):
    return f"{p:.3g}"


def report(cells, a):
    import scipy.stats as st
    print(f"\nseed study: final validation macro F1 after {a.epochs} epochs (ceiling: >= {a.ceiling})")
    print(f"{'cell':<14} {'n':>3} {'mean':>7} {'std':>7} {'ceiling':>8} {'ep4 med':>8}  per seed")
    for (impl, arm), runs in cells.items():
        finals = [r[-1] for r in runs.values()]
        if not finals:
            continue
        ep4 = [r[3] for r in runs.values() if len(r) > 3]
        reach = sum(f >= a.ceiling for f in finals)
        std = statistics.stdev(finals) if len(finals) > 1 else 0.0
        print(f"{impl + ' ' + arm:<14} {len(finals):3d} {statistics.mean(finals):7.3f} {std:7.3f} "
              f"{reach:3d}/{len(finals):<4d} {statistics.median(ep4) if ep4 else float('nan'):8.3f}  "
              + " ".join(f"{s}:{runs[s][-1]:.3f}" for s in sorted(runs)))
    print(f"\n{'comparison':<28} {'Welch t p':>10} {'Mann-Whitney p':>15} {'Fisher p (ceiling)':>19}")
    pairs = [((("mmaux", arm), ("python", arm)), f"{arm}: mmaux vs python") for arm in ARMS]
    pairs += [(((impl, "ce"), (impl, "itc")), f"{impl}: ce vs ce+itc") for impl in IMPLS]
    summary = {}
    for (x, y), label in pairs:
        fx = [r[-1] for r in cells[x].values()]
        fy = [r[-1] for r in cells[y].values()]
        if len(fx) < 2 or len(fy) < 2:
            continue
        welch = st.ttest_ind(fx, fy, equal_var=False).pvalue
        mw = st.mannwhitneyu(fx, fy, alternative="two-sided").pvalue
        rx, ry = sum(f >= a.ceiling for f in fx), sum(f >= a.ceiling for f in fy)
        fisher = st.fisher_exact([[rx, len(fx) - rx], [ry, len(fy) - ry]]).pvalue
        summary[label] = dict(welch_p=welch, mann_whitney_p=mw, fisher_p=fisher)
        print(f"{label:<28} {fmt_p(welch):>10} {fmt_p(mw):>15} {fmt_p(fisher):>19}")
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump({"epochs": a.epochs, "ceiling": a.ceiling, "tests": summary,
                   "runs": {f"{i}-{arm}": runs for (i, arm), runs in cells.items()}}, f, indent=1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("build", help="mmaux build directory (BUILD/bin/mmaux)")
    p.add_argument("--seeds", default="1-10")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--out", default="runs/seed-study")
    p.add_argument("--data", default="data/demo/shards", help="made by synth + preprocess when absent")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ceiling", type=float, default=0.95, help="final macro F1 that counts as the ceiling")
    p.add_argument("--report-only", action="store_true")
    a = p.parse_args()
    mmaux = os.path.abspath(os.path.join(a.build, "bin", "mmaux"))
    os.makedirs(a.out, exist_ok=True)
    if not a.report_only:
        ensure_data(mmaux, a.data)
    cells = {(impl, arm): {} for impl in IMPLS for arm in ARMS}
    # Seed by seed, so that a study stopped early has the same seeds in every cell.
    for seed in seeds_of(a.seeds):
        for arm in ARMS:
            for impl in IMPLS:
                run = os.path.join(a.out, f"{impl}-{arm}-s{seed}")
                if epochs_of(run) is None and not a.report_only:
                    os.makedirs(run, exist_ok=True)
                    t0 = time.time()
                    with open(os.path.join(run, "train.log"), "w") as log:
                        rc = subprocess.run(command(impl, mmaux, a, arm, seed, run), stdout=log,
                                            stderr=subprocess.STDOUT).returncode
                    if rc != 0:
                        raise SystemExit(f"{run} failed (exit {rc}): see {run}/train.log")
                    print(f"[seed-study] {impl} {arm} seed {seed}: final macro F1 {epochs_of(run)[-1]:.4f} "
                          f"({time.time() - t0:.0f} s)", flush=True)
                if epochs_of(run) is not None:
                    cells[(impl, arm)][seed] = epochs_of(run)
    report(cells, a)


if __name__ == "__main__":
    main()
