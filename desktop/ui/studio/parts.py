"""What the studio's steps are given of the app: narrow parts, never the main window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from desktop.core.models.library import ModelLibrary


@dataclass
class StudioParts:
    library: ModelLibrary
    select_in_chat: Callable[[str], None]  # a library model id → loaded in the chat window
    offline: Callable[[], bool]  # the app's Offline mode, as it is now
