"""A report renders itself as ``archc table`` does, through the same functions: ``str()`` is the
text table, ``to_markdown``/``to_csv``/``to_json``/``to_html`` the other formats, folded by
``depth``; its figures add up to torch's own (tests/fixtures/torchvision_reference.json, measured
on torchvision's models), and every format shows the same figures as the text table."""

from __future__ import annotations

import csv
import io
import json
import re
import shlex

import pytest

import archc

from .test_html import Page

# (API call on the report, the same through the command line)
SAME = [
    ("resnet50", lambda r: str(r) + "\n", ""),
    ("resnet50", lambda r: str(r.fold(2)) + "\n", "--depth 2"),
    ("googlenet", lambda r: r.to_text(depth=1), "--depth 1"),
    ("lenet5", lambda r: r.to_text(count="flops", columns="all", batch=8, dtype="bf16", optimizer="sgd"),
     "--count flops --columns all --batch 8 --dtype bf16 --optimizer sgd"),
    ("lenet5", lambda r: str(r.with_view(columns=["op", "memory", "rf"], batch=4)) + "\n",
     "--columns op,memory,rf --batch 4"),
    ("resnet50", lambda r: r.to_text(depth=0), "--depth 0"),
    ("resnet50", lambda r: r.to_markdown(depth=2), "--format markdown --depth 2"),
    ("googlenet", lambda r: r.to_markdown(count="fvcore"), "--format markdown --count fvcore"),
    ("googlenet", lambda r: r.to_csv(), "--format csv"),
    ("resnet50", lambda r: r.fold(1).to_csv(dtype="fp16"), "--format csv --depth 1 --dtype fp16"),
    ("googlenet", lambda r: r.to_json(depth=2), "--format json --depth 2"),
    ("resnet50", lambda r: r.to_html(depth=1, page=True), "--format html --depth 1"),
    ("resnet50", lambda r: r.render("html", 1), "--format html --depth 1"),
    ("alexnet", lambda r: r.render("markdown", columns="all"), "--format markdown --columns all"),
]


@pytest.mark.parametrize(("spec", "call", "args"), SAME, ids=[f"{s} {a}" for s, _, a in SAME])
def test_the_api_renders_what_the_command_line_prints(cli, spec, call, args) -> None:
    result = cli("table", spec, *shlex.split(args))
    assert result.code == 0, result.err
    assert call(archc.analyze(spec)) == result.out


def test_str_is_the_text_table_without_the_final_newline() -> None:
    report = archc.analyze("lenet5")
    assert str(report) == report.to_text().removesuffix("\n") and not str(report).endswith("\n")
    assert str(report).splitlines()[0] == "lenet5: input 1×32×32 → output 10"
    assert repr(report).startswith("<Report lenet5: 61,706 parameters")


# --- the figures against torch's, through each format ------------------------------------


def leaves(rows: list[dict]) -> list[dict]:
    """Rows that no other row is inside of (the ops)."""
    paths = {r["path"] for r in rows}
    return [r for r in rows if not any(p.startswith(r["path"] + ".") for p in paths)]


@pytest.mark.parametrize("name", ["alexnet", "vgg16_bn", "googlenet", "resnet18", "resnet50"])
def test_csv_parses_and_adds_up_to_torchs_totals(name, reference) -> None:
    ref = reference[name]
    report = archc.analyze(name)
    top = list(csv.DictReader(io.StringIO(report.to_csv(depth=1))))
    ops = leaves(list(csv.DictReader(io.StringIO(report.to_csv()))))
    assert {r["depth"] for r in top} == {"1"} and len(ops) > len(top)
    for depth, rows in ((1, top), (None, ops)):
        assert sum(int(r["params"]) for r in rows) == ref["num_params"], depth
        inference = [r for r in rows if r["training_only"] == "0"]
        assert sum(int(r["params"]) for r in inference) == ref["num_params_no_aux"], depth
        assert sum(int(r["macs"]) for r in inference) == ref["macs"], depth
        # FLOPs are 2 × MACs, row by row (FlopCounterMode's convention)
        assert all(int(r["flops"]) == 2 * int(r["macs"]) for r in rows)


@pytest.mark.parametrize("name", ["googlenet", "resnet50"])
def test_json_holds_torchs_totals_and_the_same_rows_as_csv(name, reference) -> None:
    ref = reference[name]
    report = archc.analyze(name).fold(2)
    doc = json.loads(report.to_json())
    assert doc == report.to_dict()
    assert doc["totals"]["params"] == ref["num_params"] and doc["totals"]["macs"] == ref["macs"]
    assert doc["totals"]["params_without_heads"] == ref["num_params_no_aux"]
    assert doc["output"] == ref["out_shape"][1:]
    rows = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert [(r["path"], int(r["params"]), int(r["macs"])) for r in rows] == \
        [(r["path"], r["params"], r["macs"]) for r in doc["rows"]]
    assert max(r["depth"] for r in doc["rows"]) == 2


