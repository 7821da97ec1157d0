"""The dataset and corpus loaders, and the shipped corpus/dataset themselves."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from pypdf import PdfReader

from evals.dataset import (
    QUESTION_KINDS,
    CorpusError,
    DatasetError,
    html_to_text,
    load_corpus,
    load_dataset,
    markdown_to_text,
)
from evals.metrics import contains_phrase, normalise_fact_text

GOOD = {"id": "q1", "question": "When?", "mode": "lite", "facts": [["1998", "nineteen ninety-eight"]]}


def write_lines(tmp_path, *lines: str):
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def line(**changes) -> str:
    raw = {**GOOD, **changes}
    return json.dumps({k: v for k, v in raw.items() if v is not ...})


def test_a_valid_line_loads_with_its_variants(tmp_path):
    [item] = load_dataset(write_lines(tmp_path, line()))
    assert item.facts == (("1998", "nineteen ninety-eight"),)
    assert item.answerable and item.kind == "single_hop"


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (line(question=...), "missing required field(s): question"),
        (line(mode="turbo"), "'mode' must be one of"),
        (line(kind="trivia"), "'kind' must be one of"),
        (line(facts="1998"), "'facts' must be a list"),
        (line(facts=[[]]), "facts[0] must be a non-empty list"),
        (line(facts=[["ok"], [3]]), "facts[1] must be a non-empty list"),
        (line(answer="x"), "unknown field(s): answer"),
        (line(answerable="no"), "'answerable' must be true or false"),
        (line(response_schema={"type": "objekt"}), "not a valid JSON Schema"),
        (line(expected={"a": 1}), "'expected' needs a 'response_schema'"),
        (line(facts=[]), "needs 'facts' or 'expected'"),
    ],
)
def test_a_malformed_line_is_reported_with_file_and_line(tmp_path, bad_line, message):
    path = write_lines(tmp_path, line(), "", bad_line)
    with pytest.raises(DatasetError) as error:
        load_dataset(path)
    assert str(error.value).startswith(f"{path}:3: ")
    assert message in str(error.value)


def test_duplicate_ids_name_both_lines(tmp_path):
    path = write_lines(tmp_path, line(), line())
    with pytest.raises(DatasetError, match=rf"{path}:2: duplicate id 'q1' \(first defined at {path}:1\)"):
        load_dataset(path)


def test_an_unanswerable_question_needs_no_facts(tmp_path):
    [item] = load_dataset(write_lines(tmp_path, line(facts=[], answerable=False)))
    assert not item.answerable


def test_a_missing_dataset_and_an_empty_corpus_fail_clearly(tmp_path):
    with pytest.raises(DatasetError, match="cannot read dataset"):
        load_dataset(tmp_path / "nope.jsonl")
    with pytest.raises(CorpusError, match="no md/html/txt/rst/pdf documents"):
        load_corpus(tmp_path)


def test_any_directory_loads_as_a_corpus(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.md").write_text("# Title A\n\nSome **bold** [link](http://x) text.\n", encoding="utf-8")
    (tmp_path / "sub" / "b.html").write_text(
        "<html><head><title>B</title><script>var x</script></head><body><p>Hello&nbsp;there</p>"
        "<table><tr><td>Rated</td><td>3.1 MW</td></tr></table></body></html>",
        encoding="utf-8",
    )
    (tmp_path / "c.rst").write_text("Plain rst text\n", encoding="utf-8")
    (tmp_path / "ignored.py").write_text("print()", encoding="utf-8")
    corpus = load_corpus(tmp_path, base_url="https://docs.test")
    assert [d.path for d in corpus] == ["a.md", "c.rst", "sub/b.html"]
    page = corpus.by_url("https://DOCS.test/sub/b.html#frag")
    assert page.title == "B" and "Hello there" in page.text and "Rated 3.1 MW" in page.text
    assert "var x" not in page.text
    assert corpus.by_path("a.md").text == "Title A\n\nSome bold link text."


def test_markdown_and_html_keep_words_verbatim():
    assert markdown_to_text("| a | b |\n|---|---|\n| 1 | 2 |") == "a | b\n1 | 2"
    _, text = html_to_text("<h1>T</h1><p>Caf&eacute; &ldquo;x&rdquo;</p>")
    assert text == "T\nCafé “x”"


def test_the_shipped_corpus_has_forty_documents_in_every_format(corpus):
    formats = Counter(d.format for d in corpus)
    assert len(corpus) >= 40
    assert formats["md"] and formats["html"] and formats["txt"] and 1 <= formats["pdf"] <= 2
    for document in corpus:
        assert 150 <= document.word_count <= 600, (document.path, document.word_count)


def test_the_shipped_pdfs_extract_to_their_text(corpus):
    for document in (d for d in corpus if d.format == "pdf"):
        reader = PdfReader(corpus.root / document.path)
        assert reader.pages[0].extract_text().strip()
    report = corpus.by_path("energy/brightwater_annual_report_2022.pdf")
    assert "Revenue rose to 486 million crowns" in report.text


def test_the_shipped_dataset_covers_every_kind(dataset):
    kinds = Counter(item.kind for item in dataset.values())
    assert len(dataset) >= 30
    assert set(kinds) == set(QUESTION_KINDS)
    assert sum(not item.answerable for item in dataset.values()) >= 3
    assert (
        sum(item.response_schema is not None and item.expected is not None for item in dataset.values()) >= 5
    )


def test_every_gold_fact_is_in_its_gold_sources(dataset, corpus):
    """Catches typos in gold answers: facts (unless computed) appear verbatim in the cited documents."""
    for item in dataset.values():
        texts = [corpus.by_path(path) for path in item.gold_sources]
        assert all(texts), (item.id, item.gold_sources)
        if item.computed or not item.answerable:
            continue
        haystack = normalise_fact_text("\n".join(d.text for d in texts))
        for fact in item.facts:
            assert any(contains_phrase(haystack, v) for v in fact), (item.id, fact)
