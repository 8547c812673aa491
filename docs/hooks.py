"""MkDocs hook: the pages that are generated at build time, never committed.

- ``cli.md``: the command-line reference, read from ``arena.cli.build_parser()`` (every sub-command
  and nested sub-command, its help, and every option with its default and help), plus the Gradio
  app's options for ``arena demo`` (``app.add_options``; importing the app loads gradio, so when it
  cannot be imported the page says so instead of failing the build);
- ``results.md``: every ``bench/results/*.json`` / ``*.jsonl`` file rendered as tables (lists of
  dicts and dicts of records as tables, other dicts as key/value tables, deeper values compact),
  with the ``.md`` table a bench wrote beside it and its figures (``.png``); the raw files are
  served beside the page under ``results/``;
- ``changelog.md``: a copy of the repository's ``CHANGELOG.md``.

Wired in through ``hooks:`` in ``mkdocs.yml``; ``mkdocs build --strict`` must stay free of warnings.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import re
import sys
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
log = logging.getLogger("mkdocs.hooks.firearena")

CELL_CHARS = 160  # a nested value shown inline is cut to this many characters
MAX_HEADING = 5  # deeper dicts are shown compact instead of as further sub-sections


# --------------------------------------------------------------------------------------------- hooks
def on_files(files: Files, config) -> Files:
    """Add the generated pages (and the raw results files they link) to the site."""
    files.append(File.generated(config, "cli.md", content=cli_markdown()))
    page, assets = results_markdown()
    files.append(File.generated(config, "results.md", content=page))
    for uri, path in assets:
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    changelog = ROOT / "CHANGELOG.md"
    text = changelog.read_text(encoding="utf-8") if changelog.is_file() else "# Changelog\n\n(no CHANGELOG.md)\n"
    files.append(File.generated(config, "changelog.md", content=text))
    return files


def on_serve(server, config, builder):
    """`mkdocs serve`: rebuild when the CLI, the results or the changelog change."""
    for path in (ROOT / "arena" / "cli.py", ROOT / "app.py", RESULTS, ROOT / "CHANGELOG.md"):
        if path.exists():
            server.watch(str(path))
    return server


# ------------------------------------------------------------------------------------ CLI reference
def _import_fresh(name: str):
    """Import a module, re-reading it when `mkdocs serve` already imported an older version."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    module = sys.modules.get(name)
    return importlib.reload(module) if module is not None else importlib.import_module(name)


def _text(value: str) -> str:
    """Plain text for a markdown table cell: one line, pipes and angle brackets escaped."""
    value = " ".join(str(value).split())
    return value.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _expanded_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """An action's help as ``--help`` prints it (``%(default)s`` filled in, ``%%`` as ``%``)."""
    if not action.help:
        return ""
    try:
        text = parser._get_formatter()._expand_help(action)  # noqa: SLF001 - argparse's own expansion
    except Exception:  # a help string argparse itself could not format
        text = action.help.replace("%%", "%")
    shown = f" (default: {action.default})"  # ArgumentDefaultsHelpFormatter's suffix: the table has a column for it
    return text[: -len(shown)] if action.default is not None and text.endswith(shown) else text


def _default(action: argparse.Action) -> str:
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):  # noqa: SLF001
        return "off" if action.default is False else "on"
    if action.required:
        return "required"
    if action.default is None or action.default is argparse.SUPPRESS:
        return "-"
    if isinstance(action.default, (list, tuple)):
        return ", ".join(map(str, action.default)) or "-"
    return f"`{action.default}`" if str(action.default) != "" else "`''`"


def _name(action: argparse.Action) -> str:
    if action.option_strings:
        names = ", ".join(f"`{opt}`" for opt in action.option_strings)
        if action.nargs != 0:
            metavar = action.metavar or (
                f"{{{','.join(map(str, action.choices))}}}" if action.choices else action.dest.upper()
            )
            names += f" {_text(metavar) if isinstance(metavar, str) else _text(' '.join(metavar))}"
        return names
    choices = f" {{{','.join(map(str, action.choices))}}}" if action.choices and not action.metavar else ""
    return f"`{action.metavar or action.dest}`{choices}"


