"""Reading FASTA files of equal-length sequences."""
import gzip
import os
import re

_FASTA_OK = re.compile(r"^[A-Za-z\-\.\*]*$")


def read_fasta(path):
    """Read a FASTA file (optionally gzipped) into ``(names, sequences)``.

    Sequences may span several lines; blank lines and ``;`` comment lines
    are skipped; the name is the first word of the header line (after
    ``>``), as samtools and pyfaidx name records.  Case is
    kept (:func:`one_hot_encode` accepts lowercase).  Raises ValueError for
    a file without records, sequence text before the first header or
    characters that are not letters (or ``-``, ``.``, ``*``).
    """
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    names, seqs, parts = [], [], None
    try:
        with opener(path, "rt") as handle:
            for lineno, line in enumerate(handle, 1):
                line = line.strip()
                if not line or line.startswith(";"):
                    continue
                if line.startswith(">"):
                    if parts is not None:
                        seqs.append("".join(parts))
                    words = line[1:].split()
                    names.append(words[0] if words else "")
                    parts = []
                    continue
                if parts is None:
                    raise ValueError(
                        "%s line %d: sequence text before the first '>' "
                        "header (is this a FASTA file?)" % (path, lineno))
                line = "".join(line.split())
                if not _FASTA_OK.match(line):
                    bad = next(c for c in line if not _FASTA_OK.match(c))
                    raise ValueError("%s line %d: invalid character %r in "
                                     "a sequence" % (path, lineno, bad))
                parts.append(line)
    except UnicodeDecodeError:
        raise ValueError("%s is not a text FASTA file" % (path,))
    except (OSError, EOFError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError("cannot read FASTA file %s: %s" % (path, exc))
    if parts is not None:
        seqs.append("".join(parts))
    if not seqs:
        raise ValueError("%s contains no FASTA records" % (path,))
    return names, seqs