# --- every format shows the text table's cells ---------------------------------------------


def text_cells(text: str) -> list[list[str]]:
    """The body rows of a text table, split into cells (cells hold single spaces, never two)."""
    lines = text.splitlines()
    rules = [i for i, line in enumerate(lines) if line and set(line) == {"─"}]
    return [re.split(r"\s{2,}", line.strip()) for line in lines[rules[1] + 1: rules[2]]]


def markdown_cells(md: str) -> list[list[str]]:
    rows = [line for line in md.splitlines() if line.startswith("| ")][1:]
    out = []
    for line in rows:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        cells[0] = cells[0].replace("&nbsp;", "").strip("`")
        out.append([c.replace("\\|", "|").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
                    for c in cells])
    return out


class Cells(Page):
    def __init__(self, text: str):
        self.rows: list[list[str]] = []
        self.in_body = self.in_cell = False
        super().__init__(text)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        super().handle_starttag(tag, attrs)
        if tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.rows.append([])
        elif tag == "td" and self.in_body:
            self.rows[-1].append("")
            self.in_cell = True

    def handle_endtag(self, tag: str) -> None:
        super().handle_endtag(tag)
        self.in_body = self.in_body and tag != "tbody"
        self.in_cell = self.in_cell and tag != "td"

    def handle_data(self, data: str) -> None:
        super().handle_data(data)
        if self.in_cell:
            self.rows[-1][-1] += data


@pytest.mark.parametrize(("name", "depth", "columns"), [("googlenet", 2, "op,output,params,count"),
                                                        ("resnet50", 1, "all"), ("lenet5", None, "all")])
def test_markdown_and_html_show_the_text_tables_cells(name, depth, columns) -> None:
    report = archc.analyze(name).fold(depth).with_view(columns=columns)
    text = text_cells(str(report))
    assert len(text) == len(report.folded(depth)) > 0
    assert markdown_cells(report.to_markdown()) == text
    assert Cells(report.to_html()).rows == text
    assert Cells(report._repr_html_()).rows == text


# --- folding what Jupyter shows ------------------------------------------------------------


def body(html: str) -> str:
    return html.split("<tbody>")[1].split("</tbody>")[0]


def test_fold_changes_what_the_report_shows_not_the_report() -> None:
    report = archc.analyze("resnet50")
    folded = report.fold(1)
    assert len(report.rows) == len(folded.rows) > 11  # the rows are all there
    assert folded.totals == report.totals
    assert str(folded) == str(report.fold(None).fold(1)) != str(report)
    assert body(folded._repr_html_()).count("<tr") == 11
    assert body(report._repr_html_()).count("<tr") == len(report.rows)
    # an explicit depth wins over the report's own
    assert len(list(csv.DictReader(io.StringIO(folded.to_csv(depth=2))))) == len(report.folded(2))
    assert folded.fold(None).to_csv() == report.to_csv()
    totals_only = report.fold(0)
    assert body(totals_only._repr_html_()).strip() == ""
    assert "Total parameters:     25,557,032" in str(totals_only)


def test_ipython_shows_the_folded_table() -> None:
    from IPython.core.formatters import DisplayFormatter

    bundle, _ = DisplayFormatter().format(archc.analyze("resnet50").fold(1).with_view(columns="op,memory"))
    html = bundle["text/html"]
    assert body(html).count("<tr") == 11 and ">Memory</th>" in html and ">Output</th>" not in html
    assert bundle["text/plain"].startswith("<Report resnet50:")


def test_bad_options_fail_like_python_arguments() -> None:
    report = archc.analyze("lenet5")
    with pytest.raises(ValueError, match="depth must be a whole number"):
        report.fold(-1)
    with pytest.raises(ValueError, match="depth must be a whole number"):
        report.to_csv(depth=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"unknown table option 'colums'.*did you mean 'columns'"):
        report.to_text(colums="all")
    with pytest.raises(ValueError, match="unknown column"):
        report.with_view(columns="op,size")
    with pytest.raises(ValueError, match="unknown dtype 'fp8'"):
        report.to_text(dtype="fp8")
    with pytest.raises(ValueError, match="unknown optimizer"):
        report.with_view(optimizer="lion")
    with pytest.raises(ValueError, match="batch must be"):
        report.to_json(batch=0)
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        report.render("xml")
