#!/usr/bin/env bash
# Set up a fresh Debian machine for emcom; safe to run again (it skips what is done).
#  - Debian package lists: the data rules fetch .deb files with `apt-get download` (never install them).
#  - .venv with the pinned Python dependencies and emcom itself (editable).
set -euo pipefail
cd "$(dirname "$0")"

if command -v apt-get >/dev/null 2>&1; then
    if ! apt-cache show tuxpaint-stamps-default >/dev/null 2>&1; then
        echo "install.sh: updating Debian package lists (apt-get update)" >&2
        if [ "$(id -u)" = 0 ]; then apt-get update -qq; else sudo apt-get update -qq; fi
    fi
else
    echo "install.sh: no apt-get here; the embedded default needs Debian packages (see README)" >&2
fi

# torch's CUDA build and its libraries take ~6.5 GB: say so up front instead of pip's "No space left on
# device" half-way through an install (only when torch is not installed yet).
needed_kb=$((8 * 1024 * 1024))
if ! compgen -G ".venv/lib/python3*/site-packages/torch" >/dev/null; then
    free_kb=$(df --output=avail -k . | tail -1 | tr -d ' ')
    if [ "$free_kb" -lt "$needed_kb" ]; then
        echo "install.sh: $(pwd) has $((free_kb / 1024)) MiB free; the .venv (torch and its CUDA libraries)" \
             "needs about 8 GiB. Free some space and run ./install.sh again." >&2
        exit 1
    fi
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# torch/torchvision are pinned in pyproject.toml; pip takes them from the machine's local cache.
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[workflow,dev]'
echo "install.sh: ready (.venv/bin/snakemake, .venv/bin/python -m pytest)" >&2
