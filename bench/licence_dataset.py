"""Model licences as an Open Terms Archive dataset: ../shared/corpus/licenses in, `<provider>/<document>/<stamp>.txt` out.

    .venv/bin/python bench/licence_dataset.py OUT_DIR [--family qwen --family gemma ...]

The licence corpus is laid out `<family>/<document>/<YYYY-MM-DD>_<commit>.txt` with a manifest. Here each
document gets a provider name and a title that contains "License", so that `clausewatch import` (see
`monitor/importer/naming.py` `_guess_kind`) records it as a licence; a use policy keeps "Policy" in its title
and is recorded as a policy, as a use policy fetched from a vendor's site would be. Versions of one day
(the date in the corpus file name) are stamped T00-00-00Z, T01-00-00Z, ... in the manifest's (commit) order. Files keep the `.txt` suffix:
the importer reads them as plain text, as the monitor reads raw LICENSE files (`format: text`).

A document may be a lineage of several corpus documents (the Tongyi Qianwen research licence of 2023
followed by the Qwen2.5 research licence; the DeepSeek model licence of each model release): DOCUMENTS
lists its corpus documents oldest first.
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LICENCES = REPO.parent / "shared" / "corpus" / "licenses"


@dataclass(frozen=True)
class LicenceDocument:
    """One document of the dataset: provider (service) and title (terms type), and its corpus documents."""

    family: str
    provider: str
    title: str
    sources: tuple[str, ...]  # corpus document folders of `family`, oldest first


DOCUMENTS: tuple[LicenceDocument, ...] = (
    LicenceDocument("qwen", "Qwen", "Tongyi Qianwen License", ("qwen-repo-license",)),
    LicenceDocument("qwen", "Qwen", "Qwen-VL License", ("qwen-vl-license",)),
    LicenceDocument("qwen", "Qwen", "Research License",
                    ("tongyi-qianwen-research-license-agreement", "qwen-research-license-agreement")),
    LicenceDocument("gemma", "Gemma", "Terms of Use License", ("gemma-terms-of-use",)),
    LicenceDocument("gemma", "Gemma", "Prohibited Use Policy", ("gemma-prohibited-use-policy",)),
    LicenceDocument("falcon", "Falcon", "TII Falcon License", ("tii-falcon-license",)),
    LicenceDocument("falcon", "Falcon", "Acceptable Use Policy", ("tii-falcon-acceptable-use-policy",)),
    LicenceDocument("stability", "Stability AI", "Non-Commercial Research Community License",
                    ("stability-ai-non-commercial-research-community-license",)),
    LicenceDocument("stability", "Stability AI", "SD3.5 Repository License", ("sd3_5-repo-license",)),
    LicenceDocument("deepseek", "DeepSeek", "Model License",
                    ("deepseek-coder-license-model", "deepseek-llm-license-model", "deepseek-v2-license-model",
                     "deepseek-v3-license-model")),
    LicenceDocument("deepseek", "DeepSeek", "R1 License", ("deepseek-r1-license",)),
    LicenceDocument("yi", "Yi", "Model License", ("yi-model-license-agreement",)),
    LicenceDocument("chatglm", "ChatGLM", "ChatGLM-6B Model License", ("chatglm-6b-model-license",)),
    LicenceDocument("chatglm", "ChatGLM", "ChatGLM2-6B Model License", ("chatglm2-6b-model-license",)),
    LicenceDocument("chatglm", "ChatGLM", "ChatGLM3 Model License", ("chatglm3-model-license",)),
    LicenceDocument("chatglm", "ChatGLM", "GLM-4-9B License", ("glm-4-9b-license",)),
    LicenceDocument("nvidia", "NVIDIA", "AI Foundation Models Community License",
                    ("nvidia-ai-foundation-models-community-license",)),
    LicenceDocument("nvidia", "NVIDIA", "Open Model License", ("nvidia-open-model-agreement",)),
    LicenceDocument("xai", "xAI", "Grok 2 Community License", ("grok-2-community-license",)),
    LicenceDocument("xai", "xAI", "Acceptable Use Policy", ("xai-acceptable-use-policy",)),
    LicenceDocument("databricks", "Databricks", "Open Model License", ("databricks-open-model-license",)),
    LicenceDocument("databricks", "Databricks", "Open Model Acceptable Use Policy", ("databricks-open-model-aup",)),
    LicenceDocument("mistral", "Mistral AI", "Medium 3.5 Modified MIT License", ("mistral-medium-3_5-modified-mit",)),
)


@dataclass(frozen=True)
class LicenceVersion:
    """One corpus file placed in the dataset: where it comes from and the stamp it is recorded under."""

    document: LicenceDocument
    corpus_file: Path
    stamp: str  # YYYY-MM-DDTHH-MM-SSZ

    @property
    def relative_path(self) -> str:
        return f"{self.document.provider}/{self.document.title}/{self.stamp}.txt"


def manifest_entries(root: Path = LICENCES) -> list[dict]:
    return json.loads((root / "manifest.json").read_text(encoding="utf-8"))


def licence_versions(documents: tuple[LicenceDocument, ...] = DOCUMENTS, root: Path = LICENCES) -> list[LicenceVersion]:
    """Every version of `documents`, stamped with its file's date, one hour apart within a day."""
    entries = manifest_entries(root)
    versions: list[LicenceVersion] = []
    for document in documents:
        stamps_used: dict[str, int] = {}
        for source in document.sources:
            files = [e for e in entries if e["file"].startswith(f"{document.family}/{source}/")]
            if not files:
                raise SystemExit(f"{document.family}/{source}: not in {root / 'manifest.json'}")
            for entry in files:  # the manifest lists a document's commits in order
                day = Path(entry["file"]).name[:10]  # the file's date (an overlay's commit date can be later)
                hour = stamps_used.get(day, 0)
                stamps_used[day] = hour + 1
                versions.append(LicenceVersion(document, root / entry["file"], f"{day}T{hour:02d}-00-00Z"))
    return versions


def write_dataset(out: Path, documents: tuple[LicenceDocument, ...] = DOCUMENTS, root: Path = LICENCES) -> list[LicenceVersion]:
    """Copy the versions of `documents` into `out` in the dataset layout; returns what was written."""
    versions = licence_versions(documents, root)
    for version in versions:
        target = out / version.relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(version.corpus_file, target)
    return versions


def select(families: list[str] | None) -> tuple[LicenceDocument, ...]:
    if not families:
        return DOCUMENTS
    unknown = set(families) - {d.family for d in DOCUMENTS}
    if unknown:
        raise SystemExit(f"unknown licence family: {', '.join(sorted(unknown))}")
    return tuple(d for d in DOCUMENTS if d.family in families)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder to write the dataset into (created)")
    parser.add_argument("--family", action="append", help="only this corpus family (repeatable)")
    args = parser.parse_args()
    out = Path(args.out)
    versions = write_dataset(out, select(args.family))
    print(f"{len(versions)} versions of {len({v.document for v in versions})} documents in {out}")


if __name__ == "__main__":
    main()
