"""The site's response cache: a page is rendered once per data stamp, revalidated with its ETag, and a new
version shows as soon as the stamp moves (on SQLite and PostgreSQL)."""

from __future__ import annotations

import warnings
from pathlib import Path

from sqlalchemy import event

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from monitor.store import connect
from monitor.web.cache import ResponseCache
from test_web import EXAMPLE, EXAMPLE_V1, EXAMPLE_V2, import_dataset


def example_dataset(folder: Path, versions: tuple[str, ...] = (EXAMPLE_V1, EXAMPLE_V2)) -> Path:
    document = folder / "dataset" / "Example AI" / "Terms of Service"
    document.mkdir(parents=True, exist_ok=True)
    for text, name in zip(versions, ("2025-11-02T10-00-00Z.md", "2026-02-03T10-00-00Z.md")):
        (document / name).write_text(text)
    return folder / "dataset"


def count_queries(engine) -> list[str]:  # type: ignore[no-untyped-def]
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


def test_a_page_seen_before_is_answered_without_the_database(db_url: str, tmp_path: Path) -> None:
    from monitor.web import create_app

    import_dataset(db_url, example_dataset(tmp_path))
    engine = connect(db_url)
    with TestClient(create_app(engine, stamp_ttl=3600)) as client:
        first = client.get(f"/sources/{EXAMPLE}/versions/2")
        statements = count_queries(engine)
        again = client.get(f"/sources/{EXAMPLE}/versions/2")
        assert statements == []
        assert again.text == first.text and again.headers["content-type"] == first.headers["content-type"]
        assert client.get(f"/api/sources/{EXAMPLE}/versions/2").json()["version"]["seq"] == 2  # JSON kept apart


def test_pages_carry_an_etag_and_a_revalidation_is_304(db_url: str, tmp_path: Path) -> None:
    from monitor.web import create_app

    import_dataset(db_url, example_dataset(tmp_path))
    with TestClient(create_app(connect(db_url))) as client:
        for path in ("/", f"/sources/{EXAMPLE}", "/api/matrix", "/feeds/all.atom",
                     f"/sources/{EXAMPLE}/versions/1/snapshot"):
            response = client.get(path)
            etag = response.headers["etag"]
            assert response.headers["content-security-policy"], path
            revalidated = client.get(path, headers={"If-None-Match": etag})
            assert revalidated.status_code == 304 and revalidated.content == b"", path
            assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_a_new_version_shows_once_the_data_stamp_moves(db_url: str, tmp_path: Path) -> None:
    from monitor.web import create_app

    import_dataset(db_url, example_dataset(tmp_path / "one", (EXAMPLE_V1,)))
    with TestClient(create_app(connect(db_url), stamp_ttl=0)) as client:
        assert [v["seq"] for v in client.get(f"/api/sources/{EXAMPLE}").json()["timeline"]] == [1]
        before = client.get(f"/sources/{EXAMPLE}")
        import_dataset(db_url, example_dataset(tmp_path / "two"))
        assert [v["seq"] for v in client.get(f"/api/sources/{EXAMPLE}").json()["timeline"]] == [2, 1]
        after = client.get(f"/sources/{EXAMPLE}")
        assert "Version 2" in after.text and after.headers["etag"] != before.headers["etag"]


def test_the_cache_is_bounded_in_bytes_and_drops_the_least_recent() -> None:
    import anyio

    stamps = iter([1, 1, 2])
    cache = ResponseCache(lambda: next(stamps), max_bytes=10, stamp_ttl=0)
    stamp = anyio.run(cache.stamp)
    cache.put("a", stamp, b"12345", "text/plain", {})
    cache.put("b", stamp, b"12345", "text/plain", {})
    assert cache.get("a", stamp) is not None  # now the most recent
    cache.put("c", stamp, b"12345", "text/plain", {})
    assert cache.get("b", stamp) is None and cache.get("a", stamp) and cache.get("c", stamp)
    assert cache.size == (2, 10)
    assert anyio.run(cache.stamp) == 1 and cache.size == (2, 10)
    assert anyio.run(cache.stamp) == 2 and cache.size == (0, 0)  # new data: everything rendered before is gone
