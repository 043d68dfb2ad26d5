"""Linear evaluation (Table 3): the agents' CNNs as general visual features, VISSL's protocol without VISSL.

``kinds`` says which datasets the config fills in and their protocol (torch-free, for the DAG).
``trunk`` (frozen CNN, res5 pooling) -> ``features`` (cached per split) -> ``linear`` (BN + Linear
head, top-1/top-5) or ``svm`` (VOC07, mAP) -> ``table`` (Table 3). ``datasets`` reads each
benchmark's own layout; ``run`` picks the protocol for one model × dataset.
"""
