"""Search matches words in their inflections, never a longer word that only starts alike ("compete" is not
"competent"), highlights the matches (escaped), and lists the clauses in the taxonomy first."""

from __future__ import annotations

from monitor.web.search import highlight, query_stems, stem
from test_web import EXAMPLE, client, get_ok, site_db  # noqa: F401 (fixtures)


def test_inflections_share_a_stem_and_lookalikes_do_not() -> None:
    forms = {"compete", "competes", "competing", "competed", "competitor", "competitors", "competition",
             "competitive"}
    assert {stem(word) for word in forms} == {stem("compete")}
    for other in ("competent", "incompetent", "complete", "compel"):
        assert stem(other) != stem("compete"), other
    assert stem("trained") == stem("training") == stem("train")
    assert stem("policies") == stem("policy") and stem("scraping") == stem("scrape") == stem("scrapped")
    assert stem("engineering") == stem("engineer") and stem("uses") == stem("use")


def test_highlight_needs_every_word_and_marks_each_form() -> None:
    stems = query_stems("compete models")
    pieces = highlight("Build competing models; competent courts.", stems)
    assert pieces is not None
    assert [piece for piece, matched in pieces if matched] == ["competing", "models"]
    assert "".join(piece for piece, _ in pieces) == "Build competing models; competent courts."
    assert highlight("Before any competent jurisdiction.", query_stems("compete")) is None
    assert highlight("competing only", stems) is None  # "models" missing


def test_compete_finds_competing_use_not_competent_jurisdiction(client) -> None:  # type: ignore[no-untyped-def]
    results = client.get("/api/search?q=compete").json()["results"]
    assert results
    matched = {piece.lower() for r in results for piece, is_match in r["highlighted"] if is_match}
    assert "competent" not in matched and {"competing", "compete"} & matched
    assert all(any(is_match for _, is_match in r["highlighted"]) for r in results)
    competent_only = client.get("/api/search?q=competent").json()["results"]
    assert not {r["key"] for r in competent_only} & {r["key"] for r in results if "competent" not in
                                                      r["text"].lower()}


def test_matches_are_highlighted_and_escaped(client) -> None:  # type: ignore[no-untyped-def]
    html = get_ok(client, "/search?q=pwned&history=1")
    assert "alert(&#34;<mark>pwned</mark>&#34;)" in html  # the pieces around a match are escaped too
    assert "<script" not in html
    html = get_ok(client, "/search?q=%3Cmark%3Ecompete")
    assert "<mark>&lt;mark" not in html and "&lt;mark&gt;" in html  # the query is shown as text


def test_clauses_in_the_taxonomy_come_first(client) -> None:  # type: ignore[no-untyped-def]
    results = client.get("/api/search?q=services").json()["results"]
    watched = [bool(r["categories"]) for r in results]
    assert True in watched and False in watched
    assert watched == sorted(watched, reverse=True)
