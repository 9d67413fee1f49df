"""The documentation site covers the public API, builds offline, and renders in a browser.

The fast tests read the sources: every public name has an entry on an API page, every notebook
is a tutorial, the README's links into `docs/` point at pages of the site, every public
function and class has the docstring sections the reference needs, every public constant has a
docstring, and every example in a public docstring runs as a doctest.

The `slow` tests build the site with `mkdocs build --strict` (which executes the notebooks and
fails on a broken link, a missing reference or a docstring that does not render), check that
every public name's entry carries its docstring and that no page loads anything from another
host, then serve the site with `python -m http.server` on 127.0.0.1 and load three pages in
headless Chromium: the home page, the `kerasx.fit` entry and a tutorial. They need the `docs`
extra (`pip install -e ".[docs]"`) and Debian's `chromium`. Without them they are skipped,
unless `KERASX_REQUIRE_DOCS=1` (CI sets it and installs both): then they fail.
"""

from __future__ import annotations

import ast
import dataclasses
import doctest
import html
import importlib
import importlib.util
import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from helpers import ROOT

# The public modules and each facade's own names, as pinned by tests/test_public_api.py.
from test_public_api import FACADE_OWN, PUBLIC  # isort: skip

REQUIRE_DOCS = os.environ.get("KERASX_REQUIRE_DOCS") == "1"
DOCS = ROOT / "docs"
API_PAGES = sorted((DOCS / "api").glob("*.md"))

# The docs build's Python packages (the `docs` extra), by import name.
DOCS_PACKAGES = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python",
                 "mkdocs_jupyter", "PIL")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)

# Examples that start a Python process (a fresh TensorFlow, or a pytest run of the plugin):
# several seconds each, so they run with the slow tests.
SLOW_EXAMPLES = {
    "kerasx.runtime.split_cpu",
    "kerasx.testing.keras_isolation",
    "kerasx.testing.pytest_collection_modifyitems",
    "kerasx.testing.pytest_runtest_setup",
    "kerasx.testing.tiny_model",
}


def public_identifiers() -> dict[str, str]:
    """`{"kerasx.io.load": "kerasx.io", ...}`: every public name with its module."""
    identifiers = {}
    for module_name in PUBLIC:
        for name in importlib.import_module(module_name).__all__:
            identifiers[f"{module_name}.{name}"] = module_name
    for module_name in FACADE_OWN:
        for name in importlib.import_module(module_name).OWN_NAMES:
            identifiers[f"{module_name}.{name}"] = module_name
    return identifiers


def example_identifiers() -> list[str]:
    """The public names whose docstrings can hold examples, each object once.

    The top-level shortcuts (`kerasx.fit` is `kerasx.training.fit`) are left to their area's
    name; the area modules themselves (`kerasx.runtime`, ...) are kept for their docstrings.
    """
    identifiers = []
    for identifier, module_name in sorted(public_identifiers().items()):
        name = identifier.rsplit(".", 1)[1]
        if module_name == "kerasx" and importlib.util.find_spec(f"kerasx.{name}") is None:
            continue
        identifiers.append(identifier)
    return identifiers


def _unavailable(what: str, install: str) -> NoReturn:
    """Skip (or, under KERASX_REQUIRE_DOCS=1, fail) a test that needs `what`."""
    if REQUIRE_DOCS:
        pytest.fail(f"KERASX_REQUIRE_DOCS=1 but {what}. Install it: {install}", pytrace=False)
    pytest.skip(f"{what} ({install}; CI installs it and sets KERASX_REQUIRE_DOCS=1)")


# ------------------------------------------------------------------ the sources (fast)


def test_every_public_name_has_an_entry_on_an_api_page():
    directives = set()
    for page in API_PAGES:
        directives.update(re.findall(r"^::: (\S+)", page.read_text(encoding="utf-8"), re.M))
    missing = sorted(set(public_identifiers()) - directives)
    assert missing == [], f"add `::: name` entries to docs/api/<module>.md for: {missing}"


def test_every_notebook_is_a_tutorial_page():
    notebooks = sorted(path.name for path in (ROOT / "notebooks").glob("*.ipynb"))
    tutorials = DOCS / "tutorials"
    assert sorted(path.name for path in tutorials.glob("*.ipynb")) == notebooks
    for name in notebooks:
        link = tutorials / name
        assert link.is_symlink() and link.resolve() == (ROOT / "notebooks" / name).resolve()
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for name in notebooks:
        assert f"tutorials/{name}" in nav, name


