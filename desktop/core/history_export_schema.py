"""The schema of a conversation export (version 1), checked in full before an import writes
anything: every field's type and range, so that nothing the window reads later (a chat's
settings, its messages' times and stats) can be of a shape it does not expect.

pydantic does the checking (strict types: no "1" for 1, no true for 1, no NaN or infinity);
its first complaint becomes one line naming the field, e.g. ``messages[2].created_at``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from desktop.core.errors import HistoryError

# Seconds since 1970, up to the year 5000: a time a computer clock could have written.
Timestamp = Annotated[float, Field(ge=0, le=95_617_584_000)]
Scalar = int | float | str | bool | None
LONGEST_TEXT = 64 << 20  # characters of one message, title or system prompt


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False, frozen=True)


class ExportedGeneration(_Strict):
    """Sampling settings of a chat; each one optional, each within the range the app uses."""

    temperature: Annotated[float, Field(ge=0, le=5)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    top_k: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    min_p: Annotated[float, Field(ge=0, le=1)] | None = None
    repeat_penalty: Annotated[float, Field(ge=0, le=5)] | None = None
    max_tokens: Annotated[int, Field(ge=1, le=1 << 24)] | None = None
    seed: Annotated[int, Field(ge=-1, le=2**32 - 1)] | None = None


class ExportedSettings(_Strict):
    """What the app reads is checked field by field; other keys (a newer feature's) are kept
    if they are plain JSON values, since only code that checks them reads them."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Scalar | list[Scalar] | dict[str, Scalar]]

    generation: ExportedGeneration | None = None
    prompt_format: Annotated[str, Field(max_length=64)] | None = None


class ExportedMessage(_Strict):
    role: Literal["system", "user", "assistant"]
    content: Annotated[str, Field(max_length=LONGEST_TEXT)]
    created_at: Timestamp | None = None
    model: Annotated[str, Field(max_length=1024)] = ""
    stats: dict[Annotated[str, Field(max_length=64)], Scalar] = Field(
        default_factory=dict, max_length=64
    )


class ConversationExport(_Strict):
    format: Literal["huacaya-conversation"]
    version: Annotated[int, Field(ge=1, le=1)] = 1
    title: Annotated[str, Field(max_length=LONGEST_TEXT)] = ""
    model: Annotated[str, Field(max_length=1024)] = ""
    system_prompt: Annotated[str, Field(max_length=LONGEST_TEXT)] = ""
    settings: ExportedSettings | None = None
    created_at: Timestamp | None = None
    messages: list[ExportedMessage]


def validated_export(data: Any) -> ConversationExport:
    """``data`` as a checked export, or HistoryError naming the first bad field."""
    try:
        return ConversationExport.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
        ).lstrip(".")
        found = repr(error.get("input"))
        found = found if len(found) <= 40 else found[:39] + "…"
        message = re.sub(r" or instance of \w+", "", error["msg"])  # our class names
        message = message[0].lower() + message[1:]
        raise HistoryError(
            f"The export's “{where or 'content'}” is not valid: {message} (it is {found}).",
            "Nothing was imported. Export the chat again from Huacaya, or fix that field.",
        ) from None
