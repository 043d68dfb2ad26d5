"""Errors of the evaluation and analysis stages whose message names the file: the CLI prints them as
one line with exit code 2 (``emcom.cli.USER_ERRORS``)."""


class ModelFileError(ValueError):
    """A file that is not a readable emcom model; the message names it."""


class ItemsFileError(ValueError):
    """A per-item file is missing, unreadable or lacks columns; the message names the file."""


class SimilarityError(ValueError):
    """The class similarity table cannot be built or read (e.g. wnids unknown to WordNet); names the file."""


EVALUATION_ERRORS = (ModelFileError, ItemsFileError, SimilarityError)
