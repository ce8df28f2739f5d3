"""Clause stage: a normalised document in, its classified `Clause`s out; clauses aligned across versions."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from monitor.errors import ExtractionError
from monitor.memo import text_memo

if TYPE_CHECKING:
    from monitor.clauses.classify import RuleSet
    from monitor.clauses.segment import Segment

RESTRICTIVE_CATEGORIES = (
    "output_training",
    "competing_use",
    "reverse_engineering",
    "automated_extraction",
    "access_circumvention",
)
PERMISSIVE_CATEGORIES = ("output_training_permission",)
LICENSE_CATEGORIES = ("scale_threshold", "attribution_naming", "use_policy", "geographic_restriction")
CATEGORIES = RESTRICTIVE_CATEGORIES + PERMISSIVE_CATEGORIES + LICENSE_CATEGORIES

# Work caps per document (issue 18 item 12), far above any real document (the corpus's longest clause has
# 1,805 characters, its most clauses in one document are 885, and a document is classified in well under a
# second). Classifying costs time in proportion to a clause's length (a paragraph of few distinct words, one
# sentence repeated, stays one clause however long) and about a millisecond per short clause: a document
# beyond a cap is no valid capture. The deadline bounds what the other caps let through (a hundred clauses
# of 20,000 characters each).
MAX_SEGMENT_CHARACTERS = 20_000
MAX_SEGMENTS = 5_000
ANALYSIS_SECONDS = 30.0


@dataclass(frozen=True)
class Clause:
    """One rule of a document.

    `key` is stable across versions once aligned; `path` is the section path as the
    document numbers it (`3.3(e)`, `D.4`, `2 > bullet 3`); `rules` are the ids of the
    classification rules that fired; `features` holds object/action/scope/exceptions/
    parties/thresholds/territories as found in the text.
    """

    key: str
    path: str
    heading: str
    text: str
    categories: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    features: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    label: str = ""
    lead: str = field(default="", compare=False)

    @property
    def watched(self) -> bool:
        return bool(self.categories)


def extract_clauses(text: str, kind: str | None = None) -> list[Clause]:
    """Every clause of a document, classified; keys are provisional (derived from the clause's words).

    `kind` is the source's kind (`terms`, `policy`, `license`; None when unknown). In service terms
    (`terms`) the model-licence categories are kept only on a clause that also carries a core category
    (the naming condition of an output-training permission): a service's terms are watched for how the
    service and its outputs may be used, and licence mechanics copied into them (user thresholds,
    attribution notices for redistributed weights, regional licence carve-outs) are not what they govern.
    Neither a stand-alone use policy (`policy`) nor service terms carry `use_policy`: a policy is what
    licences incorporate, and service terms name the provider's own.
    """
    # segment, classify and align import Clause and the categories from this package
    from monitor.clauses.segment import segment_document

    # classify imports the categories from this package
    from monitor.clauses.classify import load_rules

    ruleset = load_rules()  # once: looking up the rules in use reads the settings
    deadline = time.monotonic() + ANALYSIS_SECONDS
    segments = segment_document(text)
    _check_work(segments)
    clauses: list[Clause] = []
    seen: dict[str, int] = {}
    for segment in segments:
        if time.monotonic() > deadline:
            raise ExtractionError("analysis_error", f"classifying the clauses took over {ANALYSIS_SECONDS:g} s "
                                                    f"(stopped at clause {len(clauses) + 1} of {len(segments)})")
        key = _content_key(segment.text)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = f"{key}-{seen[key]}"
        clauses.append(_clause(key, segment, kind, ruleset))
    return clauses


def _check_work(segments: list[Segment]) -> None:
    """Raise ExtractionError for a document whose clauses are too many or too long to classify."""
    if len(segments) > MAX_SEGMENTS:
        raise ExtractionError("invalid", f"{len(segments):,} clauses, over {MAX_SEGMENTS:,} clauses in one document")
    longest = max((len(segment.text) for segment in segments), default=0)
    if longest > MAX_SEGMENT_CHARACTERS:
        raise ExtractionError("invalid", f"a clause of {longest:,} characters (maximum {MAX_SEGMENT_CHARACTERS:,}): "
                                         f"no sentence or item breaks it up")


# Consecutive versions of a document repeat almost every clause in the same place, so clauses are
# memoised (they are frozen: sharing one between documents is safe).
@text_memo
def _clause(key: str, segment: Segment, kind: str | None, ruleset: RuleSet) -> Clause:
    # classify imports the categories from this package
    from monitor.clauses.classify import classify_clause, matches_core_rule

    if segment.kind == "heading":
        return Clause(key, segment.path, segment.heading, segment.text, label=segment.label)
    if kind == "terms" and not matches_core_rule(segment.text, ruleset):
        # Licence categories alone are all it could carry, and service terms drop them: no need to classify.
        return Clause(key, segment.path, segment.heading, segment.text, label=segment.label, lead=segment.lead)
    result = classify_clause(segment.text, segment.lead, ruleset)
    categories, rules, features = result.categories, result.rules, result.features
    if kind == "terms" and categories and not set(categories) - set(LICENSE_CATEGORIES):
        categories, rules, features = (), (), {}
    if kind in ("terms", "policy") and "use_policy" in categories:
        # A use policy is the policy itself, and service terms refer to the provider's own: neither is a
        # policy a licence incorporates.
        categories = tuple(c for c in categories if c != "use_policy")
        rules = tuple(r for r in rules if not r.startswith("use-policy."))
        features = features if categories else {}
    return Clause(key, segment.path, segment.heading, segment.text, categories, rules, features, segment.label,
                  segment.lead)


# Consecutive versions of a document repeat almost every clause: the key of a text is memoised.
@text_memo
def _content_key(text: str) -> str:
    # align imports Clause from this package
    from monitor.clauses.align import content_of

    return "c-" + hashlib.sha1(content_of(text).encode("utf-8")).hexdigest()[:12]


__all__ = ["CATEGORIES", "LICENSE_CATEGORIES", "PERMISSIVE_CATEGORIES", "RESTRICTIVE_CATEGORIES", "Clause",
           "extract_clauses"]
