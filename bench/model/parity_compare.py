#!/usr/bin/python3
"""Compares the per-step losses of two metrics.jsonl files (mmaux train, python_train.py).

Prints, per step range, the largest relative difference |a − b| / |a| of the total loss, of CE, of
ITC, of the logit scale after the step and of the learning rate, and the step where the loss
differs most; then the epoch validation scores of both. Part of bench/model/parity.sh.

    /usr/bin/python3 bench/model/parity_compare.py MMAUX/metrics.jsonl PYTHON/metrics.jsonl \\
        [--ranges 1-10,11-50,51-150] [--label fp32] [--names mmaux,python]
"""
import argparse
import json


def steps(path):
    out, epochs = {}, []
    for line in open(path):
        r = json.loads(line)
        if r.get("kind") == "step":
            out[r["step"]] = r
        elif r.get("kind") == "epoch" and "validation" in r:
            epochs.append(r["validation"])
    return out, epochs


def rel(a, b):
    return abs(a - b) / abs(a) if a != 0 else abs(a - b)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mmaux")
    p.add_argument("python")
    p.add_argument("--ranges", default="1-10,11-50,51-150")
    p.add_argument("--label", default="")
    p.add_argument("--names", default="mmaux,python", help="what the two files are, for the printout")
    a = p.parse_args()
    first, second = a.names.split(",")
    m, m_epochs = steps(a.mmaux)
    q, q_epochs = steps(a.python)
    label = f" [{a.label}]" if a.label else ""
    print(f"per-step agreement{label}: max relative difference |{first} - {second}| / |{first}|")
    print(f"{'steps':>9} {'loss':>10} {'(at)':>5} {'ce':>10} {'itc':>10} {'logit_s':>10} {'lr':>9}")
    for span in a.ranges.split(","):
        lo, hi = (int(x) for x in span.split("-"))
        common = [s for s in range(lo, hi + 1) if s in m and s in q]
        if len(common) != hi - lo + 1:
            raise SystemExit(f"steps {span}: only {len(common)} of {hi - lo + 1} logged by both runs "
                             f"(run both with a log interval of 1 and at least {hi} steps)")
        worst = {k: max(rel(m[s][k], q[s][k]) for s in common) for k in ("loss", "ce", "itc", "logit_scale", "lr")}
        at = max(common, key=lambda s: rel(m[s]["loss"], q[s]["loss"]))
        print(f"{span:>9} {worst['loss']:10.2e} {at:5d} {worst['ce']:10.2e} {worst['itc']:10.2e} "
              f"{worst['logit_scale']:10.2e} {worst['lr']:9.1e}")
    last = max(s for s in m if s in q)
    print(f"step {last}: loss {first} {m[last]['loss']:.9g}, {second} {q[last]['loss']:.9g}")
    for e, (x, y) in enumerate(zip(m_epochs, q_epochs)):
        print(f"epoch {e + 1} validation macro F1: {first} {x['macro_f1']:.4f}, {second} {y['macro_f1']:.4f}; "
              f"loss {x['loss']:.6g} vs {y['loss']:.6g}")


if __name__ == "__main__":
    main()
