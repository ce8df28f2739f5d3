"""Classification: a clause's text (and its list lead-in) in, taxonomy categories, fired rules and features out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import yaml

from monitor.clauses import LICENSE_CATEGORIES, PERMISSIVE_CATEGORIES, RESTRICTIVE_CATEGORIES
from monitor.clauses.prefilter import required_strings
from monitor.clauses.thresholds import find_thresholds, is_scale_threshold
from monitor.memo import text_memo
from monitor.settings import load_settings, variable

RULES_PATH = Path(__file__).with_name("rules.yaml")
# Another rules file in place of the shipped one (benchmarks that leave rules out, operators' own rules).
RULES_ENV = variable("rules_file")
# Feature tables that map names to classes rather than to patterns.
_CLASS_TABLES = ("object_classes", "action_classes")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Rules decided by code rather than patterns: `predicate: NAME` in rules.yaml, called with the prepared
# text and lead-in.
_PREDICATES: dict[str, Callable[[str, str], bool]] = {"is_scale_threshold": is_scale_threshold}
# libyaml (a safe loader too) reads rules.yaml in a few milliseconds where the pure-Python one takes tens.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Rule:
    """One explainable classification rule, read from rules.yaml."""

    id: str
    category: str
    reason: str
    all: tuple[re.Pattern[str], ...]
    unless: tuple[re.Pattern[str], ...] = ()
    veto: bool = True
    must_match: tuple[str, ...] = ()
    must_not_match: tuple[str, ...] = ()
    # Strings of which a text the rule matches contains one (`prefilter.required_strings`); () for no filter.
    needs_one_of: tuple[str, ...] = ()
    # Matched against the list's lead-in and the item together ("You agree not to use the Model:" + "For military use").
    with_lead: bool = False
    predicate: Callable[[str, str], bool] | None = None

    def matches(self, prepared: str, prepared_lead: str = "") -> bool:
        if self.predicate is not None:
            return self.predicate(prepared, prepared_lead)
        if self.needs_one_of and not any(string in prepared for string in self.needs_one_of):
            return False
        return all(p.search(prepared) for p in self.all) and not any(p.search(prepared) for p in self.unless)


@dataclass(frozen=True, eq=False)  # known by identity: a key of the classification caches
class RuleSet:
    rules: tuple[Rule, ...]
    vetoes: dict[str, re.Pattern[str]]
    negation: re.Pattern[str]
    features: dict[str, Any]


@dataclass(frozen=True)
class Classification:
    categories: tuple[str, ...]
    rules: tuple[str, ...]
    features: dict[str, Any]


def prepare_text(text: str) -> str:
    """Lower-case, straight quotes, one space: the form every rule pattern is written against."""
    text = text.lower().translate(str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\u00a0": " "}))
    return re.sub(r"\s+", " ", text).strip()


def _expand(pattern: str, vocab: dict[str, str]) -> str:
    for _ in range(3):  # vocabulary entries may refer to each other
        pattern = _PLACEHOLDER.sub(lambda m: vocab.get(m.group(1), m.group(0)), pattern)
    return pattern


def _compile(pattern: str, vocab: dict[str, str]) -> re.Pattern[str]:
    return re.compile(_expand(pattern, vocab))


def rules_path() -> str:
    """The rules file in use: `CLAUSEWATCH_RULES` when set, else the shipped rules.yaml."""
    return load_settings().rules_file or str(RULES_PATH)


def read_rules_data(path: str) -> dict[str, Any]:
    """rules.yaml as data, with the rules and vocabulary of the files its `include:` names appended.

    Included files (paths relative to the including file) hold `vocab`, `rules` and `vetoes`; an included
    veto is an alternative added to the main file's veto of that name (rules in another language need
    vetoes in it). The main file's features apply to every rule.
    """
    data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    for name in data.pop("include", None) or []:
        extra = read_rules_data(str(Path(path).parent / name))
        data.setdefault("vocab", {}).update(extra.get("vocab", {}))
        data["rules"] = list(data.get("rules", [])) + list(extra.get("rules", []))
        vetoes = data.setdefault("vetoes", {})
        for veto, pattern in (extra.get("vetoes") or {}).items():
            vetoes[veto] = f"(?:{vetoes[veto]})|(?:{pattern})" if veto in vetoes else pattern
    return data


def load_rules(path: str | None = None) -> RuleSet:
    """Read and compile the rules (cached per path)."""
    return _load_rules(path or rules_path())


@lru_cache(maxsize=4)
def _load_rules(path: str) -> RuleSet:
    data = read_rules_data(path)
    vocab: dict[str, str] = data.get("vocab", {})
    rules = []
    for entry in data["rules"]:
        patterns = tuple(_compile(p, vocab) for p in entry.get("all", []))
        rules.append(Rule(
            id=entry["id"],
            category=entry["category"],
            reason=entry["reason"],
            all=patterns,
            unless=tuple(_compile(p, vocab) for p in entry.get("unless", [])),
            veto=entry.get("veto", True),
            must_match=tuple(entry.get("must_match", [])),
            must_not_match=tuple(entry.get("must_not_match", [])),
            needs_one_of=_prefilter(patterns),
            with_lead=entry.get("with_lead", False),
            predicate=_PREDICATES[entry["predicate"]] if "predicate" in entry else None,
        ))
    vetoes = {name: _compile(p, vocab) for name, p in data.get("vetoes", {}).items()}
    raw = data.get("features", {})
    features: dict[str, Any] = {}
    for name, value in raw.items():
        if name in _CLASS_TABLES:
            features[name] = dict(value)
        elif isinstance(value, dict):
            features[name] = {key: _compile(p, vocab) for key, p in value.items()}
        elif isinstance(value, str):
            features[name] = _compile(value, vocab)
        else:
            features[name] = value
    return RuleSet(tuple(rules), vetoes, _compile(vocab["negation"], vocab), features)


def _prefilter(patterns: tuple[re.Pattern[str], ...]) -> tuple[str, ...]:
    """The most selective set of strings one of which every text matching all the patterns contains."""
    candidates = [strings for strings in map(required_strings, patterns) if strings]
    if not candidates:
        return ()
    return tuple(sorted(max(candidates, key=lambda strings: (min(map(len, strings)), -len(strings)))))


def rule_by_id(rule_id: str) -> Rule:
    """The rule with this id (for explanations and tests)."""
    for rule in load_rules().rules:
        if rule.id == rule_id:
            return rule
    raise KeyError(rule_id)


# A clause whose subject is a named party other than the user, promising or reserving what it does with the
# user's content or taking a licence from the user ("SpaceXAI will not use any User Content to train ...",
# "Perplexity may use Usage Data ...", "You grant Acme a licence to ..."): it binds the provider, not the user.
_USER_SUBJECTS = ("You", "Your", "Customer", "Customers", "Licensee", "Licensees", "User", "Users", "End", "Developer",
                  "Developers", "Authorized", "Authorised", "Permitted", "Each", "Any", "No", "Neither", "Software",
                  "Subscriber", "Recipient", "Company", "Applications", "Application", "Do", "Don’t", "Don't")
_PROVIDER_SUBJECT = re.compile(
    r"^\W*(?:\(?[a-zA-Z0-9]{1,4}[.)]\s+|\d+(?:\.\d+)*\.?\s+)?(?:[A-Z][\w ]{0,40}\.\s+)?"
    r"(?:(?:For clarity|Notwithstanding [^,]{0,60}|However),\s+)?"
    r"(?:the\s+)?((?=[\w-]*[A-Z])[A-Za-z][\w-]*(?:\.[\w-]+)*(?:\s+[A-Z][\w-]*(?:\.[\w-]+)*){0,2})\s+"
    r"(?:and its affiliates\s+)?"
    r"(?:will|shall|may|does|do|can|might|agrees? to|commits? to)(?:\s+(?:not|never|only|also))?\s+"
    r"(?:\(?[a-z]{1,4}\)\s+)?(?:\w+\s+){0,2}?(?:use|train|process|access|collect|improve|develop|disclose|share|sell)\b")
_GRANT_TO_PROVIDER = re.compile(r"\bgrants?\s+(?:to\s+)?(?:[A-Z][\w.-]*(?:\s+[A-Z][\w.-]*){0,2})\s+(?:and its affiliates\s+)?"
                                r"(?:an?|the)\s+(?:[\w-]+\s+){0,6}?(?:licen[cs]e|right)\b")


def binds_provider(text: str) -> bool:
    """Whether the clause's subject is a named party other than the user (the provider), about its own use of
    content, or a licence the user grants to it."""
    match = _PROVIDER_SUBJECT.match(text)
    if match and match.group(1).split()[0] not in _USER_SUBJECTS:
        return True
    return bool(_GRANT_TO_PROVIDER.search(text)) and not re.match(r"^\W*(?:\S+\s+)?(?:Licensor|We)\s+(?:hereby\s+)?grants?", text)


def is_vetoed(prepared: str, prepared_lead: str, ruleset: RuleSet | None = None, text: str = "") -> bool:
    """A provider describing its own conduct, a definition, a description of a risk, or a pure grant with no
    negation is not a restriction."""
    ruleset = ruleset or load_rules()
    if ruleset.vetoes["provider_side"].search(prepared) or ruleset.vetoes["definition"].search(prepared):
        return True
    if ruleset.vetoes["descriptive"].search(prepared) or (text and binds_provider(text)):
        return True
    permission = ruleset.vetoes["permission"].search(prepared)
    negated = ruleset.negation.search(prepared) or ruleset.negation.search(prepared_lead)
    return bool(permission) and not negated


def classify_clause(text: str, lead: str = "", ruleset: RuleSet | None = None) -> Classification:
    """Categories of one clause, the ids of the rules that fired, and its features (by `ruleset`, else the
    rules in use: a caller classifying many clauses passes them, looked up once)."""
    return _classify_cached(text, lead, ruleset or load_rules())


@text_memo
def _classify_cached(text: str, lead: str, ruleset: RuleSet) -> Classification:
    prepared = prepare_text(text)
    prepared_lead = prepare_text(lead)
    vetoed: bool | None = None
    fired: list[Rule] = []
    with_lead = f"{prepared_lead} {prepared}" if prepared_lead else prepared
    for rule in ruleset.rules:
        if not rule.matches(with_lead if rule.with_lead else prepared, prepared_lead):
            continue
        if rule.veto and rule.category in RESTRICTIVE_CATEGORIES:
            if vetoed is None:
                vetoed = is_vetoed(prepared, prepared_lead, ruleset, text)
            if vetoed:
                continue
        elif rule.category in PERMISSIVE_CATEGORIES and ruleset.vetoes["provider_side"].search(prepared):
            continue
        fired.append(rule)
    categories = tuple(dict.fromkeys(rule.category for rule in fired))
    features = extract_features(text, lead, ruleset) if categories else {}
    return Classification(categories, tuple(rule.id for rule in fired), features)


def matches_core_rule(text: str, ruleset: RuleSet | None = None) -> bool:
    """Whether a rule of a core (not model-licence) category matches the clause, vetoes aside."""
    return _matches_core_rule(text, ruleset or load_rules())


@text_memo
def _matches_core_rule(text: str, ruleset: RuleSet) -> bool:
    prepared = prepare_text(text)
    return any(rule.matches(prepared) for rule in ruleset.rules if rule.category not in LICENSE_CATEGORIES)


# A capitalised name before a head noun ("Meta Model API key", "Managed Account", "Mistral AI Products")
# names the thing; its words are not objects of the rule. Not at the start of a clause, where a capital
# is a verb ("Develop Models").
_NAMED_HEAD = re.compile(
    r"(?<=[a-z,;:(] )(?:(?:[A-Z][\w’'-]*|AI|API|of|the|or|and)\s+){0,5}?(?:[A-Z][\w’'-]*\s+)"
    r"(?=(?:API keys?|Accounts?|Materials|Services|Products|Models?|Offerings?|Software)\b)")
# Illustrations ("(e.g., algorithms, weights)", ", including using the Output ...") name examples of what
# the rule already covers: they can keep a feature covered but never widen the rule.
_ILLUSTRATION = re.compile(
    r"\((?:e\.g\.|i\.e\.|such as|for example|including|includes)[^()]*\)"
    r"|,? (?:including|such as|for example|e\.g\.)(?: (?:but not limited to|without limitation))?,? [^;()]*")


def rule_text(text: str) -> str:
    """The clause with names reduced to their head noun (prepared form)."""
    return prepare_text(_NAMED_HEAD.sub("", text))


def core_text(prepared_rule: str) -> str:
    """`rule_text` without illustrations: what the rule itself names."""
    return _ILLUSTRATION.sub(" ", prepared_rule)


def core_categories(text: str, lead: str = "") -> tuple[str, ...]:
    """Categories the clause carries without its illustrations (an example does not add a rule)."""
    return _classify_cached(core_text(prepare_text(text)), lead, load_rules()).categories


def extract_features(text: str, lead: str = "", ruleset: RuleSet | None = None) -> dict[str, Any]:
    """Objects, actions, scope, exceptions, parties, thresholds and territories named in a clause.

    `objects`/`actions`/`qualifiers` are what the rule itself names (outside exceptions and
    illustrations); `*_all` also count what illustrations mention.
    """
    spec = (ruleset or load_rules()).features
    prepared = prepare_text(text)
    prepared_lead = prepare_text(lead)
    exceptions = []
    spans = []
    for name, pattern in spec["exceptions"].items():
        for match in pattern.finditer(prepared):
            exceptions.append({"type": name, "text": match.group(0).strip(" ,;.")})
    named = rule_text(text)
    for pattern in spec["exceptions"].values():
        spans += [m.group(0) for m in pattern.finditer(named)]
    for span in spans:
        named = named.replace(span, " ")
    core = core_text(named)
    found = lambda table, where: sorted(name for name, pattern in table.items() if pattern.search(where))  # noqa: E731
    bound = sorted({_canonical_party(m.group(1)) for m in spec["bound_parties"].finditer(prepared + " " + prepared_lead)})
    thresholds = [threshold.to_feature() for threshold in find_thresholds(text, lead)]
    territories = sorted({_canonical_territory(m.group(0)) for m in spec["territory"].finditer(prepared)})
    # Qualifiers are written in lower case in a rule; capitalised they are names ("Commercial Terms").
    original = _NAMED_HEAD.sub("", text)
    return {
        "objects": found(spec["objects"], core),
        "actions": found(spec["actions"], core),
        "objects_all": found(spec["objects"], named),
        "actions_all": found(spec["actions"], named),
        "qualifiers": sorted(name for name, pattern in spec["qualifiers"].items() if pattern.search(original)),
        "scope": "competing" if spec["scope_competing"].search(core) else "any",
        "model_classes": found(spec["model_classes"], core),
        "exceptions": exceptions,
        "parties": found(spec["parties"], prepared),
        "bound_parties": bound,
        "thresholds": thresholds,
        "territories": territories,
    }


def _canonical_party(name: str) -> str:
    name = name.replace("-", " ").replace("anyone", "others").replace("any one", "others")
    return {"end user": "end users", "third party": "third parties", "affiliate": "affiliates", "user": "users"}.get(name, name)


def _canonical_territory(name: str) -> str:
    name = name.strip()
    return {"the eu": "european union", "eea": "european economic area", "uk": "united kingdom"}.get(name, name)
