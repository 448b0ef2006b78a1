"""The package's shape: imports go one way (no cycles, imports inside functions included), the
classifier's stages in classifier/classify/ as the generator's are in classifier/textgen/, the bundle
format apart from the model kinds, no two modules of one name, no benchmark inside the package, and
importing it stays cheap."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import ROOT, run_python

PACKAGE = ROOT / "classifier"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports anywhere in its body (enclosing packages aside)."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != mod and not mod.startswith(target + "."):
                    graph[mod].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        state[m] = 2
        stack.pop()
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_imports_go_one_way():
    graph = import_graph()
    assert "classifier.bundle" in graph and graph["classifier.bundle"]  # the walk really found imports
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_the_bundle_format_imports_no_model_kind():
    graph = import_graph()
    kinds = [m for m in graph["classifier.bundle.format"]
             if m.startswith(("classifier.models", "classifier.engine", "classifier.bundle.predictors"))]
    assert not kinds, f"classifier/bundle/format.py imports {kinds}: kinds register themselves instead"
    assert "classifier.bundle.format" in graph["classifier.bundle.predictors"]  # the kinds import the format


def test_loading_through_the_format_module_knows_every_kind():
    r = run_python("from classifier.bundle.format import KINDS, load\n"
                   "assert sorted(KINDS) == ['lstm', 'stack', 'tfidf', 'tfidf+vectors'], KINDS\n"
                   "print(type(load('saved_models/tuned')).__name__)\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "StackBundle"


def test_the_stages_live_in_packages_and_no_two_modules_share_a_name():
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    # the stages are in classify/, textgen/; limits.py is the one table of ranges
    assert top == ["__init__", "__main__", "cli", "config", "errors", "limits"], top
    stems: dict[str, list[str]] = {}
    for p in PACKAGE.rglob("*.py"):
        if p.stem != "__init__":
            stems.setdefault(p.stem, []).append(str(p.relative_to(PACKAGE)))
    # the two heads' parallel stages: classify/train.py and textgen/train.py, the same for evaluate
    parallel = {"train", "evaluate"}
    shared = {s: paths for s, paths in stems.items() if len(paths) > 1 and s not in parallel}
    assert not shared, shared
    for stem in parallel:
        assert sorted(stems[stem]) == [f"classify/{stem}.py", f"textgen/{stem}.py"]


def calls_outside_cli(name: str):
    """(path, call node) of every call of `name` in the package outside cli.py."""
    for path in PACKAGE.rglob("*.py"):
        if path != PACKAGE / "cli.py":
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name:
                    yield path, node


def test_only_the_command_line_prints():
    """The library logs its notices (cli.py shows them on stderr); a print( anywhere else fails here."""
    printing = [f"{path.relative_to(ROOT)}:{node.lineno}" for path, node in calls_outside_cli("print")]
    assert not printing, f"log (logging.getLogger(__name__)) instead of print: {', '.join(printing)}"


def test_library_errors_name_no_flag():
    """The library names fields (`{field}`, `slot("out")`); cli.py words them as flags, the server as
    JSON fields. A `--flag` written into a UserError outside cli.py fails here."""
    flagged = []
    for path, node in calls_outside_cli("UserError"):
        texts = [n.value for arg in node.args for n in ast.walk(arg)
                 if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        if any(re.search(r"(?<![\w-])--[a-z]", text) for text in texts):
            flagged.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not flagged, f"name the field, not the flag: {', '.join(flagged)}"


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_benchmark_inside_the_package():
    assert not [p.name for p in PACKAGE.rglob("*.py") if "bench" in p.name]
    assert (ROOT / "benchmarks" / "bench.py").is_file()


def test_importing_the_package_imports_no_heavy_library():
    r = run_python("import sys, classifier\n"
                   "heavy = [m for m in ('tensorflow', 'keras', 'pandas', 'sklearn', 'fastapi', 'pyspark') "
                   "if m in sys.modules]\n"
                   "assert not heavy, heavy\n")
    assert r.returncode == 0, r.stderr
