"""The HTML table: `archc table --format html` and a Report's display in Jupyter, escaped throughout."""

from __future__ import annotations

from html.parser import HTMLParser

import archc
from archc.analysis.counts import Totals
from archc.analysis.report import Report, Row
from archc.analysis.table import html_fragment

HOSTILE = "<script>alert('x')</script>"


class Page(HTMLParser):
    """Collects the tags and the text of a page, and checks that tags nest properly."""

    VOID = {"meta", "br", "img", "hr", "input", "link"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.open: list[str] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def cells(self) -> str:
        return "".join(self.text)


def test_report_displays_as_an_html_table_in_jupyter() -> None:
    report = archc.analyze("googlenet")
    page = Page(report._repr_html_())
    assert page.open == [] and "script" not in page.tags
    body_rows = report._repr_html_().split("<tbody>")[1].split("</tbody>")[0].count("<tr")
    assert body_rows == len(report.rows)
    text = page.cells()
    assert "inception4a.branch2.1.conv" in text and "13,004,888" in text and "aux1" in text
    assert "googlenet: input 3×224×224 → output 1000" in text


def test_the_plain_text_beside_it_stays_short() -> None:
    text = repr(archc.analyze("resnet50"))
    assert text.startswith("<Report resnet50: 25,557,032 parameters, 4,089,184,256 MACs, ") and len(text) < 100


def test_ipython_picks_the_html_form() -> None:
    from IPython.core.formatters import DisplayFormatter  # what Jupyter uses to display a cell's value

    bundle, _ = DisplayFormatter().format(archc.analyze("resnet50"))
    assert '<table class="archc-table">' in bundle["text/html"]
    assert bundle["text/plain"].startswith("<Report resnet50: 25,557,032 parameters")


def test_ipython_shows_a_diagram_as_svg() -> None:
    from IPython.core.formatters import DisplayFormatter

    bundle, _ = DisplayFormatter().format(archc.diagram("resnet50", depth=2))
    svg = bundle["image/svg+xml"]
    assert svg.lstrip().startswith(("<?xml", "<svg")) and "Bottleneck ×5" in svg


def test_table_format_html_is_a_complete_page(cli) -> None:
    result = cli("table", "resnet50", "--format", "html", "--depth", "1")
    assert result.code == 0
    page = Page(result.out)
    assert result.out.startswith("<!DOCTYPE html>") and page.open == []
    assert page.tags[:3] == ["html", "head", "meta"] and "title" in page.tags
    rows = result.out.split("<tbody>")[1].split("</tbody>")[0].count("<tr")
    assert rows == len(archc.analyze("resnet50").folded(1)) == 11
    assert "25,557,032" in page.cells() and "layer4.2.conv3" not in page.cells()


def _hostile_report() -> Report:
    row = Row(path=f"a.{HOSTILE}", depth=2, kind=HOSTILE, label=f'conv "{HOSTILE}" & more', shape=(3, 4, 4),
              params=1, macs=2, training_only=True)
    totals = Totals(params=1, params_without_heads=1, trainable=1, buffers=0, macs=2, macs_train=2)
    return Report(name=HOSTILE, doc=f"{HOSTILE}\nsecond line", file=HOSTILE, input_shape=(3, 4, 4),
                  output_shape=(3, 4, 4), rows=[row], totals=totals, heads=[(HOSTILE, (5,))])


def test_every_text_from_the_spec_is_escaped() -> None:
    out = html_fragment(_hostile_report())
    assert "<script" not in out and "&lt;script&gt;" in out
    page = Page(out)
    assert "script" not in page.tags and page.open == []
    # escaped, the text reads back exactly as written
    assert page.cells().count(HOSTILE) == 5 and 'conv "' + HOSTILE + '" & more (train)' in page.cells()


def test_a_hostile_spec_name_and_doc_stay_text(cli, spec_file) -> None:
    path = spec_file(f"""
        archc: 1
        name: "{HOSTILE}"
        doc: "<img src=x onerror=alert(1)> & co"
        input: [3, 8, 8]
        layers:
          - conv1: conv(4, 3)
        """)
    result = cli("table", path, "--format", "html")
    assert result.code == 0, result.err
    assert "<script" not in result.out and "<img" not in result.out
    tags = Page(result.out).tags
    assert "script" not in tags and "img" not in tags
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; co" in result.out
