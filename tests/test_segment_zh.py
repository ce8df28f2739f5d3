"""Chinese segmentation and classification, on the Chinese texts of the Yi and ChatGLM licences in the corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.clauses.segment import segment_document
from monitor.clauses.segment_zh import has_chinese, split_chinese_sentences
from monitor.extract import extract_document

YI_V1 = "licenses/yi/yi-model-license-agreement/2023-11-04_03c9c1b.txt"
YI_V2_1 = "licenses/yi/yi-model-license-agreement/2023-11-23_90fe567.txt"
CHATGLM_6B = "licenses/chatglm/chatglm-6b-model-license/2023-05-24_875a8b2.txt"
GLM_4 = "licenses/chatglm/glm-4-9b-license/2024-10-16_5413230.txt"


def extracted(corpus: Path, name: str) -> str:
    """The licence's text as the pipeline stores it."""
    return extract_document((corpus / name).read_bytes(), format=None, content_type="text/plain").text


def by_text(segments: list, start: str):
    return next(s for s in segments if s.text.startswith(start))


def chinese_part(text: str) -> str:
    return text[text.index("Yi系列模型"):]


# ---------------------------------------------------------------- segmentation

def test_sentences_end_at_full_stops_and_semicolons_not_inside_quotes() -> None:
    # chatglm/glm-4-9b-license/2024-10-16: (A) ends with "；", the quoted name keeps its "。" inside the clause
    text = "(A) 随任何此类 THUDM / 智谱AI 材料提供本协议的副本；(B) 在相关网站上突出显示 “Built with glm-4。”。"
    assert split_chinese_sentences(text) == ["(A) 随任何此类 THUDM / 智谱AI 材料提供本协议的副本；",
                                             "(B) 在相关网站上突出显示 “Built with glm-4。”。"]


def test_yi_items_nest_under_numbered_sections_with_lead_in(corpus: Path) -> None:
    segments = segment_document(chinese_part(extracted(corpus, YI_V1)))
    heading = by_text(segments, "许可及许可限制")
    assert (heading.kind, heading.path, heading.label) == ("heading", "2", "2.")
    item = by_text(segments, "4) 您必须向Yi系列模型")
    assert (item.path, item.label, item.heading) == ("2(4)", "4)", "许可及许可限制")
    assert item.lead == "您仅可出于非商业用途使用Yi系列模型，并且您必须满足如下许可限制条件："


def test_an_inline_list_gives_one_clause_per_item_with_the_sentence_before_it_as_lead(corpus: Path) -> None:
    segments = segment_document(chinese_part(extracted(corpus, YI_V1)))
    use, derive = by_text(segments, "a) 使用"), by_text(segments, "b) 创建")
    assert (use.text, use.path, use.kind) == ("a) 使用、复制、或分发Yi系列模型;", "2(2)(a)", "inline")
    assert (derive.text, derive.path) == ("b) 创建Yi系列模型的全部或部分衍生品。", "2(2)(b)")
    assert use.lead == derive.lead and use.lead.startswith("2) 您不得出于军事或非法目的")


def test_chinese_numerals_and_glued_numbers_open_sections(corpus: Path) -> None:
    segments = segment_document(extracted(corpus, CHATGLM_6B))
    definitions = by_text(segments, "定义")
    restrictions = by_text(segments, "限制")
    assert (definitions.kind, definitions.path, definitions.label) == ("heading", "1", "一、")
    assert (restrictions.kind, restrictions.path, restrictions.label) == ("heading", "3", "3.")
    ban = by_text(segments, "您不得出于任何商业、军事或非法目的")
    assert (ban.path, ban.heading) == ("3", "限制")


def test_hard_wrapped_lines_are_joined_without_spaces(corpus: Path) -> None:
    raw = chinese_part((corpus / YI_V2_1).read_text(encoding="utf-8"))
    segments = segment_document(raw)
    model = by_text(segments, "“模型”是指")
    assert model.text == "“模型”是指任何附带的基于机器学习的组件(包括检查点)，包括学习的权重、参数（包括优化器状态）。"
    assert by_text(segments, "2) 您不得").path == "2(2)"


def test_enumeration_styles_and_their_paths() -> None:
    # the marker styles of Chinese legal drafting (constructed text: the corpus licences use 一、 1. 1) a) (A) only)
    text = ("第一章 总则\n\n第一条 本协议适用于所有用户。\n\n一、用户义务\n\n您不得从事下列行为：\n\n"
            "（一）反向工程本软件；\n\n（二）爬取本服务的数据。\n\n二、其他\n\n1、第一项规定。\n\n2、第二项规定：①不得转售；②不得出租。")
    segments = [s for s in segment_document(text) if s.kind != "heading"]
    paths = {s.text: (s.path, s.lead) for s in segments}
    assert paths["（一）反向工程本软件；"] == ("1.1.1(1)", "您不得从事下列行为：")
    assert paths["（二）爬取本服务的数据。"] == ("1.1.1(2)", "您不得从事下列行为：")
    assert paths["1、第一项规定。"][0] == "1.1.2.1"
    assert paths["①不得转售；"] == ("1.1.2.2(1)", "2、第二项规定：")
    assert paths["②不得出租。"][0] == "1.1.2.2(2)"


def test_the_english_part_of_a_bilingual_licence_is_segmented_as_before(corpus: Path) -> None:
    text = extracted(corpus, GLM_4)
    english = text[text.index("1. Definitions"):]
    segments = segment_document(text)
    assert segments[-len(segment_document(english, chinese=False)):] == segment_document(english, chinese=False)
    assert any(s.text == "您不得出于任何军事或非法目的使用、复制、修改、合并、发布、分发、复制或创建本软件的全部或部分衍生作品。"
               for s in segments)


@pytest.mark.parametrize("name", ["genai-eu/ChatGPT/Terms of Service", "genai-eu/Qwen Chat/Terms of Service",
                                  "genai-eu/Claude.ai/Acceptable Use Policy"])
def test_documents_without_chinese_are_not_touched(corpus: Path, name: str) -> None:
    text = sorted((corpus / name).glob("*.md"))[-1].read_text(encoding="utf-8")
    assert not has_chinese(text)
    assert segment_document(text) == segment_document(text, chinese=False)
