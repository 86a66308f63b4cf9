"""One error hierarchy: every error class lives in the error modules, and each crosses a process
boundary (a job's process → the window) as the typed error it is, hint included."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest

from conversion import errors as conversion_errors
from desktop.core import errors

ROOT = Path(__file__).resolve().parents[2]
ERROR_MODULES = {ROOT / "conversion" / "errors.py", ROOT / "desktop" / "core" / "errors.py"}


def test_no_error_class_is_defined_outside_the_error_modules() -> None:
    elsewhere = []
    for folder in (ROOT / "desktop", ROOT / "conversion"):
        for source in folder.rglob("*.py"):
            if source in ERROR_MODULES:
                continue
            tree = ast.parse(source.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and any(
                    getattr(base, "id", getattr(base, "attr", "")).endswith(("Error", "Cancelled"))
                    for base in node.bases
                ):
                    elsewhere.append(f"{source.relative_to(ROOT)}: {node.name}")
    assert elsewhere == []


@pytest.mark.parametrize(
    "cls",
    sorted(
        {
            obj
            for module in (errors, conversion_errors)
            for obj in vars(module).values()
            if isinstance(obj, type) and issubclass(obj, errors.HuacayaError)
        },
        key=lambda c: c.__name__,
    ),
    ids=lambda c: c.__name__,
)
def test_every_error_pickles_with_its_class_message_and_hint(cls: type) -> None:
    error = cls.__new__(cls)
    errors.HuacayaError.__init__(error, f"{cls.__name__} happened.", "Do this about it.")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert (copy.message, copy.hint) == (error.message, error.hint)
    assert str(copy) == str(error)
