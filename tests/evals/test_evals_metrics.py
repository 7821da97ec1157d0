"""Each metric on hand-built results over the shipped corpus, including results that must fail."""

from __future__ import annotations

import pytest

from evals.metrics import (
    Citation,
    abstains,
    aggregate,
    brief_sentences,
    budget_check,
    citation_coverage,
    citation_precision,
    citations_of,
    fact_recall,
    markers_in,
    schema_validity,
    score_result,
    typed_field_accuracy,
    unsupported_claim_rate,
)

TERN = "companies/mv_tern_launch.html"
CENSUS = "civic/vellmark_census_2020.txt"


@pytest.fixture
def tern_answer(research_result):
    return research_result(
        [
            (
                "The MV Tern was built at the Kessingford shipyard",
                TERN,
                "Built at the Kessingford shipyard at a cost of 41 million crowns",
            ),
            ("Kessingford had 298,750 inhabitants at the 2020 census", CENSUS, "Kessingford       298,750"),
        ]
    )


def test_a_grounded_answer_scores_full_marks(dataset, source_texts, tern_answer, lite_budgets):
    score = score_result(dataset["mh-03"], tern_answer, source_texts, budgets=lite_budgets)
    assert (score.fact_recall, score.citation_precision, score.citation_coverage) == (1.0, 1.0, 1.0)
    assert (score.unsupported_claim_rate, score.schema_validity, score.budget_adherence) == (0.0, 1.0, 1.0)
    assert (score.cost_usd, score.latency_ms, score.credits, score.success) == (0.031, 21_000, 15, 1.0)


def test_a_fabricated_quote_lowers_citation_precision(source_texts, tern_answer):
    tern_answer["claims"][1]["quote"] = "Kessingford had exactly 300,000 residents"
    assert citation_precision(tern_answer, source_texts) == 0.5
    assert unsupported_claim_rate(tern_answer, source_texts) == 0.5


def test_a_real_quote_attributed_to_the_wrong_source_is_not_supported(corpus, source_texts, tern_answer):
    tern_answer["claims"][1]["url"] = corpus.by_path(TERN).url
    assert citation_precision(tern_answer, source_texts) == 0.5


def test_quotes_match_across_line_breaks_typographic_quotes_and_ellipses(research_result, source_texts):
    result = research_result(
        [
            (
                "Okonjo credits the steelworks",
                "culture/mara_okonjo.md",
                "the steelworks taught her “how machines fail\n   when water gets into them”",
            ),
            ("The Tern runs on the tide", TERN, "“The ship is powered by the same tide … sails across,”"),
        ]
    )
    assert citation_precision(result, source_texts) == 1.0
    result["claims"][1]["quote"] = "the same tide … The ship is powered by"  # pieces out of order
    assert citation_precision(result, source_texts) == 0.5


def test_a_quote_from_an_unknown_url_fails(source_texts, tern_answer):
    tern_answer["claims"][0]["url"] = "https://elsewhere.test/page"
    assert citation_precision(tern_answer, source_texts) == 0.5


def test_no_citations_means_precision_does_not_apply(source_texts):
    assert citation_precision({"brief": "Nothing cited here at all.", "sources": []}, source_texts) is None


def test_coverage_counts_brief_sentences_carrying_a_marker(tern_answer):
    tern_answer["brief"] = tern_answer["brief"].replace(
        "# Answer\n\n", "# Answer\n\nThis sentence has no citation at all. "
    )
    assert citation_coverage(tern_answer) == pytest.approx(2 / 3)


def test_a_marker_past_the_end_of_sources_is_unsupported(source_texts, tern_answer):
    tern_answer["brief"] = tern_answer["brief"].replace("[2].", "[7].")
    assert citation_coverage(tern_answer) == 1.0
    assert unsupported_claim_rate(tern_answer, source_texts) == 0.5


def test_sentence_splitting_ignores_headings_tables_and_the_sources_list():
    brief = (
        "# Title\n\nDr. Varga led the study [1]. It ran for 14 months [1][2].\n"
        "- Detections fell by 11 percent [2].\n| a | b |\n\n## Sources\n[1] Study — https://x\n"
    )
    assert brief_sentences(brief) == [
        "Dr. Varga led the study [1].",
        "It ran for 14 months [1][2].",
        "Detections fell by 11 percent [2].",
    ]
    assert markers_in("see [1, 3] and [5-7] and [2]") == {1, 2, 3, 5, 6, 7}


def test_fact_recall_accepts_variants_and_normalised_numbers(dataset):
    item = dataset["sh-03"]
    assert fact_recall(item, {"brief": "It is 1870 meters long and opened on June 14, 2004."}) == 1.0
    assert fact_recall(item, {"brief": "It is 1,870 m long."}) == 0.5
    assert fact_recall(dataset["sh-06"], {"brief": "Detections were 11% lower."}) == 1.0
    assert fact_recall(dataset["sh-06"], {"brief": "Detections were 111% lower in 2011."}) == 0.0


def test_facts_are_also_found_in_the_typed_object(dataset):
    assert fact_recall(dataset["typed-02"], {"brief": "", "typed": {"total": "1,184,000"}}) == 1.0


