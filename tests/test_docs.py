"""The manual stays true: the site builds with `mkdocs build --strict`, every command and flag the
parser knows is in docs/cli.md (and the page names no flag the parser does not know), and every
`$ classifier ...` line in the README and docs/ parses; the cheap ones run against the committed
bundle and print what the page shows.

    pytest tests/test_docs.py
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from markdown.extensions.toc import slugify

from classifier.cli import build_parser
from tests.conftest import AGREEMENT, ROOT, committed_bundle, run_cli, run_cli_here

DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
# commands that answer in about a second from the committed bundle, with no data file and no training
CHEAP = {"predict", "generate", "info", "inspect"}
# shell plumbing: a line holding one is parsed up to it, never run
PLUMBING = {"<", ">", ">>", "|", "&&", ";", "2>&1"}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def cli_sections() -> dict[str, str]:
    """docs/cli.md cut at its `## COMMAND` headings: each command's examples, text and flag table."""
    parts = re.split(r"^## +(\S+)[^\n]*\n", (DOCS / "cli.md").read_text(encoding="utf-8"), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def mentions(text: str, flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None


# -- (a) the site --------------------------------------------------------------------------------------
def test_site_builds_with_strict(tmp_path):
    """mkdocs --strict fails on a broken link or anchor and on a page left out of the nav."""
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(site)], capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    for page in DOCS.glob("*.md"):
        built = site / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")
        assert built.is_file(), f"{page.name} was not built"


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)  # no headings in code
    return {slugify(h.replace("`", ""), "-") for h in re.findall(r"^#+ +(.+)$", text, flags=re.M)}


