"""Build NLTK's ``corpora/wordnet`` (WordNet 3.0) from Debian's ``wordnet-base`` + ``wordnet-sense-index``.

NLTK reads the WordNet database files that Debian ships in ``/usr/share/wordnet`` plus a
``lexnames`` file Debian does not ship (it exists only as the table of the ``lexnames(5WN)`` man
page), which we generate from that man page. Files are real copies: NLTK >= 3.9 refuses symlinks.
"""

from __future__ import annotations

import gzip
import logging
import re
from pathlib import Path

from emcom.data.debian import fetch_deb, iter_deb_files
from emcom.data.staging import staged_folder

log = logging.getLogger(__name__)

WORDNET_PACKAGES = ("wordnet-base", "wordnet-sense-index")
DATABASE_DIR = "usr/share/wordnet/"
LEXNAMES_MAN_PAGE = "usr/share/man/man5/lexnames.5WN.gz"
# Files NLTK's WordNetCorpusReader opens; their absence means the packages changed shape.
REQUIRED_FILES = ("data.noun", "index.noun", "index.sense", "noun.exc", "lexnames")
# lexnames(5WN) table rows: "NN<TAB>noun.animal<TAB>nouns denoting animals"
_LEXNAME_ROW = re.compile(r"^(\d\d)\t(\S+)\s*\t")  # "noun.person  <TAB>" has spaces
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


def lexnames_from_man_page(man_page: str) -> str:
    """The ``lexnames`` file: one line ``NN<TAB>name<TAB>category`` per lexicographer file.

    ``category`` is the syntactic category number WordNet uses (1 noun, 2 verb, 3 adjective,
    4 adverb), read from the prefix of the name (``noun.animal`` -> 1). WordNet 3.0 has 45 rows.
    """
    lines = []
    for row in man_page.splitlines():
        match = _LEXNAME_ROW.match(row)
        if match:
            number, name = match.groups()
            prefix = name.split(".")[0]
            if prefix not in _CATEGORY:
                raise ValueError(f"lexnames man page: unexpected lexicographer file name {name!r}")
            lines.append(f"{number}\t{name}\t{_CATEGORY[prefix]}")
    if len(lines) != 45:
        raise ValueError(f"lexnames man page: expected the 45 rows of WordNet 3.0, found {len(lines)}")
    return "\n".join(lines) + "\n"


def build_wordnet_corpus(out_dir: str | Path, deb_cache: str | Path) -> Path:
    """Write NLTK's WordNet corpus folder ``out_dir`` (``<nltk_data>/corpora/wordnet``).

    Downloads the two Debian packages into ``deb_cache`` if needed. The folder is written beside
    ``out_dir`` and renamed into place, so it is either complete or absent.
    """
    out_dir = Path(out_dir)
    with staged_folder(out_dir) as tmp:
        for package in WORDNET_PACKAGES:
            deb = fetch_deb(package, deb_cache)
            for name, content in iter_deb_files(
                deb, lambda n: n.startswith(DATABASE_DIR) or n == LEXNAMES_MAN_PAGE
            ):
                if name == LEXNAMES_MAN_PAGE:
                    man_page = gzip.decompress(content).decode("utf-8", errors="replace")
                    (tmp / "lexnames").write_text(lexnames_from_man_page(man_page))
                else:
                    (tmp / name[len(DATABASE_DIR):]).write_bytes(content)
        missing = [name for name in REQUIRED_FILES if not (tmp / name).is_file()]
        if missing:
            raise RuntimeError(f"Debian packages {WORDNET_PACKAGES} did not provide {missing}")
        log.info("WordNet 3.0: %d files in %s", sum(1 for _ in tmp.iterdir()), out_dir)
    return out_dir

