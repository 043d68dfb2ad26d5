"""Protocol analysis (Table 2): nMI and WNSim with permutation tests, from per-item files."""

from emcom.analysis.protocol import analyse_protocol, analyse_symbols
from emcom.analysis.scores import ProtocolScores, group_by_symbol, permutation_p_value
from emcom.analysis.similarity import SimilarityError, read_class_similarity, write_class_similarity

__all__ = [
    "ProtocolScores", "SimilarityError", "analyse_protocol", "analyse_symbols", "group_by_symbol",
    "permutation_p_value", "read_class_similarity", "write_class_similarity",
]
