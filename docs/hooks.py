"""MkDocs hooks for the kerasx site (listed under `hooks:` in mkdocs.yml).

- The site must work offline. The tutorial pages that mkdocs-jupyter renders ask for MathJax
  and Mermaid from a CDN; the notebooks use neither, so those script tags are removed. Any
  other script, stylesheet, image or frame loaded from another host is reported as a warning,
  which fails `mkdocs build --strict`.
- TensorFlow's C++ start-up log lines (absl's `I0000 00:00:... port.cc:153] ...`) reach a
  notebook's stderr output whatever `TF_CPP_MIN_LOG_LEVEL` says. They describe the machine
  that built the site, not the tutorial, so they are removed from the rendered outputs; any
  other stderr line (a Python warning, a traceback) is kept.
"""

from __future__ import annotations

import logging
import re
from typing import Any

log = logging.getLogger("mkdocs.hooks.kerasx")

# `<script src="https://.../mathjax/...">` and Mermaid's `import mermaid from "https://..."`.
_CDN_SCRIPT = re.compile(
    r"<script[^>]*\ssrc=\"https?://[^\"]*(?:mathjax|mermaid)[^\"]*\"[^>]*>\s*</script>"
    r"|<script type=\"module\">(?:(?!</script>).)*?https?://[^\"']*mermaid(?:(?!</script>).)*</script>",
    re.IGNORECASE | re.DOTALL,
)
_REMOTE_RESOURCE = re.compile(
    r"<(?:script|link|img|iframe)\b[^>]*\s(?:src|href)=\"((?:https?:)?//[^\"]+)\"", re.IGNORECASE
)
# One stderr output of a notebook cell, as nbconvert renders it.
_STDERR_OUTPUT = re.compile(
    r"<div class=\"jp-OutputArea-child\">\s*<div class=\"jp-OutputPrompt jp-OutputArea-prompt\">"
    r"</div>\s*<div class=\"jp-RenderedText jp-OutputArea-output\" "
    r"data-mime-type=\"application/vnd.jupyter.stderr\"[^>]*>\s*<pre>(?P<text>.*?)</pre>\s*"
    r"</div>\s*</div>",
    re.DOTALL,
)
_TENSORFLOW_LOG_LINE = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:[\d.]+\s+\d+ [\w./-]+:\d+\] .*"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate "
    r"compiler flags\.)$"
)


def _without_tensorflow_log(match: re.Match[str]) -> str:
    lines = match.group("text").split("\n")
    kept = [line for line in lines if line.strip() and not _TENSORFLOW_LOG_LINE.match(line)]
    if not kept:
        return ""
    start, end = match.span("text")
    offset = match.start()
    whole = match.group(0)
    return whole[: start - offset] + "\n".join(kept) + "\n" + whole[end - offset :]


def on_post_page(output: str, page: Any, config: Any) -> str:
    """Clean the tutorial pages, then warn about any resource from another host."""
    if page.file.src_uri.endswith(".ipynb"):
        output = _CDN_SCRIPT.sub("", output)
        output = _STDERR_OUTPUT.sub(_without_tensorflow_log, output)
    for url in _REMOTE_RESOURCE.findall(output):
        log.warning(
            "%s loads %s from another host; the site must work offline", page.file.src_uri, url
        )
    return output