def test_readme_links_point_at_pages_of_the_site():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#]+)(?:#[^)]*)?\)", readme)
    assert len(links) >= 8, links  # one per guide at least
    for link in links:
        assert (ROOT / link).is_file(), link
        assert link.removeprefix("docs/") in nav, f"{link} is not in mkdocs.yml's nav"
    for name in re.findall(r"\]\(([A-Z]+\.md)\)", readme):
        assert (ROOT / name).is_file(), name


def test_changelog_and_architecture_pages_include_the_files():
    assert (DOCS / "changelog.md").read_text() == '--8<-- "CHANGELOG.md"\n'
    assert (DOCS / "architecture.md").read_text() == '--8<-- "ARCHITECTURE.md"\n'


# ------------------------------------------------------------------ the docstrings (fast)

_SECTION_HEADER = re.compile(
    r"^(Args|Arguments|Returns|Yields|Raises|Attributes|Examples?|Notes?|Warnings?|See Also)"
    r":\s*$"
)


def docstring_sections(doc: str) -> dict[str, str]:
    """`{"Args": body, "Returns": body, ...}` of a dedented Google-style docstring.

    `Example:` and `Examples:` are both stored as `"Example"`; headers inside code fences are
    code, not headers. A section's body is indented, except an example's (Keras style): an
    unindented line ends any other section.
    """
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    in_fence = False
    for line in doc.splitlines():
        header = None if in_fence else _SECTION_HEADER.match(line)
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if header:
            name = {"Examples": "Example", "Arguments": "Args"}.get(header[1], header[1])
            current = sections.setdefault(name, [])
        elif line[:1].strip() and current is not sections.get("Example"):
            current = None
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


def documented_arguments(args_body: str) -> set[str]:
    """The argument names an `Args:` section describes (`name:` at its first indentation)."""
    lines = [line for line in args_body.splitlines() if line.strip()]
    if not lines:
        return set()
    indent = min(len(line) - len(line.lstrip()) for line in lines)
    entry = re.compile(r"\*{0,2}(\w+)(?: \([^)]*\))?:")
    names = set()
    for line in lines:
        match = entry.match(line[indent:])
        if match and len(line) - len(line.lstrip()) == indent:
            names.add(match[1])
    return names


def _signature_source(value: Any) -> Any:
    """The function whose parameters, return value and body a docstring describes.

    A function (a pytest fixture unwrapped), or for a class the `__init__`/`__new__` it
    defines itself; None for a class that inherits its constructor (from Keras or Python),
    which is documented there.
    """
    if not inspect.isclass(value):
        return inspect.unwrap(value)
    for owner in value.__mro__:
        for method in ("__init__", "__new__"):
            if method in vars(owner):
                if owner is object or not owner.__module__.startswith("kerasx"):
                    return None
                return vars(owner)[method]
    return None


