"""What materialise decided, per layer and end to end, as data and as Markdown."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from rgp_bench.speedup.end_to_end import (
    DENSE,
    DENSE_COMPILED,
    MASKED_MODEL,
    MATERIALISED,
    MATERIALISED_COMPILED,
    EndToEnd,
)
from rgp_bench.speedup.forms import MASKED


@dataclass
class CandidateResult:
    """One fast form tried on one layer. ``ratio`` = masked-dense seconds / this form's seconds (> 1: faster)."""

    form: str
    seconds: float | None = None
    ratio: float | None = None
    error: float | None = None  # max |form - masked| / max |masked| on the captured input
    note: str = ""  # why the form was not usable, if it was not


@dataclass
class LayerReport:
    """One masked layer: its structure, every candidate's result, and the form chosen (or why it was kept)."""

    name: str
    layer: str
    structure: str
    padding_overhead: float | None
    macs: int
    macs_effective: int
    masked_seconds: float | None = None
    candidates: list[CandidateResult] = field(default_factory=list)
    chosen: str = MASKED
    reason: str = ""
    out_channels: int = 0
    in_channels: int = 0
    kernel: tuple[int, ...] = ()
    stride: int = 1

    @property
    def mac_reduction(self) -> float:
        return self.macs / self.macs_effective if self.macs_effective else float("inf")

    @property
    def speedup(self) -> float:
        """Measured speed-up of the chosen form over masked dense (1.0 when kept masked or not timed)."""
        for candidate in self.candidates:
            if candidate.form == self.chosen and candidate.ratio is not None:
                return candidate.ratio
        return 1.0

    def candidate(self, form: str) -> CandidateResult | None:
        return next((c for c in self.candidates if c.form == form), None)


@dataclass
class MaterialiseReport:
    """Everything :func:`materialise` measured and decided, with the conditions it measured under."""

    batch_size: int
    device: str
    threads: int
    torch_version: str
    allocator: str
    kernel: str
    forms: tuple[str, ...]
    min_speedup: float
    layers: list[LayerReport]
    output_error: float  # materialised vs masked model on the example batch
    end_to_end: EndToEnd | None = None
    fusion: str = "off"  # what rgp_bench.speedup.fuse folded / fused, in words

    def to_dict(self) -> dict:
        data = asdict(self)
        data["end_to_end"] = self.end_to_end.to_dict() if self.end_to_end else None
        return data

    def chosen_forms(self) -> dict[str, str]:
        """Layer name -> chosen form; pass it as ``forced`` to rebuild the same model without timing."""
        return {layer.name: layer.chosen for layer in self.layers}

    def layer_table(self) -> str:
        """Markdown table: per layer, each candidate's ratio vs masked dense, the choice and the reason."""
        forms = [f for f in self.forms if any(layer.candidate(f) for layer in self.layers)]
        head = ["layer", "shape", "structure", "MACs ÷", "masked ms", *forms, "chosen", "speed-up", "of MAC ÷",
                "reason"]
        align = ["---"] * 3 + ["---:"] * (2 + len(forms)) + ["---", "---:", "---:", "---"]
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
        for layer in self.layers:
            cells = []
            for form in forms:
                c = layer.candidate(form)
                cells.append("" if c is None else (f"{c.ratio:.2f}×" if c.ratio is not None else "–"))
            masked_ms = f"{layer.masked_seconds * 1e3:.2f}" if layer.masked_seconds is not None else "–"
            lines.append("| " + " | ".join([
                f"`{layer.name}`", layer.layer, layer.structure, f"{layer.mac_reduction:.1f}×", masked_ms, *cells,
                layer.chosen, f"{layer.speedup:.2f}×", f"{layer.speedup / layer.mac_reduction:.0%}", layer.reason,
            ]) + " |")
        return "\n".join(lines)

    def end_to_end_table(self) -> str:
        """Markdown table of the whole-model timings (empty if they were not measured)."""
        e2e = self.end_to_end
        if e2e is None:
            return ""
        lines = ["| variant | ms / batch | IQR ms | vs dense eager | vs dense compiled |", "|---|---:|---:|---:|---:|"]
        for name in (DENSE, DENSE_COMPILED, MASKED_MODEL, MATERIALISED, MATERIALISED_COMPILED):
            if name not in e2e.seconds:
                continue
            vs_compiled = f"{e2e.speedup_vs_compiled[name]:.2f}×" if e2e.speedup_vs_compiled else "–"
            lines.append(f"| {name} | {e2e.seconds[name] * 1e3:.1f} | {e2e.iqr[name] * 1e3:.1f} | "
                         f"{e2e.speedup_vs_dense[name]:.2f}× | {vs_compiled} |")
        lines.append(f"\nMAC limit (dense MACs / effective MACs): {e2e.mac_limit:.2f}×; materialised reaches "
                     f"{e2e.fraction_of_limit:.0%} of it.")
        return "\n".join(lines)
