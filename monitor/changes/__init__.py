"""Change stage: two versions' clauses in, `ClauseChange`s out (kind, direction, reason, word diff).

`compare.py` aligns the versions and describes each change, `signals.py` reads its direction from the
clauses' categories and features, `diff.py` makes the word diff."""

from monitor.changes.compare import ClauseChange, compare_clauses
from monitor.changes.diff import Diff, word_diff

__all__ = ["ClauseChange", "Diff", "compare_clauses", "word_diff"]