def _options_table(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):  # noqa: SLF001
            continue
        if action.help is argparse.SUPPRESS:  # hidden options (internal, or kept as aliases)
            continue
        help_text = _expanded_help(parser, action)
        if action.choices and action.metavar and action.option_strings:  # choices the metavar hides
            help_text = (
                (help_text + " " if help_text else "") + "(one of: " + ", ".join(f"`{c}`" for c in action.choices) + ")"
            )
        rows.append(f"| {_name(action)} | {_default(action)} | {_text(help_text)} |")
    if not rows:
        return ["No options.", ""]
    return ["| option | default | help |", "|---|---|---|", *rows, ""]


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, help, parser) of a parser's sub-commands, in the order they were added; hidden ones left out."""
    out = []
    for action in parser._actions:  # noqa: SLF001
        if not isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            continue
        helps = {choice.dest: choice.help for choice in action._choices_actions}  # noqa: SLF001
        seen = set()
        for name, sub in action.choices.items():
            if id(sub) in seen or name not in helps:  # aliases, and sub-commands added with help=SUPPRESS
                continue
            seen.add(id(sub))
            out.append((name, helps[name] or "", sub))
    return out


def _usage(parser: argparse.ArgumentParser) -> str:
    return parser.format_usage().strip()


def _app_options(prog: str) -> tuple[argparse.ArgumentParser | None, str]:
    """The Gradio app's own parser (its options follow `arena demo`), or None and why not."""
    try:
        app = _import_fresh("app")
        parser = argparse.ArgumentParser(prog=prog, add_help=True)
        app.add_options(parser)
        return parser, ""
    except Exception as exc:  # gradio missing or the app mid-edit: the page says so, the build goes on
        return None, f"{type(exc).__name__}: {exc}"


def _command_section(prog: str, help_text: str, parser: argparse.ArgumentParser, level: int) -> list[str]:
    lines = [f"{'#' * level} {prog}", ""]
    if help_text:
        sentence = _text(help_text)[:1].upper() + _text(help_text)[1:]
        lines += [sentence + ("" if sentence.endswith((".", "!", "?")) else "."), ""]
    if parser.description and parser.description != help_text:
        lines += [_text(parser.description), ""]
    subs = _subcommands(parser)
    if parser.prefix_chars != "-" and prog.endswith(" demo"):
        # `arena demo` hands every option on to the app's own parser (so gradio loads only there)
        app_parser, why = _app_options(prog)
        if app_parser is not None:
            lines += ["```text", _usage(app_parser), "```", "", *_options_table(app_parser)]
        else:
            lines += [
                "```text",
                _usage(parser),
                "```",
                "",
                f"The app's options could not be read here ({_text(why)}); run `{prog} --help`.",
                "",
            ]
        return lines
    lines += ["```text", _usage(parser), "```", ""]
    if subs:
        lines += ["| sub-command | what |", "|---|---|"]
        lines += [f"| [`{prog} {name}`](#{_anchor(f'{prog} {name}')}) | {_text(h)} |" for name, h, _ in subs]
        lines.append("")
    table = _options_table(parser)
    if table != ["No options.", ""] or not subs:
        lines += table
    for name, sub_help, sub in subs:
        lines += _command_section(f"{prog} {name}", sub_help, sub, min(level + 1, 6))
    return lines


def _anchor(title: str) -> str:
    """The id Python-Markdown's toc extension gives a heading (default slugify)."""
    slug = re.sub(r"[^\w\s-]", "", title).strip().lower()
    return re.sub(r"[-\s]+", "-", slug)