def _raises_directly(function: Any) -> bool:
    """Whether `function`'s own body has a `raise SomeError(...)` (nested functions aside)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError):
        return False
    nodes = list(ast.iter_child_nodes(tree.body[0]))
    while nodes:
        node = nodes.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if isinstance(node, ast.Raise) and node.exc is not None:
            return True
        nodes.extend(ast.iter_child_nodes(node))
    return False


def missing_sections(identifier: str, value: Any) -> list[str]:
    """What the docstring of a public function or class lacks, one message per gap.

    Needed: a summary; `Args:` describing every parameter (a class: its constructor's, which
    may be described under `Attributes:` instead, as a dataclass's fields are); for a
    function, `Returns:` unless it is annotated `-> None` (or `Yields:` for a generator that
    yields values); `Raises:` when its own body raises; and an `Example:`.
    """
    doc = inspect.getdoc(value) or ""
    if not doc.strip():
        return [f"{identifier}: no docstring"]
    sections = docstring_sections(doc)
    problems = []
    function = _signature_source(value)
    if function is not None:
        parameters = list(inspect.signature(function).parameters)
        described = documented_arguments(sections.get("Args", ""))
        if inspect.isclass(value):
            parameters = parameters[1:]  # self, or cls for __new__
            described |= documented_arguments(sections.get("Attributes", ""))
        if parameters and not described:
            problems.append(f"{identifier}: no `Args:` section (parameters: {parameters})")
        elif missing := [name for name in parameters if name not in described]:
            problems.append(f"{identifier}: `Args:` does not describe {missing}")
        if _raises_directly(function) and "Raises" not in sections:
            problems.append(f"{identifier}: raises, but has no `Raises:` section")
    if function is not None and not inspect.isclass(value):
        returned = inspect.signature(function).return_annotation
        if inspect.isgeneratorfunction(function):
            yields_none = re.fullmatch(r"(Iterator|Generator)\[None.*\]", str(returned))
            if not yields_none and "Yields" not in sections:
                problems.append(f"{identifier}: a generator without a `Yields:` section")
        elif str(returned) not in ("None", "NoReturn") and "Returns" not in sections:
            problems.append(f"{identifier}: returns {returned}, but has no `Returns:` section")
    if "Example" not in sections:
        problems.append(f"{identifier}: no `Example:` section")
    return problems


def attribute_docstring(module_name: str, name: str) -> str | None:
    """The string literal after `name = ...` where `module_name` assigns (or imports) it.

    That literal is what griffe, and so the API reference, shows as the constant's docstring.
    """
    spec = importlib.util.find_spec(module_name)
    assert spec is not None and spec.origin is not None, module_name
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for index, node in enumerate(tree.body):
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if isinstance(node, ast.Assign | ast.AnnAssign) and any(
            isinstance(target, ast.Name) and target.id == name for target in targets
        ):
            following = tree.body[index + 1] if index + 1 < len(tree.body) else None
            if (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                return following.value.value
            return None
        imported = isinstance(node, ast.ImportFrom) and node.module and node.level == 0
        if imported and any(alias.name == name and not alias.asname for alias in node.names):
            return attribute_docstring(node.module, name)
    return None


def test_public_docstrings_have_the_sections_the_reference_needs():
    # Checked here: kerasx's own functions and classes. Not checked, each for its reason:
    # - modules (`kerasx.io`, ...): their docstring is an overview page, not a call;
    # - names whose object comes from Keras (`kerasx.models.Input` is `keras.Input`): Keras
    #   documents them;
    # - error classes: kerasx raises them, users only catch them. Each function's `Raises:`
    #   says when, and the `kerasx.errors` module's example shows how; they need a summary.
    # Constants need a docstring (a string literal right after the assignment).
    problems = []
    for identifier, module_name in sorted(public_identifiers().items()):
        value = getattr(importlib.import_module(module_name), identifier.rsplit(".", 1)[1])
        if inspect.ismodule(value):
            continue
        if not (callable(value) or inspect.isclass(value)):
            if not attribute_docstring(module_name, identifier.rsplit(".", 1)[1]):
                problems.append(f"{identifier}: a constant without a docstring")
            continue
        if not getattr(value, "__module__", "").startswith("kerasx"):
            continue
        if inspect.isclass(value) and issubclass(value, BaseException):
            if not (inspect.getdoc(value) or "").strip():
                problems.append(f"{identifier}: no docstring")
            continue
        problems += missing_sections(identifier, value)
    assert problems == [], "docstrings to complete:\n" + "\n".join(problems)


def test_section_check_reports_each_gap():
    def documented(path: str, *, retries: int = 3) -> int:
        """Summary.

        Args:
            path: the file.
            retries: how many times. Defaults to `3`.

        Returns:
            A number.

        Raises:
            ValueError: an empty path.

        Example:

        >>> documented("a")
        3
        """
        if not path:
            raise ValueError("empty")
        return retries

    def undocumented(path: str, *, retries: int = 3) -> int:
        """Summary.

        Args:
            path: the file.

        ```python
        Example:
        ```
        """
        if not path:
            raise ValueError("empty")
        return retries

    @dataclasses.dataclass
    class Result:
        """Summary.

        Attributes:
            value: what was found.

        Example:

        >>> Result(1).value
        1
        """

        value: int

    assert missing_sections("documented", documented) == []
    assert missing_sections("Result", Result) == []
    assert missing_sections("undocumented", undocumented) == [
        "undocumented: `Args:` does not describe ['retries']",
        "undocumented: raises, but has no `Raises:` section",
        "undocumented: returns int, but has no `Returns:` section",
        "undocumented: no `Example:` section",
    ]


@pytest.mark.parametrize(
    "identifier",
    [
        pytest.param(name, marks=pytest.mark.slow) if name in SLOW_EXAMPLES else name
        for name in example_identifiers()
    ],
)
def test_docstring_examples_run(
    identifier: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    module_name = public_identifiers()[identifier]
    value = getattr(importlib.import_module(module_name), identifier.rsplit(".", 1)[1])
    if not (callable(value) or inspect.ismodule(value)):
        return  # a constant: its docstring is prose (its type's docstring is not ours)
    # Each example runs with nothing imported, in an empty working directory; temporary files
    # go under tmp_path; a Python process it starts imports this checkout's kerasx.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), path])))
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    for test in doctest.DocTestFinder(recurse=False).find(value, identifier, globs={}):
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


# ------------------------------------------------------------------ the built site (slow)


def _importable(name: str) -> bool:
    """Whether `name` can be imported; a dotted name whose parent package is missing is not."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once per module with `mkdocs build --strict`."""
    missing = [name for name in DOCS_PACKAGES if not _importable(name)]
    if missing:
        _unavailable(f"the docs packages {missing} are not installed", 'pip install -e ".[docs]"')
    site_dir = tmp_path_factory.mktemp("site")
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=1200,
    )
    seconds = time.perf_counter() - start
    problems = [
        line for line in result.stderr.splitlines() if line.startswith(("WARNING -", "ERROR -"))
    ]
    assert result.returncode == 0, "\n".join(problems) or result.stderr[-5000:]
    print(f"mkdocs build --strict: {seconds:.0f} s")
    return site_dir


