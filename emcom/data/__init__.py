"""Datasets in one layout (:mod:`emcom.data.folder`) and the builders that produce them.

Builders (run by ``rules/data.smk``): :mod:`emcom.data.stamps` (the embedded default, from Debian's
``tuxpaint-stamps-default``), :mod:`emcom.data.fashion_mnist`, :mod:`emcom.data.imagenet` (your
ILSVRC-2012 copy and the paper's OOD set). Generated on the fly: :mod:`emcom.data.noise`.

Nothing is imported here, so building a dataset does not pay for importing torch.
"""
