"""Regenerate the PDF documents of the shipped corpus.

The PDFs are committed; this script exists so their text is reviewable and reproducible.
It writes a minimal PDF by hand (Helvetica, WinAnsi) so no PDF library is needed and pypdf
extracts the text back verbatim. Run: `uv run python -m evals.tools.build_corpus_pdfs`.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus"

ANNUAL_REPORT_2022 = """\
Brightwater Tidal Energy - Annual Report 2022 (summary edition)

Harrowgate Bay, published 28 March 2023.

Letter from the chief executive
2022 was Brightwater's fourth profitable year in a row. Revenue rose to 486 million crowns, \
from 402 million crowns in 2021, and net profit rose to 38.5 million crowns, from 29.0 million \
crowns. We announced the TideLance T6 in March and began building its first blades in our \
Kessingford factory. Tomas Reyhill, Chief Executive.

Fleet at 31 December 2022
Sallow Array: 24 TideLance T4 turbines, 57.6 MW.
Brannock Sound: 25 TideLance T4 and 6 TideLance T3 turbines, 69.0 MW.
Port Anwen test berth: 1 TideLance T4 and 1 BW-5 prototype of 2.0 MW, 4.4 MW.
Total: 57 turbines, 131 MW of installed capacity.

Generation
The fleet generated 436 GWh of electricity in 2022, equal to a fleet capacity factor of 38 \
percent. Availability, the share of time turbines were ready to generate, was 96.2 percent. \
Output was lost on 18 February 2022, when the Sallow Barrier was raised during Storm Orla \
and the current at the Sallow Array fell for eleven hours.

People
We employed 1,240 people at the end of 2022, of whom about 300 work at the blade factory in \
Kessingford. Our lost-time injury rate fell for the third year running.

Outlook
Our target is 200 MW of installed capacity by 2027. We have applied for consent to add 12 \
TideLance T6 turbines to the Sallow Array and expect the first two T6 units to be installed at \
Brannock Sound in 2024. The board proposes a dividend of 0.40 crowns per share, the first in \
the company's history.
"""

GRID_REPORT_2022 = """\
Vellmark Grid Company - Electricity System Report 2022

Published by the Vellmark Grid Company (VGC), the operator of the regional transmission \
network, May 2023.

Generation
Power stations connected to the Vellmark grid generated 9.8 TWh of electricity in 2022. \
Regional demand was 8.9 TWh; the surplus was exported over the interconnector.

Generation mix in 2022
Natural gas: 41.6 percent
Wind (offshore and onshore): 31.0 percent
Solar: 9.0 percent
Biomass: 6.0 percent
Other: 5.0 percent
Tidal stream: 4.4 percent
Hydro: 3.0 percent

The Nordhaven Offshore Wind Farm alone supplied 2.3 TWh. Tidal stream generation, almost all \
from Brightwater Tidal Energy's turbines, was 0.44 TWh.

Carbon intensity
The average carbon intensity of generation fell to 212 grams of CO2 per kWh, from 248 grams \
in 2021, because wind output was higher and gas output lower.

Peak demand
Peak demand was 1,720 MW at 17:30 on 14 December 2022, during the coldest night of the year.

Storm Orla
On 18 February 2022 Storm Orla damaged overhead lines in the east of the region and 46,000 \
customers lost power, some for up to three days. Tidal output was also reduced while the \
Sallow Barrier was raised.

Value of predictable generation
Because tidal output can be forecast years ahead, VGC counts 80 percent of tidal capacity as \
firm when planning reserves, compared with 10 percent of wind capacity.

Outlook
VGC expects to connect Nordhaven II, with a planned capacity of 900 MW, before the end of the \
decade, and is upgrading the line between Harrowgate Bay and Kessingford.
"""

DOCUMENTS = {
    "energy/brightwater_annual_report_2022.pdf": ("Brightwater Annual Report 2022", ANNUAL_REPORT_2022),
    "energy/vellmark_grid_report_2022.pdf": (
        "Vellmark Grid Company Electricity System Report 2022",
        GRID_REPORT_2022,
    ),
}

_LINES_PER_PAGE = 52
_WRAP_COLUMNS = 92


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _wrapped_lines(text: str) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(textwrap.wrap(paragraph, _WRAP_COLUMNS, break_long_words=False) or [""])
    return lines


def render_pdf(title: str, text: str) -> bytes:
    """A minimal, valid PDF: one Helvetica font, one content stream per page, a correct xref."""
    lines = _wrapped_lines(text)
    pages = [lines[i : i + _LINES_PER_PAGE] for i in range(0, len(lines), _LINES_PER_PAGE)] or [[]]
    page_count = len(pages)
    # Object numbers: 1 catalog, 2 pages, 3 font, 4 info, then (page, content) pairs.
    objects: dict[int, bytes] = {}
    page_ids = [5 + 2 * i for i in range(page_count)]
    objects[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    kids = " ".join(f"{pid} 0 R" for pid in page_ids)
    objects[2] = f"<< /Type /Pages /Kids [{kids}] /Count {page_count} >>".encode()
    objects[3] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    objects[4] = f"<< /Title ({_escape(title)}) /Producer (evals.tools.build_corpus_pdfs) >>".encode()
    for page_id, page_lines in zip(page_ids, pages, strict=False):
        body = "BT /F1 10 Tf 13 TL 56 790 Td\n" + "".join(f"({_escape(line)}) Tj T*\n" for line in page_lines)
        stream = (body + "ET").encode("cp1252")
        objects[page_id] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {page_id + 1} 0 R >>"
        ).encode()
        objects[page_id + 1] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref_at = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref_at)
    return bytes(out)


def main() -> None:
    for relative_path, (title, text) in DOCUMENTS.items():
        target = CORPUS_DIR / relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(render_pdf(title, text))
        print(f"wrote {target.relative_to(CORPUS_DIR.parent.parent)}")


if __name__ == "__main__":
    main()
