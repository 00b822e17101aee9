"""``deeplift status STORE``: how far a chunked score store is, and its
settings."""
import json

from deeplift.cli.common import CLIError


def cmd_status(args):
    from deeplift.genomics.store import (ScoreStore, StoreError,
                                         describe_kernels)
    try:
        store = ScoreStore.open(args.store)
    except StoreError as exc:
        raise CLIError(str(exc))
    done = store.done_mask()
    rows = sum(b - a for a, b in map(store.rows, range(store.num_chunks))
               if done[a // store.chunk_size])
    print("%s: %d/%d chunks done (%d/%d rows)%s"
          % (args.store, int(done.sum()), store.num_chunks, rows, store.num,
             "; complete" if done.all() else
             "; rerun the same deeplift contribs command to finish"))
    if args.json:
        print(json.dumps({"done_chunks": int(done.sum()),
                          "num_chunks": store.num_chunks,
                          "done_rows": rows, "num_rows": store.num,
                          "settings": store.settings,
                          "fingerprint": store.fingerprint,
                          "kernels": store.kernels,
                          "lock": store.lock_holder()},
                         sort_keys=True))
        return 0
    table = store.region_table(kept_only=False)
    if table is not None:
        print("regions: %d in the file, %d scored, %d left out (off their "
              "chromosome)" % (len(table), int(table.kept.sum()),
                               int((~table.kept).sum())))
    if store.kernels:
        print("scored with %s" % describe_kernels(store.kernels))
    holder = store.lock_holder()
    if holder is not None:
        print("in use by process %s on host %s (since %s)"
              % (holder.get("pid"), holder.get("host"), holder.get("since")))
    for key in sorted(store.settings):
        value = store.settings[key]
        if value is not None:
            print("  %s: %s" % (key, value))
    return 0


def add_parser(sub):
    """Add the ``status`` subcommand to the subparsers ``sub``."""
    status = sub.add_parser(
        "status", help="progress and settings of a chunked score store",
        description="Print how many chunks of a score store (deeplift "
        "contribs --out SCORES.zarr) are done, and the settings it was "
        "made with.")
    status.add_argument("store", metavar="SCORES.zarr")
    status.add_argument("--json", action="store_true",
                        help="also print the counts, settings and "
                        "fingerprint as one JSON line")
    status.set_defaults(func=cmd_status)
