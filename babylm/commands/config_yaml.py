"""``--print_config`` for the training commands: the complete resolved config as YAML, every key commented.

Run: ``python -m babylm fit -c configs/tiny/teacher_llama.yaml --print_config > my_run.yaml`` (with no model
chosen, ``babylm.training.causal_lm.CausalLM`` is shown). Reads the configs and flags like ``fit`` does;
writes the YAML to stdout and nothing else.

jsonargparse can comment its dump only with the optional ``ruamel.yaml`` package; this module does it with
PyYAML alone: the help text of each key (from the Trainer's, the DataModule's and the model's docstrings)
goes on ``#`` lines above it. ``--print_config=skip_null`` and the other jsonargparse flags still apply.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import sys
import textwrap
from typing import Any, Callable, Optional, Sequence

import yaml

DEFAULT_MODEL = "babylm.training.causal_lm.CausalLM"
WIDTH = 110


def _clean_help(text: Optional[str]) -> str:
    """Help text as plain prose: no reST markup, no ``%(default)s`` templates, one paragraph."""
    if not text:
        return ""
    text = text.split("\n\n")[0]  # the first paragraph; the rest are examples and warnings
    text = re.sub(r"%\([a-z_]+\)s", "", text)
    text = re.sub(r":(?:class|func|meth|attr|paramref|ref):`~?([^`]+)`", r"\1", text)
    text = text.replace("``", "`")
    return " ".join(text.split())


def _first_sentence(text: Optional[str]) -> str:
    """The first sentence of a (class docstring) title, which jsonargparse cuts at a line end."""
    text = " ".join((text or "").split())
    return text.split(". ")[0].rstrip(".") + "." if text else ""


def _import(class_path: str) -> Optional[type]:
    module_name, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError):
        return None


class HelpLookup:
    """Help text for a key path of the config, from a subcommand parser and the classes named in it."""

    def __init__(self, parser) -> None:
        self.parser = parser
        self.helps = {a.dest: a.help for a in parser._actions if a.help}
        self.titles = {key: _first_sentence(group.title) for key, group in getattr(parser, "groups", {}).items() if key}
        self._class_helps: dict[str, dict[str, str]] = {}

    def _class_help(self, class_path: str) -> dict[str, str]:
        if class_path not in self._class_helps:
            from jsonargparse import ArgumentParser

            helps: dict[str, str] = {}
            cls = _import(class_path)
            if cls is not None:
                parser = ArgumentParser(exit_on_error=False)
                with contextlib.suppress(Exception):  # a class jsonargparse cannot describe just gets no comments
                    parser.add_class_arguments(cls, fail_untyped=False, sub_configs=True)
                helps = {a.dest: a.help for a in parser._actions if a.help}
                helps.update({k: _first_sentence(g.title) for k, g in parser.groups.items() if k and g.title})
                doc = (cls.__doc__ or "").strip().splitlines()
                helps[""] = f"{class_path}: {doc[0]}" if doc else class_path
            self._class_helps[class_path] = helps
        return self._class_helps[class_path]

    def __call__(self, path: tuple, tree: dict) -> str:
        """Return the help of ``path`` (a tuple of keys into ``tree``, the whole config), or ``""``."""
        # inside a class spec (model, trainer.logger): look the rest of the path up in that class
        node: Any = tree
        for depth, key in enumerate(path):
            if isinstance(node, dict) and "class_path" in node and key in ("class_path", "init_args"):
                helps = self._class_help(str(node["class_path"]))
                rest = path[depth + 1 :]
                if key == "class_path" or not rest:
                    return helps.get("", "") if key == "class_path" else ""
                return helps.get(".".join(rest), "")
            node = node.get(key) if isinstance(node, dict) else None
        dotted = ".".join(path)
        return self.titles.get(dotted) or self.helps.get(dotted, "")


def commented_yaml(tree: dict, lookup: Callable[[tuple, dict], str], header: Sequence[str] = ()) -> str:
    """Render ``tree`` as block YAML with each key's help (``lookup(path, tree)``) on ``#`` lines above it."""
    lines = [f"# {line}" for line in header]

    def emit(node: dict, path: tuple, indent: int) -> None:
        pad = " " * indent
        for key, value in node.items():
            text = _clean_help(lookup(path + (key,), tree))
            for line in textwrap.wrap(text, width=max(40, WIDTH - indent - 2)):
                lines.append(f"{pad}# {line}")
            if isinstance(value, dict) and value:
                lines.append(f"{pad}{key}:")
                emit(value, path + (key,), indent + 2)
            else:
                dumped = yaml.safe_dump({key: value}, sort_keys=False, allow_unicode=True, width=10_000)
                lines.extend(pad + line for line in dumped.rstrip("\n").splitlines())

    emit(tree, (), 0)
    return "\n".join(lines) + "\n"


CaptureConfig = Callable[[list], tuple]
"""``capture(argv) -> (exit code, stdout, stderr, subcommand parser)``: runs the CLI's own ``--print_config``."""


def print_commented_config(argv: Sequence[str], capture: CaptureConfig) -> int:
    """Print the resolved config for ``argv`` (which holds ``--print_config``) as commented YAML; returns 0 or 2.

    ``capture`` runs the training CLI's plain ``--print_config`` (the CLI hands it in, so this module
    imports nothing of the CLI: :func:`babylm.commands.fit.capture_plain_config`).
    """
    argv = [a if a != "--print_config=comments" else "--print_config" for a in argv]
    code, out, err, parser = capture(argv)
    if code == 0 and parser is not None:
        tree = yaml.safe_load(out) or {}
        if tree.get("model") is None:  # no model chosen: show the plain causal LM's options
            code, out, err, parser = capture([argv[0], "--model", DEFAULT_MODEL, *argv[1:]])
            tree = yaml.safe_load(out) or {}
    if code != 0 or parser is None:
        sys.stderr.write(err)
        sys.stdout.write(out)
        return code
    header = [line[2:] for line in out.splitlines() if line.startswith("# ")][:1]
    header.append("generated by: python -m babylm " + " ".join(argv))
    sys.stdout.write(commented_yaml(tree, HelpLookup(parser), header))
    return 0
