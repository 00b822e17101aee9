"""Genome-scale attribution, end to end, on generated data (no downloads,
no shared fixtures).

Writes a random genome (two chromosomes, some soft-masked and N bases) and
a narrowPeak file of regions with embedded GATA motifs, then runs the
model shipped in the package through:

    deeplift contribs MODEL --genome genome.fa --regions peaks.narrowPeak \
        --out scores.zarr          (chunked, resumable; --workers N for Dask)
    deeplift status scores.zarr
    deeplift export scores.zarr --h5 ... --modisco ... --bigwig ...

    python examples/genomics/genome_scale_example.py [--regions 200]
        [--workers 2] [--out genome_scale_out]
"""
import argparse
import os
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def write_inputs(out, num_regions, seed=0):
    """genome.fa and peaks.narrowPeak under ``out``; returns their paths."""
    from deeplift.genomics import GATA_PWM
    rng = np.random.RandomState(seed)
    sizes = {"chrA": 200000, "chrB": 100000}
    genome = os.path.join(out, "genome.fa")
    peaks = os.path.join(out, "peaks.narrowPeak")
    seqs = {}
    for name, size in sizes.items():
        bases = np.array(list("ACGT"))[rng.randint(0, 4, size)]
        masked = rng.rand(size) < 0.1
        bases[masked] = np.char.lower(bases[masked])
        bases[rng.rand(size) < 0.002] = "N"
        seqs[name] = bases
    with open(peaks, "w") as handle:
        for i in range(num_regions):
            name = "chrA" if i % 3 else "chrB"
            start = int(rng.randint(0, sizes[name] - 300))
            summit = int(rng.randint(60, 240))
            centre = start + summit
            motif = "".join(
                "ACGT"[rng.choice(4, p=row / row.sum())] for row in GATA_PWM)
            seqs[name][centre - 5:centre + 5] = list(motif)
            handle.write("%s\t%d\t%d\tpeak%d\t0\t.\t1\t1\t1\t%d\n"
                         % (name, start, start + 300, i, summit))
    with open(genome, "w") as handle:
        for name, bases in seqs.items():
            handle.write(">%s generated\n" % name)
            text = "".join(bases)
            for i in range(0, len(text), 80):
                handle.write(text[i:i + 80] + "\n")
    return genome, peaks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regions", type=int, default=200)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", default="genome_scale_out")
    args = parser.parse_args(argv)
    sys.path.insert(0, REPO)
    from deeplift.cli import DEMO_MODEL
    from deeplift.cli import main as deeplift
    os.makedirs(args.out, exist_ok=True)
    genome, peaks = write_inputs(args.out, args.regions)
    store = os.path.join(args.out, "scores.zarr")
    command = ["contribs", DEMO_MODEL, "--genome", genome, "--regions", peaks,
               "--task", "1", "--reference", "dinuc-shuffle:10", "--out",
               store, "--chunk-size", "64"]
    if args.workers:
        command += ["--workers", str(args.workers)]
    steps = [command, ["status", store],
             ["export", store, "--h5", os.path.join(args.out, "scores.h5"),
              "--modisco", os.path.join(args.out, "shap"), "--window", "100",
              "--bigwig", os.path.join(args.out, "scores.bw")]]
    for step in steps:
        print("$ deeplift " + " ".join(step[:1] + [os.path.basename(s)
                                                   for s in step[1:3]]) +
              " ...")
        status = deeplift(step)
        if status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
