"""What the trained agents say, for a reader: Tables 1-2, Figures 3, 4 and A.7, the claims check.

Everything here reads the evaluation and analysis files (INTERFACES.md) and the paper's numbers
(``data/paper_results.yaml``); nothing here runs a model.
"""
