#!/usr/bin/env python
"""Randomised differential run against the original deeplift 0.6.13.

    python scripts/differential_sweep.py --seeds 0:40 [--work DIR]
        [--summary scripts/differential_results.md]
    python scripts/differential_sweep.py --seeds 0:8 --fixture
        # writes the CI sample into tests/data/original/differential/

Random small Keras-2 models (tests/reference/random_models.py) x random
inputs and references x the five modes (Rescale, RevealCancel,
DeepLIFT_GenomicsDefault, Gradient, GuidedBackprop) run through the
original (under tensorflow.compat.v1, its own process) and through this
package; the summary lists the cases, the worst divergence relative to the
score scale (max |ours - original| / max |original| per returned array)
per mode, and every array above 1e-4.  Needs tf_keras; fetches
deeplift==0.6.13.0 unless DEEPLIFT_ORIGINAL_DIR points to it.
"""
import argparse
import collections
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests", "reference"))

import differential  # noqa: E402

FIXTURE_DIR = os.path.join(REPO, "tests", "data", "original", "differential")
LIMIT = 1e-4


def seeds_from(text):
    start, _, stop = text.partition(":")
    return list(range(int(start), int(stop))) if stop else [int(start)]


def summarise(records, seeds, families, command):
    by_mode = collections.defaultdict(list)
    for r in records:
        by_mode[r["conversion"].split("_", 1)[1]].append(r)
    counts = collections.Counter(families)
    lines = ["# Differential run against deeplift 0.6.13", "",
             "`%s`: %d random models (%s), %d conversions, %d compared "
             "arrays." % (command, len(seeds),
                          ", ".join("%s %d" % kv for kv in
                                    sorted(counts.items())),
                          len({r["conversion"] for r in records}),
                          len(records)),
             "", "Divergence = max |ours - original| / max |original| per "
             "returned array (contributions or multipliers of the input).",
             "", "| mode | arrays | worst divergence | worst case | "
             "arrays > %g |" % LIMIT, "|---|---|---|---|---|"]
    for mode in sorted(by_mode):
        rs = by_mode[mode]
        worst = max(rs, key=differential.relative)
        lines.append("| %s | %d | %.2e | %s | %d |" % (
            mode, len(rs), differential.relative(worst), worst["key"],
            sum(1 for r in rs if differential.relative(r) > LIMIT)))
    problems = [r for r in records if r["problem"]
                or differential.relative(r) > LIMIT]
    lines += ["", "Arrays above %g or with problems: %d" % (LIMIT,
                                                           len(problems))]
    for r in problems:
        lines.append("- %s: %s" % (r["key"] or r["conversion"],
                                   r["problem"] or "%.3e (err %.3e, scale "
                                   "%.3e)" % (differential.relative(r),
                                              r["err"], r["scale"])))
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--seeds", default="0:40")
    parser.add_argument("--work", default=None)
    parser.add_argument("--fixture", action="store_true",
                        help="write the models, inputs, spec and the "
                             "original's outputs into %s" % FIXTURE_DIR)
    parser.add_argument("--summary",
                        default=os.path.join(HERE,
                                             "differential_results.md"))
    parser.add_argument("--family", default=None,
                        help="one model family for every seed (e.g. "
                             "issue12); default: by seed")
    parser.add_argument("--modes", default=None,
                        help="comma-separated modes (default: the five)")
    parser.add_argument("--examples", type=int, default=6)
    parser.add_argument("--skip-original", action="store_true",
                        help="reuse expected_differential.npz in --work")
    args = parser.parse_args(argv)
    seeds = seeds_from(args.seeds)
    work = FIXTURE_DIR if args.fixture else (
        args.work or tempfile.mkdtemp(prefix="deeplift-diff-"))
    if args.fixture and os.path.isdir(work):
        shutil.rmtree(work)
    spec = differential.write_cases(
        seeds, work, family=args.family, n=args.examples,
        modes=args.modes.split(",") if args.modes else None)
    expected = os.path.join(work, "expected_differential.npz")
    if not args.skip_original:
        differential.run_original(spec, expected)
    records = differential.compare(spec, expected)
    with open(spec) as f:
        families = [case["family"] for case in json.load(f)["cases"]]
    command = "python scripts/differential_sweep.py --seeds %s%s%s%s" % (
        args.seeds, " --family " + args.family if args.family else "",
        " --modes " + args.modes if args.modes else "",
        " --examples %d" % args.examples if args.examples != 6 else "")
    text = summarise(records, seeds, families, command)
    if not args.fixture:
        with open(args.summary, "w") as f:
            f.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