def test_readme_links_to_docs_pages_that_exist():
    """The README is not part of the site, so mkdocs does not check its links: this does."""
    links = re.findall(r"\]\((docs/[^)#\s]+)(?:#([^)\s]+))?\)", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert len({path for path, _ in links}) >= 10, "the README should link to the docs pages"
    for path, anchor in links:
        assert (ROOT / path).is_file(), f"README links to {path}, which does not exist"
        if anchor:
            assert anchor in anchors(ROOT / path), f"README links to {path}#{anchor}: no such heading"


# -- (b) every command and flag in docs/cli.md -----------------------------------------------------------
@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_flag_is_in_the_cli_page(command):
    sections = cli_sections()
    assert command in sections, f"docs/cli.md has no '## {command}' section"
    options = [o for a in subcommands()[command]._actions for o in a.option_strings if o not in ("-h", "--help")]
    missing = [o for o in options if not mentions(sections[command], o)]
    assert not missing, f"docs/cli.md, section {command}: add {', '.join(missing)}"


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_the_cli_page_names_no_unknown_flag(command):
    """A flag renamed in the parser but left in the page's flag table fails here."""
    known = {o for a in subcommands()[command]._actions for o in a.option_strings}
    rows = [line for line in cli_sections()[command].splitlines() if line.startswith("| `-")]
    assert rows, f"docs/cli.md, section {command}: no flag table"
    named = {flag for row in rows for flag in re.findall(r"`(--?[a-z][\w-]*)", row.split(" | ")[0])}
    assert named <= known, f"docs/cli.md, section {command}: {', '.join(sorted(named - known))} unknown to the parser"


# -- (c) every `$ classifier ...` line parses, the cheap ones run -----------------------------------------
def shown_commands() -> list[tuple[str, str, list[str], list[str]]]:
    """(where, line, argv, the output shown under it) for every `$ classifier` / `$ python -m classifier`
    line in the README and docs/: continuation lines joined, environment assignments dropped."""
    found = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        k = 0
        while k < len(lines):
            line, where = lines[k], f"{page.relative_to(ROOT)}:{k + 1}"
            k += 1
            if not line.startswith("$ "):
                continue
            while line.endswith("\\") and k < len(lines):
                line, k = line[:-1] + " " + lines[k].strip(), k + 1
            output = []
            while k < len(lines) and not lines[k].startswith(("$ ", "```")):
                output.append(lines[k])
                k += 1
            words = shlex.split(line[2:], comments=True)
            while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
                words.pop(0)
            if words[:1] == ["classifier"]:
                found.append((where, line, words[1:], output))
            elif len(words) >= 3 and words[0].startswith("python") and words[1:3] == ["-m", "classifier"]:
                found.append((where, line, words[3:], output))
    return found


SHOWN = shown_commands()


def test_the_pages_show_commands():
    assert len(SHOWN) >= 30
    assert any(where.startswith("README.md") for where, *_ in SHOWN)


def parse(argv: list[str]) -> tuple[int, argparse.Namespace | None, str]:
    """The parser's verdict: exit code (0 also for --help), the arguments, and what it printed."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            return 0, build_parser().parse_args(argv), out.getvalue()
    except SystemExit as e:
        return e.code or 0, None, out.getvalue()


def bundle_folder(model) -> Path | None:
    """The folder a shown `--model` means: saved_models/NAME as committed (a user's `make train`, and
    CI, rewrite the working copy; the pages show the committed bundle's output), else the path as is."""
    if not isinstance(model, str):
        return None
    path = Path(model)
    if len(path.parts) == 2 and path.parts[0] == "saved_models" and (ROOT / path).exists():
        return committed_bundle(path.name)
    return ROOT / path if (ROOT / path).is_dir() else None


def shown_model(args: argparse.Namespace):
    """The bundle a shown command reads: its --model, else the default one (saved_models/default)."""
    return getattr(args, "model", None) or "saved_models/default"


def cheap(args: argparse.Namespace) -> bool:
    if bundle_folder(shown_model(args)) is None:
        return False
    if args.command == "predict":
        return bool(args.texts) and args.texts != ["-"]  # else it reads stdin
    if args.command == "score":
        return args.out == "-" and not args.spark and all((ROOT / f).is_file() for f in args.inputs)
    return args.command in CHEAP


def on_bundle(argv: list[str], folder: Path) -> tuple[str, ...]:
    given = next((f for f in ("--model", "-m") if f in argv), None)
    if given:
        k = argv.index(given) + 1
        return (*argv[:k], str(folder), *argv[k + 1:])
    return (*argv, "--model", str(folder))


@functools.cache
def run_once(argv: tuple[str, ...], command: str):
    """A command shown on several pages runs once: `score -o -` in a new process (it writes bytes to
    stdout), the others in this one (their output is the same; a new interpreter costs more than they do)."""
    if command == "score":
        return run_cli(*argv, cwd=ROOT, timeout=60)
    with contextlib.chdir(ROOT):  # the pages' paths are relative to the project folder
        return run_cli_here(*argv)


NUMBER = re.compile(r"\d+(?:\.\d+)?")


def same_output(shown: str, printed: str) -> bool:
    """The same text, and numbers within the agreement standard (they crossed a process and a text
    format, and BLAS may round the last digit differently on another machine)."""
    a, b = NUMBER.findall(shown), NUMBER.findall(printed)
    return NUMBER.split(shown) == NUMBER.split(printed) and len(a) == len(b) and all(
        abs(float(x) - float(y)) <= AGREEMENT for x, y in zip(a, b, strict=True))


def numbers_out(line: str) -> str:
    return re.sub(r"\d+(?:[.,]\d+)*", "N", line)


@pytest.mark.parametrize("where, line, argv, output", SHOWN, ids=[s[0] for s in SHOWN])
def test_shown_command_parses_and_cheap_ones_run(where, line, argv, output):
    cut = next((i for i, word in enumerate(argv) if word in PLUMBING), len(argv))
    code, args, printed = parse(argv[:cut])
    assert code == 0, f"{where}: `{line}` does not parse:\n{printed}"
    if args is None or cut < len(argv) or not cheap(args):
        return  # --help printed and exited 0; or a command that needs data, training, a server or stdin
    result = run_once(on_bundle(argv, bundle_folder(shown_model(args))), args.command)
    assert result.returncode == 0, f"{where}: `{line}` failed:\n{result.stderr}"
    if output:
        # the page shows stdout, then stderr (whose timings vary: numbers are not compared there)
        printed = result.stdout.splitlines()
        assert len(output) >= len(printed), f"{where}: `{line}` prints more than the page shows"
        for shown, got in zip(output, printed, strict=False):
            assert same_output(shown, got), f"{where}: the page shows\n{shown}\nbut `{line}` prints\n{got}"
        rest = [numbers_out(s) for s in output[len(printed):]]
        assert rest == [numbers_out(s) for s in result.stderr.splitlines()][:len(rest)], where
