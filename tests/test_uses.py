"""Uses without a database: uses.yaml validation, the answer logic on real clause texts (classified by the clause
engine) and on features it cannot decide, the answer history, and the `can` command's errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.clauses import Clause, extract_clauses
from monitor.errors import ConfigError, UsageError
from monitor.uses.answer import answer_use
from monitor.uses.history import answer_changes
from monitor.uses.model import SHIPPED_USES, Use, load_uses, parse_uses, use_from_fields, uses_path
from monitor.uses.queries import VersionClauses

OPENAI_33E = ("Customer will not, and will not permit End Users to: (d) Reverse Engineer any aspect of the Services; "
              "(e) except for a Permitted Exception, use Output to develop artificial intelligence models that "
              "compete with OpenAI’s products and services; (f) extract data from the Services other than as "
              "permitted through the Services.")
OPENAI_DEFINITION = ("“Permitted Exception” means Customer using Output to: (a) develop artificial intelligence "
                     "models primarily intended to categorize, classify, or organize data (e.g., embeddings or "
                     "classifiers), if these models are not distributed or made commercially available to third "
                     "parties; and (b) fine tune or customize models provided as part of OpenAI’s fine-tuning or "
                     "other Services set forth on the Pricing Page.")
CLASSIFIER = Use(id="c", act="train", object="outputs", model="classifier", purpose="internal",
                 distribution="internal")


def _document(*paragraphs: str, kind: str = "terms") -> list[Clause]:
    return extract_clauses("\n\n".join(paragraphs), kind=kind)


def _clause(text: str, categories: tuple[str, ...], **features: object) -> Clause:
    return Clause(key="c-test", path="1", heading="", text=text, categories=categories, features=dict(features))


# ------------------------------------------------------------------------------------------------ uses.yaml


def test_shipped_uses_cover_the_issue_cases() -> None:
    file, uses = load_uses(SHIPPED_USES)
    assert {use.id for use in uses} == {"distil-competitor", "self-distil-open-weights", "internal-classifier",
                                        "platform-distillation"}
    classifier = next(use for use in uses if use.id == "internal-classifier")
    assert classifier.fields() == {"id": "internal-classifier", "act": "train", "object": "outputs",
                                   "model": "classifier", "purpose": "internal", "distribution": "internal",
                                   "title": "Train a small classifier on outputs, for internal use"}


def test_uses_file_errors_name_file_line_use_and_field(tmp_path: Path) -> None:
    text = "uses:\n  - id: ok\n    act: train\n    object: outputs\n  - id: bad\n    act: bake\n    object: outputs\n"
    with pytest.raises(ConfigError, match=r"uses.yaml:5: use 'bad': field 'act': 'bake' is not one of: train, "):
        parse_uses(tmp_path / "uses.yaml", text)
    with pytest.raises(ConfigError, match=r"uses.yaml:2: use 'x': field 'colour': unknown field"):
        parse_uses(tmp_path / "uses.yaml", "uses:\n  - id: x\n    act: train\n    object: outputs\n    colour: red\n")
    with pytest.raises(ConfigError, match=r"use '#1': field 'id': required field is missing"):
        parse_uses(tmp_path / "uses.yaml", "uses:\n  - act: train\n    object: outputs\n")
    with pytest.raises(ConfigError, match=r"uses.yaml:4: use 'x': field 'id': duplicate id \(first used on line 2\)"):
        parse_uses(tmp_path / "uses.yaml", "uses:\n  - {id: x, act: train, object: outputs}\n"
                                           "  - {id: y, act: train, object: outputs}\n"
                                           "  - {id: x, act: train, object: outputs}\n")
    with pytest.raises(ConfigError, match=r"expected a top-level 'uses:' list"):
        parse_uses(tmp_path / "uses.yaml", "- id: x\n")
    with pytest.raises(ConfigError, match=r"not valid YAML"):
        parse_uses(tmp_path / "uses.yaml", "uses: [\n")


def test_values_as_people_write_them() -> None:
    use = use_from_fields({"act": "Build a product", "object": "Output", "model": "large language model",
                           "distribution": "to third parties", "based_in": "EU"})
    assert (use.act, use.object, use.model, use.distribution, use.based_in) == (
        "build-product", "outputs", "llm", "third-parties", ("european union",))
    with pytest.raises(UsageError, match=r"field 'object': 'cake' is not one of"):
        use_from_fields({"act": "train", "object": "cake"})


def test_uses_file_order_of_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLAUSEWATCH_USES", raising=False)
    assert uses_path() == (SHIPPED_USES, False)
    (tmp_path / "uses.yaml").write_text("uses: []\n")
    assert uses_path() == (Path("uses.yaml"), False)
    monkeypatch.setenv("CLAUSEWATCH_USES", str(tmp_path / "other.yaml"))
    assert uses_path() == (tmp_path / "other.yaml", True)
    assert uses_path("given.yaml") == (Path("given.yaml"), True)
    with pytest.raises(ConfigError, match=r"other.yaml: no such uses file"):
        load_uses()


# ------------------------------------------------------------------------------------- answers, real texts


def test_permitted_exception_is_read_from_its_definition() -> None:
    clauses = _document("3.3. Restrictions. " + OPENAI_33E, "17. Definitions", OPENAI_DEFINITION)
    answer = answer_use(CLASSIFIER, clauses, "OpenAI")
    assert answer.answer == "conditional"
    assert [clause.role for clause in answer.clauses] == ["restriction", "definition"]
    assert answer.definitions[0].text == OPENAI_DEFINITION
    assert answer.conditions == (
        "Permitted Exception (a): develop artificial intelligence models primarily intended to categorize, "
        "classify, or organize data (e.g., embeddings or classifiers)",
        "Permitted Exception (a): if these models are not distributed or made commercially available to third "
        "parties")
    shared = CLASSIFIER.model_copy(update={"distribution": "third-parties", "purpose": "competing"})
    refused = answer_use(shared, clauses, "OpenAI")
    assert refused.answer == "forbidden"
    assert "requires that the model is not distributed" in refused.reason


def test_an_exception_defined_nowhere_is_unclear_not_a_guess() -> None:
    answer = answer_use(CLASSIFIER, _document("3.3. Restrictions. " + OPENAI_33E), "OpenAI")
    assert answer.answer == "unclear"
    assert "defined elsewhere: no clause of this version defines it" in answer.reason


def test_an_exception_the_engine_links_to_its_definition() -> None:
    # `defined_terms` is a feature the clause engine may add: the term it names is looked up as written.
    restriction = _clause("You will not use outputs to train models, save as a Carve Out allows.",
                          ("output_training",), objects_all=["outputs"], actions_all=["train"],
                          exceptions=[{"type": "defined", "text": "save as a carve out allows"}],
                          defined_terms=[{"term": "Carve Out"}])
    definition = Clause(key="c-def", path="9", heading="", text="“Carve Out” means training a classifier kept "
                        "for internal use.")
    answer = answer_use(CLASSIFIER, [restriction, definition])
    assert answer.answer == "conditional" and answer.definitions[0].path == "9"


def test_features_that_cannot_decide_make_it_unclear() -> None:
    unknown_model = _clause("You will not use outputs to train speech models.", ("output_training",),
                            objects_all=["outputs"], actions_all=["train"], model_classes=["speech models"])
    answer = answer_use(CLASSIFIER, [unknown_model])
    assert answer.answer == "unclear" and "'speech models'" in answer.reason
    unknown_exception = _clause("You will not use outputs to train models, barring a waiver.", ("output_training",),
                                objects_all=["outputs"], actions_all=["train"],
                                exceptions=[{"type": "waiver", "text": "barring a waiver"}])
    assert answer_use(CLASSIFIER, [unknown_exception]).answer == "unclear"


def test_old_rows_without_features_are_not_addressed_and_new_keys_are_ignored() -> None:
    bare = _clause("You will not use outputs to train models.", ("output_training",))
    assert answer_use(CLASSIFIER, [bare]).answer == "not addressed"
    extra = _clause("You will not use outputs to train models.", ("output_training",), objects_all=["outputs"],
                    actions_all=["train"], scope="any", novelty={"x": 1})
    assert answer_use(CLASSIFIER, [extra]).answer == "forbidden"


def test_a_providers_own_promise_binds_no_user() -> None:
    promise = _document("2.3.3 Model Training. Perplexity shall not use (or authorize third parties to use) "
                        "Customer Content to train, retrain, fine-tune or otherwise improve any generative "
                        "artificial intelligence models.")
    assert answer_use(CLASSIFIER, promise).answer == "not addressed"
    bound = _clause("Customer Content will not be used to train models.", ("output_training",),
                    objects_all=["outputs"], actions_all=["train"], bound_party="provider")
    assert answer_use(CLASSIFIER, [bound]).answer == "not addressed"


def test_model_classes_reach_only_their_models() -> None:
    llama2 = _document("v. You will not use the Llama Materials or any output or results of the Llama Materials to "
                       "improve any other large language model (excluding Llama 2 or derivative works thereof).",
                       kind="license")
    assert answer_use(CLASSIFIER, llama2).answer == "not addressed"
    any_model = Use(id="a", act="distil", object="outputs", purpose="competing")
    answer = answer_use(any_model, llama2)
    assert answer.answer == "conditional"
    assert answer.conditions == ("the model is not a large language model ((v) reaches only those)",)
    own = Use(id="o", act="fine-tune", object="outputs", model="llm", base_model="provider")
    assert answer_use(own, llama2).conditions[0].startswith("the model improved is Llama 2 or a derivative work")


def test_naming_duty_only_when_the_model_is_distributed() -> None:
    llama31 = _document("If you use the Llama Materials or any outputs or results of the Llama Materials to create, "
                        "train, fine tune, or otherwise improve an AI model, which is distributed or made available, "
                        "you shall also include “Llama” at the beginning of any such AI model name.", kind="license")
    assert answer_use(CLASSIFIER, llama31).answer == "allowed"
    published = CLASSIFIER.model_copy(update={"distribution": "third-parties"})
    answer = answer_use(published, llama31)
    assert answer.answer == "conditional"
    assert answer.conditions[0].startswith("include “Llama” at the beginning of any such AI model name")


def test_acts_a_clause_does_not_name_are_not_addressed() -> None:
    ban = _document("You may not use Output to develop models that compete with OpenAI.")
    embed = Use(id="e", act="embed", object="outputs")
    assert answer_use(embed, ban).answer == "not addressed"
    resell = Use(id="r", act="resell", object="service")
    assert answer_use(resell, _document("You may not copy, modify, distribute, sell or lease any part of our "
                                        "services or software.")).answer == "forbidden"


# ----------------------------------------------------------------------------------------------- history


def test_answer_changes_skip_rewordings() -> None:
    def version(seq: int, text: str) -> VersionClauses:
        return VersionClauses(seq, dt.datetime(2026, 1, seq, tzinfo=dt.timezone.utc),
                              tuple(_document(text)))

    ban = "You may not use Output to develop models that compete with OpenAI."
    versions = [version(1, ban), version(2, ban.replace("may not", "must not")),
                version(3, "You may not use Output to develop any models."), version(4, "Nothing here.")]
    competitor = Use(id="d", act="distil", object="outputs", model="llm", purpose="commercial")
    changes = answer_changes(competitor, versions)
    assert [(change.seq, change.previous, change.answer.answer) for change in changes] == [
        (1, None, "conditional"), (3, "conditional", "forbidden"), (4, "forbidden", "not addressed")]


# ------------------------------------------------------------------------------------------------ the CLI


def test_can_help_has_an_example() -> None:
    done = CliRunner().invoke(cli, ["can", "--help"])
    assert done.exit_code == 0
    assert "clausewatch can internal-classifier" in done.output and "--history" in done.output


def test_can_refuses_a_bad_use_or_file_in_one_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    done = CliRunner().invoke(cli, ["--db", db, "can", "no-such-use"])
    assert done.exit_code != 0 and "Traceback" not in done.output
    assert "no use 'no-such-use' in" in done.output and "internal-classifier" in done.output
    bad = tmp_path / "uses.yaml"
    bad.write_text("uses:\n  - id: x\n    act: bake\n    object: outputs\n")
    done = CliRunner().invoke(cli, ["--db", db, "can", "x", "--uses", str(bad)])
    assert done.exit_code != 0 and "Traceback" not in done.output
    assert f"{bad}:2: use 'x': field 'act'" in done.output
    done = CliRunner().invoke(cli, ["--db", db, "can", "x", "--uses", str(tmp_path / "missing.yaml")])
    assert done.exit_code != 0 and "no such uses file" in done.output
    done = CliRunner().invoke(cli, ["--db", db, "can", "internal-classifier", "--at", "soon"])
    assert done.exit_code != 0 and "'soon' is not a date" in done.output


def test_can_names_the_uses_file_and_takes_fields(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    assert CliRunner().invoke(cli, ["--db", db, "init"]).exit_code == 0
    done = CliRunner().invoke(cli, ["--db", db, "can", "internal-classifier", "--json"])
    assert done.exit_code == 0, done.output
    assert f"from {SHIPPED_USES}" in done.stderr and done.stdout.strip() == "[]"
    done = CliRunner().invoke(cli, ["--db", db, "can", "mine", "--act", "fine-tune", "--object", "weights"])
    assert done.exit_code == 0, done.output
    assert "use 'mine' from the command line: fine-tune on the provider's weights" in done.stderr


def test_a_definition_alternative_that_cannot_be_read_is_unclear() -> None:
    definition = "“Permitted Exception” means Customer using Output as set out in an Order Form."
    answer = answer_use(CLASSIFIER, _document("3.3. Restrictions. " + OPENAI_33E, definition), "OpenAI")
    assert answer.answer == "unclear"
    assert "names no act this check can compare with the use" in answer.reason
    assert answer.definitions and answer.definitions[0].text == definition
