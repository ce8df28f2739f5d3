"""Uses stage: a planned use (`uses.yaml`) and a document's clauses in; whether the document forbids, allows or
conditions it, under which clauses, since when, out. `answer.py` combines the verdicts of a document's clauses
(`restrictions.py`, `grants.py`, `definitions.py`, `reach.py`; `verdict.py` their shared types); `history.py` finds the
versions where an answer changed; `queries.py` reads the database; `alerts.py` queues subscribers' messages."""

from monitor.uses.answer import Answer, answer_use
from monitor.uses.history import AnswerChange, answer_changes
from monitor.uses.model import SHIPPED_USES, USES_ENV, Use, find_use, load_uses, use_from_fields
from monitor.uses.verdict import ANSWERS, CitedClause

__all__ = ["ANSWERS", "SHIPPED_USES", "USES_ENV", "Answer", "AnswerChange", "CitedClause", "Use", "answer_changes",
           "answer_use", "find_use", "load_uses", "use_from_fields"]
