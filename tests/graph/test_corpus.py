"""The local corpus: FTS5 with bm25 over md/txt/rst/html/pdf, re-indexed incrementally."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from graph.providers.corpus import CorpusIndex, fts_query
from graph.providers.search import CorpusSearch
from tests.graph.conftest import CORPUS


def test_every_supported_format_is_indexed_and_ranked(tmp_path):
    index = CorpusIndex(CORPUS, tmp_path / "index.sqlite")
    assert index.refresh() == 5
    by_query = {
        q: [h.path for h in index.search(q, 3)]
        for q in (
            "coefficient of performance heat pump",
            "lithium-ion grid battery",
            "electrolysers green hydrogen",
            "offshore turbines capacity factor",
            "photovoltaic silicon cells",
        )
    }
    assert [names[0] for names in by_query.values()] == [
        "heat-pumps.md",
        "batteries.html",
        "hydrogen.pdf",
        "wind-power.rst",
        "solar-power.txt",
    ]
    title, html = index.document("batteries.html")
    assert title == "Grid batteries and energy storage"
    assert "fast frequency response" in html and "All rights reserved" not in html
    assert index.document("../../etc/passwd") is None  # only indexed paths answer


def test_reindexing_only_touches_changed_files(tmp_path):
    folder = tmp_path / "docs"
    shutil.copytree(CORPUS, folder)
    index = CorpusIndex(folder, tmp_path / "index.sqlite")
    assert index.refresh() == 5
    assert index.refresh() == 0
    note = folder / "heat-pumps.md"
    note.write_text("# Heat pumps\n\nGeothermal boreholes reach a depth of 150 metres in this update.\n")
    os.utime(note, ns=(note.stat().st_atime_ns, note.stat().st_mtime_ns + 10**9))
    (folder / "wind-power.rst").unlink()
    assert index.refresh() == 1
    assert [h.path for h in index.search("geothermal boreholes", 5)] == ["heat-pumps.md"]
    assert index.search("offshore turbines", 5) == []


def test_queries_cannot_inject_fts_syntax(tmp_path):
    index = CorpusIndex(CORPUS, tmp_path / "index.sqlite")
    assert fts_query('heat" OR NEAR(pumps) *') == '"heat" OR "near" OR "pumps"'
    assert index.search('") AND body:(', 5) == []


async def test_corpus_search_returns_text_with_each_hit(tmp_path):
    search = CorpusSearch(CorpusIndex(CORPUS, tmp_path / "index.sqlite"))
    results = await search.search("heat pump efficiency", 2)
    assert results[0].url == "corpus://heat-pumps.md"  # a stable id, never a server path
    assert results[0].raw_content and "coefficient of performance" in results[0].raw_content
    assert results[0].title == "Heat pumps" and results[0].domain == "corpus"


def files_open_on(path) -> int:
    """How many of this process's file descriptors are open on `path`."""
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):  # an fd closed while listing
            count += os.readlink(fd) == str(path)
    return count


def test_searches_reuse_one_read_connection_and_close_releases_it(tmp_path):
    index = CorpusIndex(CORPUS, tmp_path / "index.sqlite")
    for _ in range(20):
        assert index.search("heat pump efficiency", 3)
        assert index.document("batteries.html")
    assert files_open_on(index.index_path) == 1  # one connection, kept between searches
    index.close()
    assert files_open_on(index.index_path) == 0
    assert index.search("heat pump efficiency", 3)  # reopened on demand
    index.close()
