"""The name a new model gets in the library: never empty, never one an installed model has.

One check for everyone who adds a model under a name a person chose: the "Make your own"
window (``desktop/core/studio/finished.py``) and ``huacaya-train --export-gguf --name``
(``conversion/train/cli.py``), which must refuse a taken name before hours of training rather
than after. It lives here, in the base library, because ``conversion`` may not import the app:
the caller hands over the installed names (the app's library knows them) and its own words for
what to do.

Names are matched ignoring case, as ``huacaya chat --model NAME`` and a teacher's ``gguf:NAME``
find a model: a second model of the same name would make them pick one of the two silently.
Nothing installed is replaced (a person removes or renames a model where it is plain what is
lost)."""

from __future__ import annotations

from collections.abc import Iterable

from conversion.errors import ModelNameError


def tidy_name(name: str) -> str:
    """``name`` with its spaces tidied (runs of white space → one space, none at the ends)."""
    return " ".join(name.split())


def new_model_name(name: str, installed: Iterable[str], *, empty_hint: str, taken_hint: str) -> str:
    """``name`` tidied, if it is not empty and no name in ``installed`` is the same ignoring
    case; else a ModelNameError naming the problem, with ``empty_hint`` or ``taken_hint`` as
    what to do."""
    tidy = tidy_name(name)
    if not tidy:
        raise ModelNameError("The model needs a name.", empty_hint)
    clash = next((other for other in installed if other.lower() == tidy.lower()), None)
    if clash is not None:
        raise ModelNameError(f"A model called “{clash}” is already in your models.", taken_hint)
    return tidy
