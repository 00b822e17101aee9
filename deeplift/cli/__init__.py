"""The ``deeplift`` command line tool.

Subcommands:

* ``deeplift demo``: score simulated GATA/TAL1 sequences with the small
  model shipped in the package, compare attribution methods and write
  sequence logos (no downloads);
* ``deeplift contribs MODEL``: hypothetical and actual contributions of the
  sequences of a FASTA or ``.npy`` file, written to an ``.npz`` file (or the
  ``.ohe.npz`` / ``.shap.npz`` pair that TF-MoDISco-lite reads);
  with ``--genome``/``--regions`` and ``--out SCORES.zarr``, a chunked,
  resumable store (optionally on Dask: ``--workers``, ``--scheduler``);
* ``deeplift status SCORES.zarr``: chunks done and settings of a store;
* ``deeplift export SCORES.zarr``: ChromBPNet h5 + BED, modisco .npz pair,
  bigWig;
* ``deeplift convert MODEL``: show the converted layer graph and check the
  forward pass against Keras.

Errors in what the user gave (files, options, sequence lengths, task
indices) are reported as one line ``deeplift: error: ...`` on stderr with
exit status 2, and nothing is written.
"""
import os
import sys

from deeplift.cli import contribs, convert, demo, export, status
from deeplift.cli.common import (DEMO_MODEL, PROG, CLIError, _Parser,
                                 _quiet_native_stderr)
from deeplift.cli.contribs import cmd_contribs
from deeplift.cli.convert import cmd_convert
from deeplift.cli.demo import DEMO_METHODS, cmd_demo

__all__ = ["main", "build_parser", "CLIError", "DEMO_MODEL", "DEMO_METHODS",
           "cmd_contribs", "cmd_convert", "cmd_demo"]

#: the subcommand modules, in the order of ``deeplift --help``; each has
#: ``add_parser(subparsers)``
SUBCOMMANDS = (demo, contribs, status, export, convert)


def build_parser():
    """The ``deeplift`` argument parser with every subcommand."""
    parser = _Parser(
        prog=PROG, description="DeepLIFT attribution scores for Keras "
        "models (TensorFlow 2 / Keras 3).")
    from deeplift import __version__
    parser.add_argument("--version", action="version",
                        version="%(prog)s " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                parser_class=_Parser)
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv=None):
    """Entry point of the ``deeplift`` command; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with _quiet_native_stderr():
            parser = build_parser()
            args = parser.parse_args(argv)
            if getattr(args, "func", None) is None:
                parser.print_help()
                return 2
            return args.func(args)
    except CLIError as exc:
        sys.stderr.write("%s: error: %s\n" % (PROG, " ".join(
            str(exc).split())))
        sys.stderr.flush()
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("%s: interrupted\n" % PROG)
        return 130
    except BrokenPipeError:
        return 1