def _page(site: Path, url_path: str) -> str:
    return (site / url_path / "index.html").read_text(encoding="utf-8")


def _text(fragment: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    spaced = re.sub(r"</(?:p|h[1-6]|li|div|pre|td|th|tr|table)>|<br\s*/?>", " ", fragment)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", spaced)).split())


def api_entries(site: Path) -> dict[str, str]:
    """`{identifier: first paragraph of its docstring}` for every entry of the API pages."""
    entries = {}
    heading = re.compile(r'<h[1-6] id="(?P<id>[^"]+)" class="doc doc-heading">')
    for page in sorted((site / "api").glob("*/index.html")):
        text = page.read_text(encoding="utf-8")
        matches = list(heading.finditer(text))
        for index, match in enumerate(matches):
            end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
            body = text[match.end() : end]
            contents = body.split('class="doc doc-contents', 1)
            paragraph = re.search(r"<p>(.*?)</p>", contents[1], re.S) if len(contents) > 1 else None
            entries[match["id"]] = _text(paragraph.group(1)) if paragraph else ""
    return entries


def _summary(value: object) -> str:
    """The first line of an object's docstring as rendered: Markdown code marks removed."""
    doc = inspect.getdoc(value) or ""
    return " ".join(doc.split("\n\n")[0].replace("`", "").split())


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_site_builds_strict_and_offline(site: Path):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 30
    remote = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\s(?:src|href)=\"(?:https?:)?//", re.I)
    assert [str(p.relative_to(site)) for p in pages if remote.search(p.read_text("utf-8"))] == []
    for name in ("changelog", "architecture", "benchmarks"):
        assert "<h1" in _page(site, name)
    assert "Keep a Changelog" in _page(site, "changelog")  # CHANGELOG.md, included
    assert "Imports point downward" in _page(site, "architecture")  # ARCHITECTURE.md, included
    assert "Ratios, side by side" in _page(site, "benchmarks")  # benchmarks/README.md's method
    quickstart = _text(_page(site, "getting-started"))
    assert "kerasx.fit(model, x_train, y_train" in quickstart  # the README's block


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_every_public_name_is_documented_in_the_built_api_pages(site: Path):
    entries = api_entries(site)
    missing, undocumented, wrong = [], [], []
    for identifier, module_name in sorted(public_identifiers().items()):
        if identifier not in entries:
            missing.append(identifier)
            continue
        rendered = entries[identifier]
        if not rendered:
            undocumented.append(identifier)
            continue
        value = getattr(importlib.import_module(module_name), identifier.rsplit(".", 1)[1])
        if callable(value) or inspect.ismodule(value):
            expected = _summary(value)[:40]
            if not rendered.startswith(expected):
                wrong.append(f"{identifier}: {rendered[:60]!r} is not {expected!r}")
    assert missing == [], "no entry in the built API pages"
    assert undocumented == [], "no docstring rendered"
    assert wrong == []


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_tutorials_show_their_outputs(site: Path):
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        page = _page(site, f"tutorials/{notebook.stem}")
        assert "jp-OutputArea-output" in page, f"{notebook.name} rendered without outputs"
        assert "absl::InitializeLog" not in page  # TensorFlow's start-up log is filtered out
        assert "Traceback" not in page
    quickstart = _text(_page(site, "tutorials/01_quickstart"))
    assert "resumed from epoch 3" in quickstart


