""""Can we…?" pages: a use (form fields, or a use id of the uses file) and a session in; each document's answer
(as of a date) and the use's history, as the plain dicts the templates and the /api mirrors render."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from monitor.errors import ConfigError, UsageError
from monitor.timestamps import parse_time
from monitor.uses.verdict import ANSWERS
from monitor.uses.model import (ACTS, BASE_MODELS, DISTRIBUTIONS, MODELS, OBJECTS, PARTIES, PLATFORMS, PURPOSES,
                                SHIPPED_USES, Use, load_uses, use_from_fields, uses_path)
from monitor.uses.queries import answer_history, answers_as_of
from monitor.web.queries import NotFound

FIELDS = {"act": ACTS, "object": OBJECTS, "model": MODELS, "purpose": PURPOSES, "distribution": DISTRIBUTIONS,
          "party": PARTIES, "base_model": BASE_MODELS, "platform": PLATFORMS}
FIELD_LABELS = {"act": "What you do", "object": "With what", "model": "Kind of model", "purpose": "Purpose",
                "distribution": "Who gets the result", "party": "Who does it", "base_model": "Whose model is trained",
                "platform": "Where the training runs"}

# Free-text fields: territories the user is based in (comma-separated), and its monthly active users.
TEXT_FIELDS = {"based_in": "Based in (territories, comma-separated)", "monthly_active_users": "Monthly active users"}


def _at(query: dict[str, str]) -> tuple[str | None, Any]:
    at = (query.get("at") or "").strip() or None
    return at, parse_time(at) if at else None


def _known_uses() -> tuple[str, list[Use]]:
    """The uses file in force (named without the server's folders) and its uses."""
    try:
        file, uses = load_uses()
    except ConfigError as error:
        folder = str(uses_path()[0].parent) + "/"
        raise UsageError(str(error).replace(folder, "")) from None
    return ("the shipped examples" if file == SHIPPED_USES else file.name), uses


def _summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts = {answer: 0 for answer in ANSWERS}
    for row in rows:
        counts[row["answer"]] = counts.get(row["answer"], 0) + 1
    return {answer: count for answer, count in counts.items() if count}


def can_page(session: Session, query: dict[str, str]) -> dict[str, Any]:
    """The form, the uses of the uses file, and (once act and object are chosen) every document's answer."""
    at, moment = _at(query)
    file, uses = _known_uses()
    chosen = {name: query.get(name, "").strip() for name in (*FIELDS, *TEXT_FIELDS)}
    data: dict[str, Any] = {
        "at": at, "fields": {name: list(values) for name, values in FIELDS.items()}, "labels": FIELD_LABELS,
        "text_fields": TEXT_FIELDS, "chosen": chosen, "uses_file": file,
        "uses": [{"id": use.id, "title": use.title, "describe": use.describe()} for use in uses],
        "use": None, "answers": [], "summary": {},
    }
    if chosen["act"] and chosen["object"]:
        use = use_from_fields({**chosen, "based_in": [part for part in chosen["based_in"].split(",") if part.strip()]},
                              "custom")
        data["use"] = {**use.fields(), "describe": use.describe()}
        data["answers"] = answers_as_of(session, use, moment)
        data["summary"] = _summary(data["answers"])
    return data


def use_page(session: Session, use_id: str, query: dict[str, str]) -> dict[str, Any]:
    """One use of the uses file: its fields, every document's answer as of a date, and when each changed."""
    at, moment = _at(query)
    file, uses = _known_uses()
    use = next((item for item in uses if item.id == use_id), None)
    if use is None:
        raise NotFound(f"no use {use_id!r} in {file} (uses: {', '.join(item.id for item in uses) or 'none'})")
    answers = answers_as_of(session, use, moment)
    history = [row for row in answer_history(session, use) if row["changes"]]
    return {"at": at, "uses_file": file, "use": {**use.fields(), "describe": use.describe()},
            "answers": answers, "summary": _summary(answers), "history": history,
            "changed": [row for row in history if len(row["changes"]) > 1]}


USE_PAGE_SPECS = {
    "can": ("/can", "can.html", lambda s, p, q: can_page(s, q)),
    "use": ("/uses/{use_id}", "use.html", lambda s, p, q: use_page(s, p["use_id"], q)),
}
