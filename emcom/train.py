"""``python -m emcom.train CONFIG --out DIR``: train one model (same as ``emcom train``)."""

from emcom.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["train", *__import__("sys").argv[1:]]))
