"""The sections of the report document, one module each, in the order the document shows them (`SECTIONS`);
each writes its part from the collected `ReportData`."""

from rgp_bench.report.sections.aspl import aspl_section
from rgp_bench.report.sections.base import ReportData, Section
from rgp_bench.report.sections.density import density_section
from rgp_bench.report.sections.differences import differences_section
from rgp_bench.report.sections.intro import intro_section
from rgp_bench.report.sections.notes import notes_section
from rgp_bench.report.sections.problems import problems_section
from rgp_bench.report.sections.published import published_section
from rgp_bench.report.sections.results import results_section
from rgp_bench.report.sections.sanity import sanity_section
from rgp_bench.report.sections.speedup import speedup_section
from rgp_bench.report.sections.topology import topology_section
from rgp_bench.report.sections.tradeoff import tradeoff_section

SECTIONS: tuple[Section, ...] = (
    intro_section,
    results_section,
    differences_section,
    sanity_section,
    tradeoff_section,
    speedup_section,
    density_section,
    aspl_section,
    topology_section,
    published_section,
    problems_section,
    notes_section,
)

__all__ = ["SECTIONS", "ReportData", "Section"]
