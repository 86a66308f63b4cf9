"""The main window's menu bar (every action of the window, with its shortcut, in one place) and
its toolbar.

Menus make every action reachable from the keyboard (Alt, or F10 on some desktops) as well as
the mouse, and give each shortcut one owner, so none is lost to a platform whose standard key
is empty (Preferences has none on Linux: Ctrl+, is set explicitly).

What each item does is the window's to say: :func:`build_menus` takes the menu bar and one
callable per item (named as :class:`WindowActions`' fields), and knows nothing of the window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMenu, QMenuBar, QSizePolicy, QToolBar, QWidget

from desktop.core import paths
from desktop.ui import help_windows
from desktop.ui.open_path import open_path
from desktop.ui.text_editing import TextEditing, add_text_editing


@dataclass
class WindowActions:
    new_chat: QAction
    import_chat: QAction
    export_markdown: QAction
    export_json: QAction
    export_all: QAction
    open_model: QAction
    quit: QAction
    find: QAction
    copy_answer: QAction
    settings: QAction
    stop: QAction
    regenerate: QAction
    edit_last: QAction
    presets: QAction
    rename_chat: QAction
    delete_chat: QAction
    models: QAction
    compare: QAction
    studio: QAction
    offline: QAction
    about: QAction
    log_folder: QAction
    shortcuts: QAction
    editing: TextEditing  # Undo … Select all, for the focused box

    def update(
        self,
        *,
        generating: bool,
        busy: bool,
        ready: bool,
        has_chat: bool,
        has_answer: bool,
        editing: bool,
        transferring: bool = False,
    ) -> None:
        """Enable what makes sense now (a disabled item says so; nothing fails silently)."""
        self.stop.setEnabled(generating or editing)
        self.regenerate.setEnabled(ready and has_answer)
        self.edit_last.setEnabled(not busy and has_answer)
        self.copy_answer.setEnabled(has_answer)
        for action in (self.rename_chat, self.delete_chat, self.export_markdown, self.export_json):
            action.setEnabled(has_chat and not generating)
        self.new_chat.setEnabled(not generating)
        self.import_chat.setEnabled(not generating and not transferring)
        self.export_all.setEnabled(not generating and not transferring)


def _add(
    menu: QMenu,
    text: str,
    slot: Callable[[], object],
    shortcut: str | QKeySequence.StandardKey | None = None,
    role: QAction.MenuRole | None = None,
) -> QAction:
    action = menu.addAction(text)
    action.triggered.connect(lambda _checked=False: slot())
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if role is not None:
        action.setMenuRole(role)
    return action


# What the menus do by themselves; the window gives the rest.
OWN_ITEMS = ("about", "log_folder", "shortcuts", "editing")


def _own_slots(bar: QMenuBar) -> dict[str, Callable[[], object]]:
    return {
        "about": lambda: help_windows.show_about(bar.window()),
        "shortcuts": lambda: help_windows.show_shortcuts(bar),
        "log_folder": lambda: open_path(bar.window(), paths.log_dir()),
    }


def build_menus(bar: QMenuBar, slots: Mapping[str, Callable[[], object]]) -> WindowActions:
    """Fill ``bar``, each item wired to its entry in ``slots`` (one per field of
    :class:`WindowActions`, but for the menus' own ``OWN_ITEMS``)."""
    wanted = {f.name for f in fields(WindowActions)} - set(OWN_ITEMS)
    if set(slots) != wanted:
        raise ValueError(f"menu items without an action or unknown: {set(slots) ^ wanted}")
    on = {**slots, **_own_slots(bar)}
    file = bar.addMenu("&File")
    new_chat = _add(file, "&New chat", on["new_chat"], QKeySequence.StandardKey.New)
    import_chat = _add(file, "&Import chats…", on["import_chat"])
    export_markdown = _add(file, "Export chat as &Markdown…", on["export_markdown"])
    export_json = _add(file, "Export chat as &JSON…", on["export_json"])
    export_all = _add(file, "Export &all chats…", on["export_all"])
    file.addSeparator()
    open_model = _add(file, "&Open model file…", on["open_model"], QKeySequence.StandardKey.Open)
    file.addSeparator()
    quit_action = _add(file, "&Quit", on["quit"], "Ctrl+Q", QAction.MenuRole.QuitRole)

    edit = bar.addMenu("&Edit")
    editing = add_text_editing(edit)
    find = _add(edit, "&Find in chats", on["find"], QKeySequence.StandardKey.Find)
    copy_answer = _add(edit, "&Copy last answer", on["copy_answer"], "Ctrl+Shift+C")
    edit.addSeparator()
    settings = _add(edit, "&Settings…", on["settings"], "Ctrl+,", QAction.MenuRole.PreferencesRole)

    chat = bar.addMenu("&Chat")
    stop = _add(chat, "S&top answer", on["stop"], "Esc")
    regenerate = _add(chat, "&Regenerate answer", on["regenerate"], "Ctrl+R")
    edit_last = _add(chat, "&Edit last question", on["edit_last"], "Ctrl+E")
    presets = _add(chat, "&Presets…", on["presets"])
    chat.addSeparator()
    rename_chat = _add(chat, "Re&name chat…", on["rename_chat"], "F2")
    delete_chat = _add(chat, "&Delete chat", on["delete_chat"], "Ctrl+Shift+Backspace")

    models = bar.addMenu("&Models")
    manage = _add(models, "&Manage models…", on["models"], "Ctrl+M")
    compare = _add(models, "&Compare models…", on["compare"])
    studio = _add(models, "Make &your own model…", on["studio"])
    offline = _add(models, "&Offline mode", on["offline"])
    offline.setCheckable(True)

    help_menu = bar.addMenu("&Help")
    shortcuts = _add(help_menu, "&Keyboard shortcuts", on["shortcuts"], "Ctrl+/")
    log_folder = _add(help_menu, "Open the &log folder", on["log_folder"])
    help_menu.addSeparator()
    about = _add(help_menu, "&About Huacaya", on["about"], role=QAction.MenuRole.AboutRole)

    return WindowActions(
        new_chat,
        import_chat,
        export_markdown,
        export_json,
        export_all,
        open_model,
        quit_action,
        find,
        copy_answer,
        settings,
        stop,
        regenerate,
        edit_last,
        presets,
        rename_chat,
        delete_chat,
        manage,
        compare,
        studio,
        offline,
        about,
        log_folder,
        shortcuts,
        editing,
    )


def build_toolbar(window: QMainWindow, picker: QWidget, actions: WindowActions) -> QToolBar:
    """The toolbar: the model picker at the right, with Models and Settings beside it."""
    bar = QToolBar("Main", window)
    bar.setObjectName("mainToolbar")
    bar.setMovable(False)
    spacer = QWidget(window)
    spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    bar.addWidget(spacer)
    bar.addWidget(QLabel("Model ", window))
    bar.addWidget(picker)
    bar.addAction(actions.models)
    bar.addAction(actions.settings)
    return bar
