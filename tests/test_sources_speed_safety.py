"""The fast paths of loading sources.yaml keep what the slow ones guaranteed (issue 14, item 3): libyaml's
loader keeps the alias and nesting limits and the error lines, and the cache of validated files never
hides an edit, a mistake or a tampered entry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from monitor import sources as sources_module
from monitor import yaml_loader
from monitor.errors import ConfigError
from monitor.sources import load_sources

GOOD = {"id": "ok", "provider": "Example", "title": "Terms", "url": "https://example.org/terms",
        "select": ["main"], "remove": ["nav"]}
BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{chr(98 + level)}: &{chr(98 + level)} [" + ",".join([f"*{chr(97 + level)}"] * 9) + "]"
       for level in range(8)]) + "\n"
LOADERS = [yaml_loader._PythonGuardedLoader, yaml_loader._CGuardedLoader]


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "clausewatch"


def write(tmp_path: Path, entries: list[dict]) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": entries}, sort_keys=False))
    return path


def test_the_c_loader_is_the_one_in_use() -> None:
    assert yaml.__with_libyaml__ and yaml_loader.GuardedLoader is yaml_loader._CGuardedLoader


@pytest.mark.parametrize("loader", LOADERS, ids=["python", "libyaml"])
def test_both_loaders_refuse_billion_laughs_naming_the_line(loader: type) -> None:
    with pytest.raises(yaml.YAMLError, match=r"aliases \(\*name\) expand to more than 10000 values(?s:.*)line "):
        yaml_loader.load_guarded(BILLION_LAUGHS, loader)


@pytest.mark.parametrize("depth", [65, 999, 5000])
@pytest.mark.parametrize("loader", LOADERS, ids=["python", "libyaml"])
def test_both_loaders_refuse_deep_nesting_naming_the_line(loader: type, depth: int) -> None:
    with pytest.raises(yaml.YAMLError, match=r"nested more than 64 levels deep(?s:.*)line 2"):
        yaml_loader.load_guarded("a: 1\nx: " + "[" * depth + "]" * depth + "\n", loader)


@pytest.mark.parametrize("loader", LOADERS, ids=["python", "libyaml"])
def test_both_loaders_count_nesting_through_aliases(loader: type) -> None:
    text = f"a: &a {'[' * 40}1{']' * 40}\nc: {'[' * 30}*a{']' * 30}\n"
    with pytest.raises(yaml.YAMLError, match=r"nested more than 64 levels deep \(through an alias\)"):
        yaml_loader.load_guarded(text, loader)
    assert yaml_loader.load_guarded(f"a: &a {'[' * 30}1{']' * 30}\nc: [*a, *a]\n", loader)["c"][1][0]


def test_the_c_loader_refuses_an_alias_inside_what_it_names() -> None:
    with pytest.raises(yaml.YAMLError, match="inside the collection it names"):
        yaml_loader.load_guarded("a: &a [1, *a]\n")


def test_a_second_load_comes_from_the_cache_and_equals_the_first(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, [GOOD, {**GOOD, "id": "ok2", "schedule": "1d", "enabled": False}])
    first = load_sources(path)

    def no_parsing(*args: object) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(sources_module, "load_guarded", no_parsing)
    again = load_sources(path)
    assert again == first and [source.model_dump() for source in again] == [source.model_dump() for source in first]
    assert again[0].select == ("main",) and isinstance(again[0].remove, tuple)


def test_an_edited_file_is_validated_again_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, [GOOD, {**GOOD, "id": "ok2"}])
    load_sources(path)
    write(tmp_path, [GOOD, {**GOOD, "id": "ok2", "url": "ftp://example.org"}])
    with pytest.raises(ConfigError, match=r"sources.yaml:10: source 'ok2': field 'url'"):
        load_sources(path)
    write(tmp_path, [GOOD, {**GOOD, "id": "ok3"}])
    assert [source.id for source in load_sources(path)] == ["ok", "ok3"]


def test_a_file_that_fails_is_not_cached(tmp_path: Path, cache_home: Path) -> None:
    path = write(tmp_path, [{**GOOD, "schedule": "10s"}])
    for _ in range(2):
        with pytest.raises(ConfigError, match="shorter than one minute"):
            load_sources(path)
    assert not list(cache_home.glob("sources-*.json"))


@pytest.mark.parametrize("tamper", ["garbage", "fields", "writable"])
def test_a_damaged_or_foreign_entry_is_a_miss(tmp_path: Path, cache_home: Path, tamper: str) -> None:
    path = write(tmp_path, [GOOD])
    load_sources(path)
    (entry,) = cache_home.glob("sources-*.json")
    text = entry.read_text()
    if tamper == "garbage":
        entry.write_text(text[:40])
    elif tamper == "fields":
        entry.write_text(text.replace('"provider"', '"owner"'))
    else:
        entry.write_text(text.replace("https://example.org/terms", "http://127.0.0.1/admin"))
        os.chmod(entry, 0o666)
    assert [source.url for source in load_sources(path)] == ["https://example.org/terms"]


def test_an_unwritable_cache_folder_still_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))  # a file where the folder should be
    path = write(tmp_path, [GOOD])
    assert [source.id for source in load_sources(path)] == [source.id for source in load_sources(path)] == ["ok"]


def test_the_cache_keeps_a_bounded_number_of_entries(tmp_path: Path, cache_home: Path) -> None:
    for number in range(sources_module.CACHE_ENTRIES + 5):
        folder = tmp_path / str(number)
        folder.mkdir()
        load_sources(write(folder, [GOOD]))
    assert len(list(cache_home.glob("sources-*.json"))) == sources_module.CACHE_ENTRIES
