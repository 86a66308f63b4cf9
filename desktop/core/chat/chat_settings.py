"""A chat's settings: its system prompt, prompt format, sampling, document collections and the
preset they came from; how they start, change, and are kept in the history's settings record.

:class:`ChatSession` is a :class:`ChatSettings`: what is here is the part of a session that
says how the model is asked, never what was said.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from desktop.core.chat.presets import Preset
from desktop.core.chat.prompts import FORMAT_CHOICES
from desktop.core.history.store import Conversation, History
from desktop.core.settings import GenerationSettings, generation_from


class ChatSettings:
    history: History | None
    conversation_id: int | None
    model_id: str

    def __init__(
        self,
        defaults_for: Callable[[str], GenerationSettings],
        starting_preset: Callable[[], Preset | None],
    ) -> None:
        """``defaults_for(model_id)``: the generation settings new chats with a model start
        from; ``starting_preset()``: the preset a new chat starts with (None: none)."""
        self.defaults_for = defaults_for
        self.starting_preset = starting_preset
        self.reset_settings()

    def reset_settings(self) -> None:
        """A new chat's settings: the model's defaults, then the starting preset's."""
        self.preset = ""  # the name of the preset this chat uses ("": none)
        self.system_prompt = ""
        self.prompt_format = "auto"
        self.collections: list[str] = []  # the document collections this chat searches
        self.generation = self.defaults_for(self.model_id)
        self.start_with_preset()

    def read_settings(self, conversation: Conversation) -> None:
        """A saved chat's settings, as far as they can be used (a stored value of another
        shape is left at its default)."""
        settings = conversation.settings if isinstance(conversation.settings, dict) else {}
        prompt_format = settings.get("prompt_format", "auto")
        self.system_prompt = conversation.system_prompt
        # A format this version does not know (an imported or newer chat's) would fail every
        # question: the model's own template is used instead.
        self.prompt_format = prompt_format if prompt_format in FORMAT_CHOICES else "auto"
        collections = settings.get("collections", [])
        listed = collections if isinstance(collections, list) else []
        self.collections = [c for c in listed if isinstance(c, str)]
        preset = settings.get("preset", "")
        self.preset = preset if isinstance(preset, str) else ""
        self.generation = generation_from(
            settings.get("generation"), self.defaults_for(conversation.model)
        )

    def use_preset(self, preset: Preset) -> None:
        """This chat takes ``preset``'s system prompt and sampling (over the model's defaults),
        and remembers its name; a saved chat keeps them."""
        self.preset = preset.name
        self.configure(
            system_prompt=preset.system_prompt,
            generation=preset.generation(self.defaults_for(self.model_id)),
        )

    def preset_changed(self, preset: Preset) -> bool:
        """Whether this chat's system prompt or sampling differ from ``preset``'s now."""
        return not preset.matches(
            self.system_prompt, self.generation, self.defaults_for(self.model_id)
        )

    def start_with_preset(self) -> None:
        """Take the preset new chats start with, if there is one."""
        preset = self.starting_preset()
        if preset is not None:
            self.preset = preset.name
            self.system_prompt = preset.system_prompt.strip()
            self.generation = preset.generation(self.defaults_for(self.model_id))

    def configure(
        self,
        *,
        system_prompt: str | None = None,
        prompt_format: str | None = None,
        generation: GenerationSettings | None = None,
        collections: list[str] | None = None,
        preset: str | None = None,
    ) -> None:
        """Change this chat's settings; a saved chat keeps them. ``preset``: the name of the
        preset they were taken from ("" none; the values are given with it)."""
        if preset is not None:
            self.preset = preset
        if collections is not None:
            self.collections = list(dict.fromkeys(collections))
        if system_prompt is not None:
            self.system_prompt = system_prompt.strip()
        if prompt_format is not None:
            self.prompt_format = prompt_format
        if generation is not None:
            self.generation = generation.validated()
        if self.history is not None and self.conversation_id is not None:
            self.history.update_settings(
                self.conversation_id,
                system_prompt=self.system_prompt,
                settings=self.settings_record(),
            )

    def settings_record(self) -> dict[str, Any]:
        """What the history keeps of these settings (beside the system prompt)."""
        record: dict[str, Any] = {
            "generation": asdict(self.generation),
            "prompt_format": self.prompt_format,
        }
        if self.collections:
            record["collections"] = self.collections
        if self.preset:
            record["preset"] = self.preset
        return record