# ------------------------------------------------------------------ in a browser (slow)


@pytest.fixture(scope="module")
def chromium() -> str:
    """The path of the Chromium executable."""
    path = next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)
    if path is None:
        _unavailable("Chromium is not installed", "apt-get install -y chromium")
    return path


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    """`python -m http.server` on 127.0.0.1 serving the built site; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
         "--directory", str(site)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()  # "Serving HTTP on 127.0.0.1 port 41234 (...)"
        port = re.search(r"port (\d+)", first_line)
        assert port, first_line
        yield f"http://127.0.0.1:{port.group(1)}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _chromium(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    profile.mkdir()
    return subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120,
    )


def dump_dom(chromium: str, tmp_path: Path, url: str) -> str:
    result = _chromium(chromium, tmp_path, "--dump-dom", url)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "</html>" in result.stdout, result.stdout[-1000:]
    return result.stdout


def assert_screenshot_not_blank(chromium: str, tmp_path: Path, url: str) -> None:
    from PIL import Image

    path = tmp_path / "screenshot.png"
    result = _chromium(chromium, tmp_path, f"--screenshot={path}", "--window-size=1280,1000", url)
    assert result.returncode == 0, result.stderr[-3000:]
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=rgb.width * rgb.height)
    assert colours is not None
    background = max(count for count, _ in colours) / (rgb.width * rgb.height)
    # Text, code highlighting and the header bar give hundreds of colours; a blank page one.
    assert len(colours) > 200, f"{url}: only {len(colours)} colours"
    assert background < 0.95, f"{url}: {background:.0%} of the page is one colour"


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_home_page_in_a_browser(chromium: str, server: str, tmp_path: Path):
    dom = dump_dom(chromium, tmp_path, f"{server}/")
    assert re.search(r"<h1[^>]*>\s*kerasx", dom)
    assert 'id="where-to-start"' in dom
    assert "kerasx.fit" in _text(dom) and "<code" in dom
    assert "API reference" in dom and "Tutorials" in dom  # the navigation
    assert_screenshot_not_blank(chromium, tmp_path, f"{server}/")


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_fit_api_entry_in_a_browser(chromium: str, server: str, tmp_path: Path):
    dom = dump_dom(chromium, tmp_path, f"{server}/api/kerasx/#kerasx.fit")
    after = dom.split('id="kerasx.fit" class="doc doc-heading">', 1)[1]
    entry = after.split('class="doc doc-heading">', 1)[0]  # up to the next entry
    text = _text(entry)
    assert text.startswith("kerasx.fit")
    assert "fit( model: Any" in text and "run_dir: str | PathLike[str] | None = None" in text
    for section in ("Parameters:", "Returns:", "Raises:", "Examples:"):
        assert section in text, section
    assert "Train model with checkpoints, logs, a progress bar and exact resume." in text
    # Headless Chromium draws a screenshot scrolled to a #fragment half blank; the entry is in
    # the first screen of the page without it.
    assert_screenshot_not_blank(chromium, tmp_path, f"{server}/api/kerasx/")


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_tutorial_in_a_browser(chromium: str, server: str, tmp_path: Path):
    url = f"{server}/tutorials/01_quickstart/"
    dom = dump_dom(chromium, tmp_path, url)
    assert re.search(r"<h1[^>]*>\s*kerasx quickstart", dom)
    assert 'id="train-with-checkpoints-then-resume"' in dom
    text = _text(dom)
    assert "history = kerasx.fit(model, x_train, y_train" in text  # a code cell
    assert "resumed from epoch 3" in text  # its output, executed at build time
    assert re.search(r'<img [^>]*src="data:image/png;base64,', dom)  # the history plot
    assert_screenshot_not_blank(chromium, tmp_path, url)
