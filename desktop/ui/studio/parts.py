"""What the studio's steps are given of the app: narrow parts, never the main window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from desktop.core.models.library import ModelLibrary
from desktop.core.settings import SettingsStore
from desktop.ui.studio.training_runs import TrainingRuns


@dataclass
class StudioParts:
    library: ModelLibrary
    select_in_chat: Callable[[str], None]  # a library model id → loaded in the chat window
    offline: Callable[[], bool]  # the app's Offline mode, as it is now
    # the app's training runs, which outlive the studio window (None: the Train step keeps
    # its own, ended with it)
    training: TrainingRuns | None = None
    # the app's settings, for what the window keeps between starts (where the Data step's line
    # between table and side was left); None: nothing kept
    settings: SettingsStore | None = None
