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


# ---------------------------------------------------------------- classification

def categories(text: str, lead: str = "") -> tuple[str, ...]:
    from monitor.clauses.classify import classify_clause

    return classify_clause(text, lead).categories


def chinese_clauses(corpus: Path, name: str) -> list:
    from monitor.clauses import extract_clauses
    from monitor.clauses.language import is_mainly_cjk

    return [c for c in extract_clauses(extracted(corpus, name), kind="license") if is_mainly_cjk(c.text)]


# Real sentences of the Yi licence; the rules' own examples are ChatGLM's (rules-zh.yaml).
@pytest.mark.parametrize(("sentence", "category"), [
    ("2) 您不得出于军事或非法目的，或以法律法规以及其他国家/地区适用的法律要求所不允许的方式", "use_policy"),
    ("包括但不限于您不得将Yi系列模型用作危害国家安全、宣扬恐怖主义、极端主义，宣扬民族及种族仇恨、歧视，暴力、色情，"
     "以及虚假有害信息等法律法规以及其他国家/地区适用的法律要求禁止的目的。", "use_policy"),
    ("4) 您必须向Yi系列模型及Yi系列模型衍生品的任何第三方使用者明确Yi系列模型的来源为许可方并向其提供本协议的副本。",
     "attribution_naming"),
])
def test_rules_written_on_chatglm_read_the_yi_licence(sentence: str, category: str) -> None:
    assert category in categories(sentence)


# The corpus has no Chinese text of these rules: our Chinese renderings of sentences of other providers than
# the ones the rules' examples render (rules-zh.yaml), so not one sentence's wording.
@pytest.mark.parametrize(("sentence", "category"), [
    # genai-eu/Google Generative AI Services/Terms of Service
    ("使用我们服务中由人工智能生成的内容开发机器学习模型或相关人工智能技术", "output_training"),
    # genai-eu/Claude.ai/Acceptable Use Policy
    ("未经Anthropic事先授权，利用输入和输出训练人工智能模型（例如“模型抓取”或“模型蒸馏”）", "output_training"),
    # genai-eu/Microsoft Copilot/Acceptable Use Policy
    ("使用任何服务帮助开发、构建或改进与任何服务类似或具有竞争性的任何产品或服务", "competing_use"),
    # lineage/Meta Llama/Acceptable Use Policy
    ("(x) 对本服务进行逆向工程，或从事模型提取或窃取攻击；", "reverse_engineering"),
    # genai-eu/Le Chat/Terms of Service
    ("使用任何机器人、蜘蛛或其他自动化装置访问本服务", "automated_extraction"),
])
def test_chinese_restrictions_of_other_providers(sentence: str, category: str) -> None:
    assert category in categories(sentence)


def test_model_scraping_is_distillation_not_scraping() -> None:
    assert "automated_extraction" not in categories("利用输入和输出训练人工智能模型（例如“模型抓取”）")


def test_provider_side_promises_disclaimers_and_grants_restrict_nobody() -> None:
    from monitor.clauses.classify import prepare_text, rule_by_id

    promise = "我们不会使用您的输出来训练我们的模型。"
    assert rule_by_id("output-training.zh-outputs-to-build-models").matches(prepare_text(promise))  # the words are there
    assert categories(promise) == ()
    # licenses/yi/yi-model-license-agreement/2023-11-23 (the grant's own "不可再许可" resells nothing)
    assert categories("许可方特此授予您非排他性、全球性、不可转让、不可再许可、可撤销、免版税的版权许可。") == ()
    assert categories("我们不能保证第三方永远不会破解我们的安全措施。") == ()


def test_a_list_item_is_classified_without_its_lead_in() -> None:
    assert categories("(b) 对本服务进行反向工程或复制；", "您不得：") == ("reverse_engineering",)


@pytest.mark.parametrize("name", [YI_V1, YI_V2_1, CHATGLM_6B, GLM_4])
def test_no_chinese_clause_of_the_corpus_licences_is_a_restriction_they_do_not_state(corpus: Path,
                                                                                     name: str) -> None:
    # The Yi and ChatGLM licences hold no output-training, competing-use, reverse-engineering or scraping ban.
    from monitor.clauses import RESTRICTIVE_CATEGORIES

    found = {category for clause in chinese_clauses(corpus, name) for category in clause.categories}
    assert "use_policy" in found
    assert not found & set(RESTRICTIVE_CATEGORIES), found


def test_included_vetoes_are_added_to_the_main_files(tmp_path: Path) -> None:
    from monitor.clauses.classify import read_rules_data

    (tmp_path / "main.yaml").write_text("include: [more.yaml]\nvetoes:\n  provider_side: 'we will'\n"
                                        "rules: []\n", encoding="utf-8")
    (tmp_path / "more.yaml").write_text("vetoes:\n  provider_side: '我们将'\n  definition: '是指'\n", encoding="utf-8")
    vetoes = read_rules_data(str(tmp_path / "main.yaml"))["vetoes"]
    assert vetoes == {"provider_side": "(?:we will)|(?:我们将)", "definition": "是指"}


def test_a_reworded_chinese_clause_is_the_same_clause_modified(corpus: Path) -> None:
    """ChatGLM-6B's Chinese restrictions as GLM-4's licence rewords them: two modified clauses, no ban gone
    and another come (which would alert as a new restriction)."""
    from monitor.changes import compare_clauses

    old, new = (chinese_clauses(corpus, name) for name in (CHATGLM_6B, GLM_4))
    _, changes = compare_clauses(old, new)
    bans = [change for change in changes if "use_policy" in change.categories]
    assert [change.kind for change in bans] == ["modified", "modified"], bans
    assert bans[0].before.startswith("您不得出于任何商业、军事或非法目的") and bans[0].after.startswith("您不得出于任何军事或非法目的")
