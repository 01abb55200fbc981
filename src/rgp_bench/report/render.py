"""A tiny document model rendered to Markdown and to a self-contained HTML page (images inlined)."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    # Columns to right-align (numbers).
    numeric: set[int] = field(default_factory=set)


@dataclass
class Image:
    path: Path  # absolute
    alt: str


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

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> None:
        self.blocks.append(Table(list(headers), [list(r) for r in rows], set(numeric)))

    def image(self, path: Path, alt: str) -> None:
        self.blocks.append(Image(path, alt))


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


# ------------------------------------------------------------------------------------------- markdown
def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Document, base: Path) -> str:
    """Render as GitHub-flavoured Markdown; image links are relative to `base` (the report's folder)."""
    out = [f"# {doc.title}", ""]
    for b in doc.blocks:
        if isinstance(b, Table):
            align = ["---:" if i in b.numeric else "---" for i in range(len(b.headers))]
            out.append("| " + " | ".join(_md_cell(h) for h in b.headers) + " |")
            out.append("| " + " | ".join(align) + " |")
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
        elif isinstance(b, Image):
            out.append(f"![{b.alt}]({_rel(b.path, base)})")
        elif b[0] == "h2":
            out.append(f"## {b[1]}")
        elif b[0] == "h3":
            out.append(f"### {b[1]}")
        else:
            out.append(b[1])
        out.append("")
    return "\n".join(out)


def _rel(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


# ----------------------------------------------------------------------------------------------- html
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;
 padding:0 1rem;color:#222;line-height:1.45}
h1{border-bottom:2px solid #ddd;padding-bottom:.3rem}h2{margin-top:2.2rem;border-bottom:1px solid #eee}
table{border-collapse:collapse;margin:.6rem 0 1.2rem;font-size:.88rem;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:.25rem .55rem;white-space:nowrap}th{background:#f3f5f7;position:sticky;top:0}
tr:nth-child(even) td{background:#fafbfc}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #eee;margin:.4rem 0}code{background:#f3f3f3;padding:0 .2rem}
"""


def to_html(doc: Document, embed: bool = True, base: Path | None = None) -> str:
    """Render a standalone HTML page; images are embedded as data URIs (or linked relative to `base`)."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(doc.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(doc.title)}</h1>",
    ]
    for b in doc.blocks:
        if isinstance(b, Table):
            parts.append(
                "<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in b.headers) + "</tr></thead><tbody>"
            )
            for row in b.rows:
                cells = "".join(
                    f'<td class="num">{esc(str(c))}</td>' if i in b.numeric else f"<td>{esc(str(c))}</td>"
                    for i, c in enumerate(row)
                )
                parts.append(f"<tr>{cells}</tr>")
            parts.append("</tbody></table>")
        elif isinstance(b, Image):
            if embed:
                data = base64.b64encode(b.path.read_bytes()).decode("ascii")
                src = f"data:image/png;base64,{data}"
            else:
                src = _rel(b.path, base) if base else b.path.as_posix()
            parts.append(f'<figure><img src="{src}" alt="{esc(b.alt)}"><figcaption>{esc(b.alt)}</figcaption></figure>')
        elif b[0] in ("h2", "h3"):
            parts.append(f"<{b[0]}>{esc(b[1])}</{b[0]}>")
        else:
            parts.append(f"<p>{_inline(b[1])}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _inline(text: str) -> str:
    """Escape, then turn `code` spans into <code> (the only Markdown inline syntax the report uses)."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))
