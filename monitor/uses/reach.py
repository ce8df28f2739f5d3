"""Reach: a use and a clause in, whether the clause names what the use does, what it takes and the kind of
model it builds (from the engine's `actions`, `objects` and `model_classes` features, rules.yaml)."""

from __future__ import annotations

from monitor.clauses import Clause
from monitor.uses.model import Use
from monitor.uses.verdict import clause_name, feature_list

__all__ = ["ACT_ACTIONS", "MODEL_BUILDING", "MODEL_CLASS_COVERS", "MODEL_CLASS_WORDS", "USE_OBJECTS", "acts_on",
           "model_fit", "takes_object"]

# The feature actions that count as doing each act (the engine's `actions` vocabulary, rules.yaml).
MODEL_BUILDING = frozenset({"develop", "train", "improve", "distill"})
ACT_ACTIONS = {
    "train": MODEL_BUILDING, "fine-tune": MODEL_BUILDING, "distil": MODEL_BUILDING,
    "build-product": frozenset({"develop"}),
    "resell": frozenset({"resell", "sell", "distribute", "grant access"}),
    "evaluate": frozenset(), "embed": frozenset(), "classify": frozenset(),
}
# The feature objects that name what the use takes. Outputs are had through the service, so a clause on
# using the service to train models covers training on its outputs too.
USE_OBJECTS = {
    "outputs": frozenset({"outputs", "data", "services", "training datasets"}),
    "service": frozenset({"services"}),
    "weights": frozenset({"weights", "models", "materials"}),
    "materials": frozenset({"materials", "weights"}),
}
# Objects that are someone else's (a clause on them is not about what the provider gives you).
_FOREIGN_OBJECTS = frozenset({"third-party content"})
# Which of the use's model kinds each feature model class covers.
MODEL_CLASS_COVERS = {
    "AI models": frozenset({"classifier", "embedding", "small-model", "llm"}),
    "models or products": frozenset({"classifier", "embedding", "small-model", "llm"}),
    "large language model": frozenset({"llm"}),
    "image generation": frozenset(),
}
MODEL_CLASS_WORDS = {"large language model": "a large language model", "image generation": "an image generation model"}


def acts_on(use: Use, clause: Clause) -> bool:
    """Whether the clause names what the use does (illustrations count: "including to train models")."""
    features = clause.features or {}
    actions = set(feature_list(features, "actions_all")) or set(feature_list(features, "actions"))
    if "competing_use" in clause.categories and use.act in ("train", "fine-tune", "distil", "build-product"):
        return bool(actions & (MODEL_BUILDING | {"develop"}))
    return bool(actions & ACT_ACTIONS[use.act])


def takes_object(use: Use, clause: Clause) -> bool:
    features = clause.features or {}
    objects = set(feature_list(features, "objects_all")) or set(feature_list(features, "objects"))
    if objects & _FOREIGN_OBJECTS and "outputs" not in objects:
        return False
    return bool(objects & USE_OBJECTS[use.object])


def model_fit(use: Use, clause: Clause) -> tuple[str, str]:
    """("yes", "") the clause reaches the use's model; ("no", why); ("condition", text); ("unclear", why)."""
    classes = feature_list(clause.features or {}, "model_classes")
    if not classes:
        return "yes", ""
    unknown = [name for name in classes if name not in MODEL_CLASS_COVERS]
    if unknown:
        return "unclear", f"{clause_name(clause)} names a kind of model ({unknown[0]!r}) this check does not know."
    covered = set().union(*(MODEL_CLASS_COVERS[name] for name in classes))
    if use.model == "any":
        if covered >= MODEL_CLASS_COVERS["AI models"]:
            return "yes", ""
        kinds = " or ".join(MODEL_CLASS_WORDS.get(name, name) for name in classes)
        return "condition", f"the model is not {kinds} ({clause_name(clause)} reaches only those)"
    if use.model in covered:
        return "yes", ""
    kinds = " or ".join(MODEL_CLASS_WORDS.get(name, name) for name in classes)
    return "no", f"{clause_name(clause)} reaches only {kinds}"
