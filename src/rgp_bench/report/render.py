"""A tiny document model rendered to Markdown and to a self-contained HTML page (images inlined)."""

from __future__ import annotations

import base64
import html
import itertools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    # Columns to right-align (numbers).
    numeric: set[int] = field(default_factory=set)
    # (row, column) cells to highlight: bold in Markdown, class "best" in HTML.
    highlight: set[tuple[int, int]] = field(default_factory=set)
    # How many first columns stay in view when the HTML table scrolls sideways.
    sticky: int = 0


@dataclass
class Image:
    path: Path  # absolute; a PNG
    alt: str
    svg: Path | None = None  # the same figure as SVG, linked next to it
    pdf: Path | None = None  # and as PDF


# A block is ("h2"|"h3", text), ("p", text), ("code", text), Table or Image.
Block = tuple[str, str] | Table | Image


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def h2(self, text: str) -> None:
        self.blocks.append(("h2", text))

    def h3(self, text: str) -> None:
        self.blocks.append(("h3", text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = (),
              highlight: Iterable[tuple[int, int]] = (), sticky: int = 0) -> None:
        self.blocks.append(Table(list(headers), [list(r) for r in rows], set(numeric), set(highlight), sticky))

    def image(self, path: Path, alt: str, svg: Path | None = None, pdf: Path | None = None) -> None:
        self.blocks.append(Image(path, alt, svg, pdf))

    def anchors(self) -> list[tuple[str, str, str]]:
        """(level, text, anchor) of every heading, anchors as GitHub makes them (lower case, punctuation dropped,
        spaces as hyphens, '-1', '-2' ... after repeats), so that one anchor works in the Markdown and the HTML."""
        seen: dict[str, int] = {}
        out = []
        for b in self.blocks:
            if isinstance(b, tuple) and b[0] in ("h2", "h3"):
                slug = re.sub(r"[^\w\- ]", "", b[1].lower()).replace(" ", "-")
                n = seen.get(slug, 0)
                seen[slug] = n + 1
                out.append((b[0], b[1], slug if n == 0 else f"{slug}-{n}"))
        return out

    def columns_table(self, columns: Sequence[TableColumn[T]], items: Sequence[T]) -> None:
        """A table of `items`, one row each, laid out by its declared `columns` (no column is addressed by position:
        which are numeric, highlighted or kept in view is stated on the column)."""
        sticky = sum(1 for _ in itertools.takewhile(lambda c: c.sticky, columns))
        if any(c.sticky for c in columns[sticky:]):
            raise ValueError("sticky columns must come first")
        self.table([c.header for c in columns], [[c.cell(item) for c in columns] for item in items],
                   numeric=[i for i, c in enumerate(columns) if c.numeric],
                   highlight=[(r, i) for r, item in enumerate(items) for i, c in enumerate(columns)
                              if c.highlight is not None and c.highlight(item)],
                   sticky=sticky)


@dataclass(frozen=True)
class TableColumn(Generic[T]):
    """One column of a table of items of type T: its header, the cell of an item, and how it is shown."""

    header: str
    cell: Callable[[T], str]
    # Right-aligned (a number).
    numeric: bool = False
    # Kept in view when the table scrolls sideways (only leading columns).
    sticky: bool = False
    # The items whose cell in this column is highlighted.
    highlight: Callable[[T], bool] | None = None


# ------------------------------------------------------------------------------------------ formatting
def fnum(x: float | None, digits: int = 2) -> str:
    """Fixed-point number, 'n/a' for None/NaN."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}f}"


def pm(mean: float | None, std: float | None, digits: int = 2) -> str:
    """'mean ± std' ('mean' alone when the std is unavailable)."""
    if mean is None:
        return "n/a"
    return fnum(mean, digits) if std is None else f"{fnum(mean, digits)} ± {fnum(std, digits)}"


def pct(x: float | None, digits: int = 2) -> str:
    """A fraction as a percentage."""
    return "n/a" if x is None else f"{100 * x:.{digits}f} %"


def pval(p: float | None) -> str:
    if p is None:
        return "n/a"
    return f"{p:.3g}" if p >= 1e-3 else f"{p:.2e}"


def signed(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:+.{digits}f}"


def interval(ci: Sequence[float] | None, digits: int = 2) -> str:
    """'[-0.95, -0.60]' for a (low, high) interval, 'n/a' without one."""
    return "n/a" if not ci else f"[{signed(ci[0], digits)}, {signed(ci[1], digits)}]"


# ------------------------------------------------------------------------------------------- markdown
def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Document, base: Path) -> str:
    """Render as GitHub-flavoured Markdown; image links are relative to `base` (the report's folder)."""
    out = [f"# {doc.title}", ""] if doc.title else []
    out += _markdown_toc(doc)
    for b in doc.blocks:
        if isinstance(b, Table):
            align = ["---:" if i in b.numeric else "---" for i in range(len(b.headers))]
            out.append("| " + " | ".join(_md_cell(h) for h in b.headers) + " |")
            out.append("| " + " | ".join(align) + " |")
            out += ["| " + " | ".join(_md_cell(f"**{c}**" if (r, i) in b.highlight else c) for i, c in enumerate(row))
                    + " |" for r, row in enumerate(b.rows)]
        elif isinstance(b, Image):
            links = " · ".join(f"[{kind}]({_rel(f, base)})" for kind, f in _files(b))
            out.append(f"![{b.alt}]({_rel(b.path, base)})" + (f" ({links})" if links else ""))
        elif b[0] == "h2":
            out.append(f"## {b[1]}")
        elif b[0] == "h3":
            out.append(f"### {b[1]}")
        else:
            out.append(b[1])
        out.append("")
    return "\n".join(out)


TOC_MIN_SECTIONS = 3  # a shorter document needs no table of contents


def _markdown_toc(doc: Document) -> list[str]:
    h2 = [(text, slug) for level, text, slug in doc.anchors() if level == "h2"]
    if len(h2) < TOC_MIN_SECTIONS:
        return []
    return ["**Contents**", "", *(f"- [{text}](#{slug})" for text, slug in h2), ""]


def _files(b: Image) -> list[tuple[str, Path]]:
    """The figure's other files, linked beside it: SVG, PDF and the full-resolution PNG."""
    return [(kind, f) for kind, f in (("SVG", b.svg), ("PDF", b.pdf), ("PNG", b.path)) if f is not None]


def _rel(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


# ----------------------------------------------------------------------------------------------- html
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1340px;
 padding:0 1rem;color:#222;line-height:1.45}
h1{border-bottom:2px solid #ddd;padding-bottom:.3rem}h2{margin-top:2.2rem;border-bottom:1px solid #eee}
.frame{overflow:auto;max-height:80vh;max-width:100%;margin:.6rem 0 1.2rem;border:1px solid #ddd;width:fit-content}
table{border-collapse:separate;border-spacing:0;font-size:.88rem}
th,td{border-right:1px solid #ddd;border-bottom:1px solid #ddd;padding:.25rem .55rem;white-space:nowrap;
 background:#fff}
th{background:#f3f5f7;position:sticky;top:0;z-index:2;white-space:normal;vertical-align:bottom;min-width:2.5rem}
tr:nth-child(even) td{background:#fafbfc}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.sticky,th.sticky{position:sticky;z-index:1}th.sticky{z-index:3}
.sticky:first-child{left:0}
.sticky.edge{box-shadow:inset -2px 0 0 #c8ccd0}
td.best{font-weight:700;background:#e3f2e6}tr:nth-child(even) td.best{background:#d9eedd}
img{max-width:100%;border:1px solid #eee;margin:.4rem 0}code{background:#f3f3f3;padding:0 .2rem}
figcaption{font-size:.85rem;color:#555}nav.toc{background:#f7f8fa;border:1px solid #e3e5e8;padding:.4rem 1rem;
 display:inline-block}nav.toc ol{margin:.3rem 0;padding-left:1.3rem}h2 a.anchor,h3 a.anchor{color:#bbb;
 text-decoration:none;margin-left:.3rem;font-size:.8em}
figure img{max-width:900px}
"""
# Sticky columns after the first need the widths of those before them: measured once the page is laid out.
_STICKY_JS = """
function stickColumns(){document.querySelectorAll("table[data-sticky]").forEach(function(t){
 var k=+t.dataset.sticky;for(var r=0;r<t.rows.length;r++){var x=0,c=t.rows[r].cells;
  for(var i=0;i<k&&i<c.length;i++){c[i].style.left=x+"px";x+=c[i].offsetWidth;}}});}
stickColumns();window.addEventListener("load",stickColumns);
"""


def to_html(doc: Document, embed: bool = True, base: Path | None = None) -> str:
    """Render a standalone HTML page; images are embedded as data URIs (or linked relative to `base`).

    SVG versions of the images are linked relative to `base` (the folder the page is written to). Every
    table scrolls inside its own frame, keeping its header row and its `sticky` first columns in view.
    """
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(doc.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(doc.title)}</h1>",
    ]
    anchors = iter(doc.anchors())
    h2 = [(text, slug) for level, text, slug in doc.anchors() if level == "h2"]
    if len(h2) >= TOC_MIN_SECTIONS:
        items = "".join(f'<li><a href="#{slug}">{esc(text)}</a></li>' for text, slug in h2)
        parts.append(f'<nav class="toc"><strong>Contents</strong><ol>{items}</ol></nav>')
    for b in doc.blocks:
        if isinstance(b, Table):
            parts.append(_html_table(b))
        elif isinstance(b, Image):
            parts.append(_html_image(b, embed, base))
        elif b[0] in ("h2", "h3"):
            slug = next(anchors)[2]
            parts.append(f'<{b[0]} id="{slug}">{esc(b[1])}<a class="anchor" href="#{slug}">#</a></{b[0]}>')
        else:
            parts.append(f"<p>{_inline(b[1])}</p>")
    if any(isinstance(b, Table) and b.sticky for b in doc.blocks):
        parts.append(f"<script>{_STICKY_JS}</script>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _classes(t: Table, row: int, col: int) -> str:
    names = [n for n, on in (("num", col in t.numeric and row >= 0), ("sticky", col < t.sticky),
                             ("edge", col == t.sticky - 1), ("best", (row, col) in t.highlight)) if on]
    return f' class="{" ".join(names)}"' if names else ""


def _html_table(t: Table) -> str:
    esc = html.escape
    sticky = f' data-sticky="{t.sticky}"' if t.sticky else ""
    head = "".join(f"<th{_classes(t, -1, i)}>{esc(h)}</th>" for i, h in enumerate(t.headers))
    body = "".join(
        "<tr>" + "".join(f"<td{_classes(t, r, i)}>{esc(str(c))}</td>" for i, c in enumerate(row)) + "</tr>"
        for r, row in enumerate(t.rows)
    )
    return f'<div class="frame"><table{sticky}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _html_image(b: Image, embed: bool, base: Path | None) -> str:
    esc = html.escape
    if embed:
        src = f"data:image/png;base64,{base64.b64encode(b.path.read_bytes()).decode('ascii')}"
    else:
        src = _rel(b.path, base) if base else b.path.as_posix()
    links = " · ".join(f'<a href="{esc(_rel(f, base) if base else f.as_posix())}">{kind}</a>' for kind, f in _files(b))
    caption = esc(b.alt) + (f" ({links})" if links else "")
    return f'<figure><img src="{src}" alt="{esc(b.alt)}"><figcaption>{caption}</figcaption></figure>'


def _inline(text: str) -> str:
    """Escape, then turn `code` spans into <code> (the only Markdown inline syntax the report uses)."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))
