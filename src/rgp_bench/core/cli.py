"""Argument parsing for the command-line tools: every argument error is one line and a non-zero exit."""

from __future__ import annotations

import argparse
import re
import sys
from typing import NoReturn

USAGE_EXIT = 2
# argparse's own wording of a bad choice: "argument --metric: invalid choice: 'x' (choose from 'a', 'b')"
_CHOOSE_FROM = re.compile(r"^(?P<head>.*?invalid choice: .*?) \(choose from (?P<choices>.*)\)$")


def one_line(message: str) -> str:
    """argparse's error message as one line; a bad choice ends with `; valid choices: a, b`."""
    message = " ".join(message.split())
    match = _CHOOSE_FROM.match(message)
    if match is None:
        return message
    choices = ", ".join(c.strip().strip("'\"") for c in match.group("choices").split(","))
    return f"{match.group('head')}; valid choices: {choices}"


def usage_error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    """Print `error: <message>` (one line, with the valid choices where argparse knows them) and exit 2."""
    line = one_line(message)
    hint = "" if "; valid choices: " in line else f" (see {parser.prog} --help)"
    print(f"error: {line}{hint}", file=sys.stderr)
    sys.exit(USAGE_EXIT)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one `error: ...` line on stderr and exit status 2, never the usage."""

    def error(self, message: str) -> NoReturn:
        usage_error(self, message)
