"""One error hierarchy: every error class lives in ``conversion/errors.py``, and each crosses a
process boundary (a job's process → the window) as the typed error it is, hint included."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest

from conversion import errors

ROOT = Path(__file__).resolve().parents[2]
ERROR_MODULE = ROOT / "conversion" / "errors.py"
ERROR_NAMES = {
    name
    for name, obj in vars(errors).items()
    if isinstance(obj, type) and issubclass(obj, errors.HuacayaError)
}


def test_no_error_class_is_defined_outside_the_error_modules() -> None:
    elsewhere = []
    for folder in (ROOT / "desktop", ROOT / "conversion"):
        for source in folder.rglob("*.py"):
            if source == ERROR_MODULE:
                continue
            tree = ast.parse(source.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and any(
                    getattr(base, "id", getattr(base, "attr", "")) in ERROR_NAMES
                    or getattr(base, "id", getattr(base, "attr", "")).endswith("Error")
                    for base in node.bases
                ):
                    elsewhere.append(f"{source.relative_to(ROOT)}: {node.name}")
    assert elsewhere == []


@pytest.mark.parametrize(
    "cls",
    sorted(
        {
            obj
            for obj in vars(errors).values()
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
