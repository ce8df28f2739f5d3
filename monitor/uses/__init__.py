"""Uses stage: a planned use (`uses.yaml`) and a document's clauses in; whether the document forbids, allows or
conditions it, under which clauses, since when, out. `answer.py` holds every decision; `history.py` finds the
versions where an answer changed; `queries.py` reads the database; `alerts.py` queues subscribers' messages."""

from monitor.uses.answer import ANSWERS, Answer, CitedClause, answer_use
from monitor.uses.history import AnswerChange, answer_changes
from monitor.uses.model import SHIPPED_USES, USES_ENV, Use, find_use, load_uses, use_from_fields

__all__ = ["ANSWERS", "SHIPPED_USES", "USES_ENV", "Answer", "AnswerChange", "CitedClause", "Use", "answer_changes",
           "answer_use", "find_use", "load_uses", "use_from_fields"]
