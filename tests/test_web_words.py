"""The site reads like a journalist needs: each change names the clause by its section and its own words, the
categories in words, the id beside them but not in the way; no words run together; no two clauses of a matrix
cell share a name."""

from __future__ import annotations

import re

from monitor.web.words import clause_labels, excerpt, reason_in_words
from test_web import EXAMPLE, client, get_ok, site_db  # noqa: F401 (fixtures)


def visible_text(html: str) -> str:
    main = html.split('<main id="main">', 1)[1].split("</main>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", "", main).split())


def test_a_change_shows_the_clause_words_section_and_categories_in_words(client) -> None:  # type: ignore[no-untyped-def]
    html = get_ok(client, "/")
    item = next(li for li in html.split('<li class="event">')[1:] if f"/sources/{EXAMPLE}/clauses/" in li)
    words = visible_text('<main id="main">' + item + "</main>")
    assert "develop any models or products" in words  # the clause's own words
    assert "Restrictions" in words  # its section
    assert "Training on outputs" in words and "output_training" not in words.replace("clause id", "")
    assert re.search(r'clause id <code>c-[0-9a-f]+', item)  # the id is there, after the words
    assert words.index("develop any models") < words.index("clause id")


def test_no_words_run_together(client) -> None:  # type: ignore[no-untyped-def]
    home = visible_text(get_ok(client, "/"))
    assert not re.search(r"\w,\w", home.replace("1,", "")), re.search(r".{20}\w,\w.{20}", home)
    assert "Terms of Service, " in home
    as_of = visible_text(get_ok(client, f"/sources/{EXAMPLE}/as-of/2026-01-01"))
    assert "Next version (2) · Permalink" in as_of
    latest = visible_text(get_ok(client, f"/sources/{EXAMPLE}/versions/2"))
    assert "Previous version (1) · What changed" in latest and "Timeline ·" in latest


def test_reasons_name_categories_in_words_with_the_right_article() -> None:
    assert reason_in_words("now also a automated_extraction clause") == "now also an automated extraction clause"
    assert reason_in_words("no longer a output_training clause") == "no longer a training on outputs clause"
    assert reason_in_words("now also a attribution_naming clause") == "now also an attribution or naming clause"
    assert reason_in_words("objects added: models") == "objects added: models"


def test_two_clauses_numbered_alike_get_different_names() -> None:
    clauses = [{"path": "1.5", "heading": "", "text": "You may not use Output to train models."},
               {"path": "1.5", "heading": "", "text": "You may not scrape the Services."},
               {"path": "2", "heading": "", "text": "Other."}]
    labels = clause_labels(clauses)
    assert len(set(labels)) == 3 and labels[2] == "2"
    assert labels[0].startswith("1.5 “… not use") and labels[1].startswith("1.5 “… not scrape")
    assert clause_labels([clauses[0], clauses[0]]) == ["1.5 (1 of 2)", "1.5 (2 of 2)"]
    assert excerpt("word " * 100, 30).endswith(" …") and len(excerpt("word " * 100, 30)) <= 32


def test_matrix_cells_never_repeat_a_name(client) -> None:  # type: ignore[no-untyped-def]
    for row in client.get("/api/matrix").json()["rows"]:
        for cell in row["cells"].values():
            if cell:
                labels = [c["label"] for c in cell["clauses"]]
                assert len(labels) == len(set(labels)), (row["source"], labels)