def test_an_unanswerable_question_is_answered_by_saying_so(dataset, source_texts):
    item = dataset["na-01"]
    honest = {
        "status": "succeeded",
        "brief": "The sources do not mention the population of the Isle of Brannock.",
        "sources": [],
        "typed": {"answer": "Not found", "key_findings": [], "open_questions": []},
    }
    invented = {
        **honest,
        "brief": "The Isle of Brannock has 4,200 inhabitants.",
        "typed": {"answer": "4,200", "key_findings": [], "open_questions": []},
    }
    score = score_result(item, honest, source_texts)
    assert (
        score.fact_recall == 1.0 and score.citation_coverage is None and score.unsupported_claim_rate is None
    )
    assert fact_recall(item, invented) == 0.0
    assert unsupported_claim_rate(invented, source_texts) == 1.0


def test_a_typed_found_false_counts_as_abstaining(dataset):
    typed = {"found": False, "net_profit_million_crowns": None}
    assert abstains({"brief": "", "typed": typed})
    assert typed_field_accuracy(dataset["na-06"], typed) == 1.0
    assert typed_field_accuracy(dataset["na-06"], {"found": False, "net_profit_million_crowns": 0}) == 0.5


def test_schema_validity_uses_draft_2020_12_with_formats(dataset):
    item = dataset["typed-04"]
    good = {
        "opened": "2004-06-14",
        "length_m": 1870,
        "main_span_m": 640,
        "cost_million_crowns": 312,
        "designer": "Okafor and Lindqvist",
    }
    assert schema_validity(good, item.response_schema) == 1.0
    assert typed_field_accuracy(item, good) == 1.0
    assert schema_validity({**good, "opened": "14 June 2004"}, item.response_schema) == 0.0
    assert schema_validity({**good, "length_m": "1,870 m"}, item.response_schema) == 0.0


def test_typed_field_accuracy_reads_nested_paths(dataset):
    item = dataset["typed-03"]
    typed = {
        "men": {"name": "Jonah Feld", "time": "2:11:48"},
        "women": {"name": "amara quist", "time": "2:28:51"},
        "finishers": 6850,
    }
    assert schema_validity(typed, item.response_schema) == 1.0
    assert typed_field_accuracy(item, typed) == pytest.approx(4 / 5)
    assert typed_field_accuracy(dataset["typed-01"], {"rated_mw": 3.1}) == pytest.approx(1 / 5)


def test_basis_citations_are_numbered_by_their_source(corpus, source_texts):
    url = corpus.by_path(TERN).url
    result = {
        "sources": [
            {"url": "https://other.test/", "title": "o", "domain": "o"},
            {"url": url, "title": "t", "domain": "d"},
        ],
        "basis": [
            {
                "field": "cost",
                "confidence": "high",
                "citations": [{"url": url, "title": "t", "quote": "at a cost of 41 million crowns"}],
            }
        ],
    }
    assert citations_of(result) == [
        Citation(n=2, url=url, quote="at a cost of 41 million crowns", field="cost")
    ]
    assert citation_precision(result, source_texts) == 1.0


def test_budgets_are_hard_caps(tern_answer, lite_budgets):
    tern_answer["usage"].update(cost_usd=0.05, elapsed_secs=60, pages=7)
    check = budget_check(tern_answer, lite_budgets)
    assert check.violations == ("pages 7 > max_pages 6",) and check.score == 0.0
    del tern_answer["usage"]["searches"]
    assert budget_check(tern_answer, lite_budgets).unchecked == ("searches",)


def test_a_failed_job_scores_no_recall_and_no_success(dataset, source_texts, lite_budgets):
    failed = {
        "status": "failed",
        "error": "schema cast failed",
        "typed": {},
        "sources": [],
        "cost_usd": 0.02,
        "latency_ms": 5000,
    }
    score = score_result(dataset["typed-01"], failed, source_texts, budgets=lite_budgets)
    assert (score.fact_recall, score.success, score.schema_validity, score.budget_adherence) == (
        0.0,
        0.0,
        None,
        1.0,
    )
    assert score.details["error"] == "schema cast failed"


def test_aggregation_is_per_mode_and_skips_metrics_that_do_not_apply(dataset, source_texts, tern_answer):
    item = dataset["mh-03"]
    uncited = {
        **tern_answer,
        "claims": [],
        "brief": "Kessingford built it.",
        "cost_usd": 0.009,
        "usage": {},
        "latency_ms": 3000,
        "credits_charged": 0,
        "typed": {},
    }
    scores = [
        score_result(item, tern_answer, source_texts, mode="standard"),
        score_result(item, uncited, source_texts, mode="baseline"),
        score_result(item, tern_answer, source_texts, mode="lite"),
        score_result(dataset["na-01"], {"brief": "Not found in the sources."}, source_texts, mode="lite"),
    ]
    summary = aggregate(scores)
    assert list(summary) == ["baseline", "lite", "standard"]
    lite = summary["lite"]
    assert lite.questions == 2 and lite.metrics["fact_recall"] == 1.0
    assert lite.metrics["citation_precision"] == 1.0  # the abstention has no citations; it is skipped
    assert summary["baseline"].metrics["citation_precision"] is None
    assert summary["baseline"].metrics["fact_recall"] == 0.5
    assert lite.cost_usd_total == pytest.approx(0.031) and lite.credits_total == 15
    assert set(aggregate(scores, key=lambda s: s.kind)) == {"multi_hop", "unanswerable"}
