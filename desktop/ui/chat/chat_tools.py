"""The row between the transcript and the composer: the chat's preset picker and the context
meter, placed in the chat panel and following the open chat (another chat, a version shown, an
answer ended, a preset chosen)."""

from __future__ import annotations

from collections.abc import Callable

from desktop.core.chat.preset_store import PresetStore
from desktop.core.settings import SettingsStore
from desktop.ui.background.engine_thread import EngineController
from desktop.ui.chat.context_meter import ContextMeter
from desktop.ui.chat.conversation import ConversationController
from desktop.ui.chat.panel import ChatPanel
from desktop.ui.chat.preset_picker import PresetPicker


class ChatTools:
    def __init__(
        self,
        presets: PresetStore,
        conversation: ConversationController,
        engine: EngineController,
        store: SettingsStore,
        chat: ChatPanel,
        model_loaded: Callable[[], bool],
    ) -> None:
        session = conversation.session
        self.picker = PresetPicker(presets, session, store, chat)
        self.meter = ContextMeter(chat.composer, engine, session.draft, model_loaded, chat)
        chat.tools.addWidget(self.picker)
        chat.tools.addStretch(1)
        chat.tools.addWidget(self.meter)
        conversation.chat_changed.connect(self.follow_chat)
        conversation.answer_finished.connect(lambda *_: self.meter.count_now())
        # (another version shown, an edit undone: the conversation the model sees changed)
        conversation.conversations_changed.connect(self.meter.recount)
        self.picker.chosen.connect(lambda _name: self.meter.recount())

    def follow_chat(self) -> None:
        """Another chat, its settings or its model: the picker and the meter follow."""
        self.picker.refresh()
        self.meter.recount()
