"""The package layout as rules, checked on the source with `ast` (nothing is imported).

ARCHITECTURE.md explains the rules; this file enforces them:

- areas import only areas below them (`LAYERS`), so there is no cycle between areas, and
  `kerasx.io` never imports `kerasx.viz`;
- no import cycle between modules, counting imports inside functions and the targets of the
  lazy facade tables (they are imports made on first use);
- no module imports an underscore name from another area: what two areas share is a named,
  documented function in the lower one;
- no module over 600 lines, no function over 80 lines of code (docstring, comments and blank
  lines excluded);
- every facade's `__all__`, lazy table and `TYPE_CHECKING` imports name the same things;
- only `kerasx._compat` imports Keras's or TensorFlow's private modules (`keras.src`,
  `tensorflow.python`), and only it reads or writes a private attribute that kerasx does not
  define itself (`model._tracker`, `getattr(optimizer, "_learning_rate")`, ...).

An exception needs an entry in one of the `ALLOWED_*` tables below, with the reason.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kerasx"

LAYERS: list[set[str]] = [
    {"_version", "errors", "_lazy", "_atomic", "_notebook"},
    {"_compat"},
    {"runtime"},
    {"layers", "datasets"},
    {"io", "data"},
    {"models", "viz"},
    {"callbacks"},
    {"training"},
    {"testing"},
    {"kerasx"},  # the top-level facade: lazy shortcuts into every area
    {"cli"},
    {"__main__"},
]
"""Areas from the bottom up. An area may import areas of lower layers only (and itself)."""

MAX_MODULE_LINES = 600
MAX_FUNCTION_CODE_LINES = 80

ALLOWED_LONG_MODULES: dict[str, str] = {}
"""Module -> why it may exceed MAX_MODULE_LINES."""

ALLOWED_LONG_FUNCTIONS: dict[str, str] = {}
"""`module:function` -> why it may exceed MAX_FUNCTION_CODE_LINES."""

ALLOWED_PRIVATE_IMPORTS: dict[str, str] = {}
"""`importer -> module:name` -> why a private name may cross areas."""

_LAZY_TARGET = re.compile(r"^kerasx(\.\w+)+(:\w+)?$")


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    lines: list[str]
    imports: list[tuple[str, str, int]] = field(default_factory=list)
    """(imported module, imported name or "", line) for every kerasx import."""

    @property
    def area(self) -> str:
        parts = self.name.split(".")
        return parts[1] if len(parts) > 1 else "kerasx"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _load_modules() -> dict[str, Module]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = _module_name(path)
        modules[name] = Module(name, path, ast.parse(text), text.splitlines())
    for module in modules.values():
        module.imports = list(_kerasx_imports(module, modules))
    return modules


def _owning_module(dotted: str, modules: dict[str, Module]) -> str:
    while dotted not in modules and "." in dotted:
        dotted = dotted.rpartition(".")[0]
    return dotted


def _kerasx_imports(module: Module, modules: dict[str, Module]):
    is_package = module.path.name == "__init__.py"
    package = module.name if is_package else module.name.rpartition(".")[0]
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("kerasx"):
                    yield _owning_module(alias.name, modules), "", node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("kerasx"):
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in modules:
                    yield submodule, "", node.lineno
                else:
                    yield _owning_module(base, modules), alias.name, node.lineno
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _LAZY_TARGET.match(node.value)
        ):
            target, _, name = node.value.partition(":")
            # kerasx._compat.FAST_PATH_MODULES names the modules that register fast paths, so
            # that `fast_paths()` can list them all; they import the registry from the package.
            if module.name == "kerasx._compat" and target.startswith("kerasx._compat."):
                continue
            if _owning_module(target, modules) == target:
                yield target, name, node.lineno


MODULES = _load_modules()


def _area_of(module_name: str) -> str:
    return MODULES[module_name].area


def _layer_of(area: str) -> int:
    for index, areas in enumerate(LAYERS):
        if area in areas:
            return index
    raise AssertionError(f"area {area!r} is not in LAYERS: add it where it belongs")


def test_every_area_has_a_layer():
    for module in MODULES.values():
        _layer_of(module.area)


def test_areas_import_only_lower_layers():
    upward = []
    for module in MODULES.values():
        for target, name, line in module.imports:
            area = _area_of(target)
            if area != module.area and _layer_of(area) >= _layer_of(module.area):
                upward.append(f"{module.name}:{line} imports {target} {name}".rstrip())
    assert upward == []


def test_io_never_imports_viz():
    offending = [
        f"{module.name}:{line} -> {target}"
        for module in MODULES.values()
        if module.area == "io"
        for target, _, line in module.imports
        if _area_of(target) == "viz"
    ]
    assert offending == []


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for successor in sorted(graph.get(node, ())):
            if state.get(successor) == 1:
                return [*stack[stack.index(successor) :], successor]
            if successor not in state:
                found = visit(successor)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_between_modules():
    graph = {
        module.name: {target for target, _, _ in module.imports if target != module.name}
        for module in MODULES.values()
    }
    assert _find_cycle(graph) is None


def test_cycle_finder_finds_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_private_name_crosses_areas():
    crossing = []
    for module in MODULES.values():
        for target, name, line in module.imports:
            private = name.startswith("_") and not name.startswith("__")
            if private and _area_of(target) != module.area:
                key = f"{module.name} -> {target}:{name}"
                if key not in ALLOWED_PRIVATE_IMPORTS:
                    crossing.append(f"{key} (line {line})")
    assert crossing == []


def test_modules_are_at_most_600_lines():
    long_modules = {
        module.name: len(module.lines)
        for module in MODULES.values()
        if len(module.lines) > MAX_MODULE_LINES and module.name not in ALLOWED_LONG_MODULES
    }
    assert long_modules == {}


def _code_lines(function: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> int:
    body = function.body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        body = body[1:]
    counted = set()
    for statement in body:
        for number in range(statement.lineno, (statement.end_lineno or statement.lineno) + 1):
            text = lines[number - 1].strip()
            if text and not text.startswith("#"):
                counted.add(number)
    return len(counted)


def test_functions_are_at_most_80_lines_of_code():
    long_functions = {}
    for module in MODULES.values():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = _code_lines(node, module.lines)
                key = f"{module.name}:{node.name}"
                if size > MAX_FUNCTION_CODE_LINES and key not in ALLOWED_LONG_FUNCTIONS:
                    long_functions[key] = size
    assert long_functions == {}


def test_code_line_count_skips_docstring_comments_and_blanks():
    source = 'def f():\n    """Doc.\n\n    More.\n    """\n    # note\n\n    a = 1\n    return a\n'
    function = ast.parse(source).body[0]
    assert isinstance(function, ast.FunctionDef)
    assert _code_lines(function, source.splitlines()) == 2


def _facades() -> list[Module]:
    return [m for m in MODULES.values() if m.path.name == "__init__.py" and _lazy_table(m)]


def _lazy_table(module: Module) -> dict[str, str]:
    for node in module.tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in {"_OWN", "_LAZY"}
        ):
            return ast.literal_eval(node.value)
    return {}


def _type_checking_imports(module: Module) -> dict[str, str]:
    """Name -> "module:attr" (or "module") for the imports under `if TYPE_CHECKING:`."""
    names = {}
    for node in module.tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    for alias in statement.names:
                        if alias.name == "*":
                            continue
                        as_module = f"{statement.module}.{alias.name}"
                        target = (
                            as_module
                            if as_module in MODULES
                            else f"{statement.module}:{alias.name}"
                        )
                        names[alias.asname or alias.name] = target
    return names


def _declared_all(module: Module) -> list[str] | None:
    for node in module.tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            try:
                return sorted(ast.literal_eval(node.value))
            except ValueError:
                return None  # computed from the lazy table
    return None


@pytest.mark.parametrize("facade", _facades(), ids=lambda m: m.name)
def test_facade_tables_agree(facade):
    table = _lazy_table(facade)
    imported = _type_checking_imports(facade)
    # Keras facades also import Keras's own names for IDEs; those are not in the table.
    own_imports = {k: v for k, v in imported.items() if k in table or v.startswith("kerasx")}
    assert own_imports == table
    declared = _declared_all(facade)
    if declared is not None:
        assert declared == sorted(name for name in table if name != "__version__")


_INTERNAL_PREFIXES = ("keras.src", "tensorflow.python")


def _internal_imports(module: Module) -> list[str]:
    found = []
    for node in ast.walk(module.tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        internal = [name for name in names if name.startswith(_INTERNAL_PREFIXES)]
        found += [f"{module.name}:{node.lineno} {name}" for name in internal]
    return found


def test_only_the_compatibility_package_imports_keras_and_tensorflow_internals():
    outside = [
        line
        for module in MODULES.values()
        if module.area != "_compat"
        for line in _internal_imports(module)
    ]
    assert outside == []


def test_internal_import_finder_sees_every_form():
    tree = ast.parse(
        "import keras.src.ops\n"
        "from tensorflow.python.framework import config\n"
        "importlib.import_module('keras.src.saving')\n"
        "from keras import ops\n"
    )
    module = Module("kerasx.example", PACKAGE / "example.py", tree, [])
    assert [line.split(" ")[1] for line in _internal_imports(module)] == [
        "keras.src.ops",
        "tensorflow.python.framework",
        "keras.src.saving",
    ]


def _own_names(modules: list[Module]) -> set[str]:
    """Every name kerasx itself defines: functions, classes, arguments, assigned names and
    attributes, imports, and keywords (`argparse`'s `set_defaults(_run=...)`)."""
    own: set[str] = set()
    for module in modules:
        for node in ast.walk(module.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                own.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                own.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                own.add(node.id)
            elif isinstance(node, ast.alias):
                own.add((node.asname or node.name).split(".")[-1])
            elif isinstance(node, ast.arg | ast.keyword) and node.arg:
                own.add(node.arg)
            elif isinstance(node, ast.Call) and _attribute_name(node) is not None:
                own.update(_setattr_target(node))
    return own


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _attribute_name(node: ast.Call) -> str | None:
    """The constant attribute name of a `getattr`/`setattr`/`hasattr`/`delattr` call."""
    reflective = isinstance(node.func, ast.Name) and node.func.id in (
        "getattr", "setattr", "hasattr", "delattr"
    )
    if reflective and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
        value = node.args[1].value
        return value if isinstance(value, str) else None
    return None


def _setattr_target(node: ast.Call) -> list[str]:
    name = _attribute_name(node)
    return [name] if name and getattr(node.func, "id", "") == "setattr" else []


def _foreign_private_attributes(module: Module, own: set[str]) -> list[str]:
    """Private attributes `module` uses that kerasx never defines: Keras's or TensorFlow's.

    A name kerasx defines anywhere counts as kerasx's, so a Keras private that happens to share
    a name with one of kerasx's own slips through; code review covers that case.
    """
    found = []
    for node in ast.walk(module.tree):
        name = None
        if isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.Call):
            name = _attribute_name(node)
        if name is not None and _private(name) and name not in own:
            found.append(f"{module.name}:{node.lineno} {name}")
    return found


def test_only_the_compatibility_package_touches_private_keras_attributes():
    modules = list(MODULES.values())
    own = _own_names(modules)
    outside = [
        line
        for module in modules
        if module.area != "_compat"
        for line in _foreign_private_attributes(module, own)
    ]
    assert outside == [], "move these behind kerasx._compat, with a public fallback"


def test_private_attribute_finder_sees_every_form():
    tree = ast.parse(
        "self._mine = 1\n"
        "model._tracker.lock()\n"
        "getattr(optimizer, '_learning_rate')\n"
        "self._mine\n"
        "x.__class__\n"
    )
    module = Module("kerasx.example", PACKAGE / "example.py", tree, [])
    own = _own_names([module])
    found = sorted(line.split(" ")[1] for line in _foreign_private_attributes(module, own))
    assert found == ["_learning_rate", "_tracker"]


def test_facade_checks_see_every_facade():
    names = {m.name for m in _facades()}
    assert {"kerasx", "kerasx.io", "kerasx.viz", "kerasx.data", "kerasx.training"} <= names
    assert {"kerasx.models", "kerasx.layers", "kerasx.callbacks"} <= names
