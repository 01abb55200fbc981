"""The run record: its typed schema, writing it, the one reader (older schemas upgraded), provenance, the printed
summary."""

from rgp_bench.record.failed import ErrorRecord, RunName
from rgp_bench.record.io import write_error, write_results
from rgp_bench.record.read import (
    ERROR_FILE,
    RESULTS_FILE,
    StoredRecord,
    read_error,
    read_name,
    read_record,
    read_results,
)
from rgp_bench.record.schema import SCHEMA_VERSION, RecordError, RunRecord

__all__ = ["ERROR_FILE", "RESULTS_FILE", "SCHEMA_VERSION", "ErrorRecord", "RecordError", "RunName", "RunRecord",
           "StoredRecord", "read_error", "read_name", "read_record", "read_results", "write_error", "write_results"]
