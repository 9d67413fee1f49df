"""A griffe extension for the docs build: read Keras-style `Example:` sections.

kerasx's docstrings follow Keras's: the example after `Example:` starts at the same indentation
as the header, after a blank line. Griffe's Google-style parser reads `Example:` as an
admonition and a section's body only when it is indented, so it would render a doctest as
nested block quotes. This extension renames the header `Examples:` and indents its body (up to
the next section header, outside code fences) before griffe parses the docstring, which then
shows each doctest as code. It changes nothing in kerasx; mkdocs.yml loads it.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE_HEADER = re.compile(r"^Examples?\s*:\s*$")
_ANY_HEADER = re.compile(
    r"^(Args|Arguments|Parameters|Keyword Args|Keyword Arguments|Other Parameters|Returns|"
    r"Yields|Receives|Raises|Warns|Attributes|Methods|Functions|Classes|Modules|Note|Notes|"
    r"Warning|Warnings|See Also|Examples?|Todo|References)\s*:\s*$"
)


def indent_example_sections(text: str) -> str:
    """Name every example section `Examples:` and indent its body if it is not indented."""
    lines = text.split("\n")
    result: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not _EXAMPLE_HEADER.match(line):
            result.append(line)
            continue
        result.append("Examples:")
        body_start = index
        while index < len(lines) and not lines[index].strip():
            index += 1
        if index == len(lines) or lines[index].startswith((" ", "\t")):
            index = body_start  # already indented (or empty): griffe reads it as it is
            continue
        index = _indent_body(lines, index, result)
    return "\n".join(result)


def _indent_body(lines: list[str], index: int, result: list[str]) -> int:
    """Append the section body starting at `index`, indented; return where it ends."""
    in_fence = False
    while index < len(lines):
        line = lines[index]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        elif not in_fence and _ANY_HEADER.match(line):
            break
        result.append("    " + line if line.strip() else "")
        index += 1
    return index


class KerasStyleExamples(griffe.Extension):
    """Rewrite each docstring's Keras-style example sections as griffe expects them."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = indent_example_sections(obj.docstring.value)
