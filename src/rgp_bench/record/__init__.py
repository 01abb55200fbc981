"""The run record: its typed schema, reading and writing it, provenance, the printed summary and tracking."""

from rgp_bench.record.io import ERROR_FILE, RESULTS_FILE, read_record, write_error, write_results
from rgp_bench.record.schema import SCHEMA_VERSION, RecordError, RunRecord

__all__ = ["ERROR_FILE", "RESULTS_FILE", "SCHEMA_VERSION", "RecordError", "RunRecord", "read_record", "write_error",
           "write_results"]