def cli_markdown() -> str:
    """The CLI reference page, generated from the argparse parser."""
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # usage lines wrapped the same on every machine
    try:
        cli = _import_fresh("arena.cli")
        parser = cli.build_parser()
        lines = [
            "# CLI reference",
            "",
            "Generated from `arena.cli.build_parser()` when the documentation is built, so it always "
            "matches the installed `arena` command. `arena COMMAND --help` prints the same. "
            "Options whose help argparse hides (internal ones, and aliases kept for one release) are not listed.",
            "",
        ]
        top = _command_section("arena", parser.description or "", parser, 1)
        lines += top[2:]  # the page title stands for the `arena` heading; sub-commands are level 2
    finally:
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------- results page
def _round(value):
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, list):
        return [_round(v) for v in value]
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def _scalar(value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _short_list(value) -> bool:
    return isinstance(value, list) and len(value) <= 8 and all(_scalar(v) for v in value)


def _cell(value) -> str:
    """A value in one table cell: scalars as they are, nested values as compact JSON, cut short."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _text(repr(round(value, 4)))
    if isinstance(value, (str, int)):
        return _text(value) if str(value) != "" else "''"
    text = json.dumps(_round(value), ensure_ascii=False, separators=(", ", ": "))
    if len(text) > CELL_CHARS:
        text = text[: CELL_CHARS - 1] + "…"
    return _text(text)


def _records_table(rows: list[tuple[str | None, dict]], key_header: str | None) -> list[str]:
    """Rows of dicts as one markdown table (columns: the union of their keys, in first-seen order)."""
    columns: list[str] = []
    for _, row in rows:
        columns += [k for k in row if k not in columns]
    head = ([key_header] if key_header else []) + [str(c) for c in columns]
    lines = ["| " + " | ".join(_text(h) for h in head) + " |", "|" + "---|" * len(head)]
    for key, row in rows:
        cells = ([f"`{_text(key)}`"] if key_header else []) + [_cell(row.get(c)) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _kv_table(items: list[tuple[str, object]]) -> list[str]:
    lines = ["| key | value |", "|---|---|"]
    lines += [f"| `{_text(k)}` | {_cell(v)} |" for k, v in items]
    return [*lines, ""]


def _row_like(value) -> bool:
    """A dict of mostly scalars (short lists count): one row of a table."""
    if not isinstance(value, dict) or not value:
        return False
    return sum(_scalar(x) or _short_list(x) for x in value.values()) * 2 >= len(value)


def _render(value, level: int) -> list[str]:
    """Markdown for one JSON value under a heading of ``level``: scalars in a key/value table, dicts of
    mostly scalars that share their keys as one table with a row each, other nested values as
    sub-sections (compact below ``MAX_HEADING``)."""
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return _records_table([(None, v) for v in value], None)
        return [_cell(value), ""]
    if not isinstance(value, dict):
        return [_cell(value), ""]
    flat = [(k, v) for k, v in value.items() if _scalar(v) or _short_list(v) or level >= MAX_HEADING]
    lines = _kv_table(flat) if flat else []
    groups: list[list[tuple[str, object]]] = []  # rows grouped by shared keys, and single sub-sections
    for key, sub in value.items():
        if _scalar(sub) or _short_list(sub) or level >= MAX_HEADING:
            continue
        if _row_like(sub):
            for group in groups:
                head = group[0][1]
                if _row_like(head) and len(set(head) & set(sub)) * 2 >= len(set(head) | set(sub)):
                    group.append((key, sub))
                    break
            else:
                groups.append([(key, sub)])
        else:
            groups.append([(key, sub)])
    for group in groups:
        if len(group) > 1:
            lines += _records_table(group, "name")
        else:
            key, sub = group[0]
            lines += [f"{'#' * (level + 1)} {_text(key)}", "", *_render(sub, level + 1)]
    return lines


def _read_result(path: Path):
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def _demote(markdown: str, level: int) -> str:
    """A bench's own markdown table, its headings moved under ``level`` so the page's outline holds."""

    def shift(match: re.Match) -> str:
        return "#" * min(6, level + len(match.group(1))) + " "

    return re.sub(r"^(#{1,6})\s+", shift, markdown, flags=re.MULTILINE)


def results_markdown() -> tuple[str, list[tuple[str, Path]]]:
    """The results page and the raw files it links: (page text, [(site uri, file)])."""
    lines = [
        "# Results",
        "",
        "Generated from `bench/results/` when the documentation is built: one section per results file "
        "(JSON rendered as tables; numbers rounded to 4 decimals for display, the files keep them whole), "
        "with the table the bench printed beside it and its figures. Every file is as the bench wrote it; "
        "how each was measured, with its command, is in [Measurements](measurements.md) and, for the "
        "FireBERT defenses, in [FireBERT](firebert.md).",
        "",
    ]
    assets: list[tuple[str, Path]] = []
    if not RESULTS.is_dir():
        return "\n".join([*lines, "No `bench/results/` folder here.", ""]), assets
    data_files = sorted(p for p in RESULTS.iterdir() if p.is_file() and p.suffix in (".json", ".jsonl"))
    tables = {p.stem: p for p in RESULTS.iterdir() if p.is_file() and p.suffix == ".md"}
    images = sorted(p for p in RESULTS.iterdir() if p.is_file() and p.suffix in (".png", ".svg", ".jpg"))
    stores = sorted(p for p in (RESULTS / "stores").glob("*.jsonl")) if (RESULTS / "stores").is_dir() else []
    used_tables, used_images = set(), set()

    lines += ["| file | what |", "|---|---|"]
    for path in data_files:
        lines.append(f"| [{path.name}](#{_anchor(path.name)}) | {_describe(path, tables)} |")
    lines.append("")

    for path in data_files:
        uri = f"results/{path.name}"
        assets.append((uri, path))
        lines += [f"## {path.name}", "", f"Raw file: [{path.name}]({uri}).", ""]
        try:
            lines += _render(_read_result(path), 2)
        except (ValueError, OSError) as exc:
            log.info("results page: %s not rendered (%s)", path.name, exc)
            lines += [f"Not rendered: {_text(exc)}.", ""]
        stem = path.stem
        if stem in tables:
            used_tables.add(stem)
            lines += [
                f"### The bench's table ({tables[stem].name})",
                "",
                _demote(tables[stem].read_text(encoding="utf-8"), 3).strip(),
                "",
            ]
        for image in images:
            if image.stem.startswith(stem + "_") or image.stem == stem:
                used_images.add(image)
                assets.append((f"results/{image.name}", image))
                lines += [f"![{image.name}](results/{image.name})", ""]

    rest_tables = [p for stem, p in sorted(tables.items()) if stem not in used_tables]
    rest_images = [p for p in images if p not in used_images]
    if rest_tables or rest_images:
        lines += ["## Other tables and figures", ""]
        for path in rest_tables:
            lines += [f"### {path.name}", "", _demote(path.read_text(encoding="utf-8"), 3).strip(), ""]
        for image in rest_images:
            assets.append((f"results/{image.name}", image))
            lines += [f"![{image.name}](results/{image.name})", ""]
    if stores:
        lines += [
            "## Stores",
            "",
            "Results stores carried in the repository as JSON-lines dumps (without texts); "
            "`arena merge PATH --db arena.db` loads one, and `arena runs --db arena.db` shows what it holds:",
            "",
        ]
        lines += [f"- `bench/results/stores/{p.name}`" for p in stores]
        lines.append("")
    return "\n".join(lines) + "\n", assets


def _describe(path: Path, tables: dict[str, Path]) -> str:
    """A one-line hint of what a results file holds: the title of the bench's own table, the command the
    file records, or the bench script of the same name."""
    table = tables.get(path.stem)
    if table is not None:
        for line in table.read_text(encoding="utf-8").splitlines():
            if line.startswith("#"):
                return _text(line.lstrip("#").strip())
    try:
        data = _read_result(path)
    except (ValueError, OSError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("command"), str):
        return f"`{_text(data['command'])}`"
    for script in sorted((ROOT / "bench").glob("*.py"), key=lambda p: -len(p.stem)):
        if path.stem == script.stem or path.stem.startswith(script.stem + "_"):
            return f"`python bench/{script.name}`"
    return "-"
