"""Documents in the window, used as a person does: a new collection from a folder (with its
progress), tick it for the chat, ask, and click the citation to read the passage."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QLineEdit,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
)

from desktop.core.documents.embedder import Embedder
from desktop.ui.main_window import MainWindow
from tests.documents.conftest import QUESTION, REPO, use_converted_model
from tests.helpers import greedy_by_default
from tests.ui.conftest import ANSWER_MS, open_window, type_and_send
from tests.ui.opener import first_on_path, system_opener
from tests.ui.person import (
    action_in,
    choose,
    click,
    click_link,
    dialog_named,
    from_menu,
    open_menu,
    tick,
    type_into_dialog,
)

INDEX_MS = 120_000
FILES = 240


def pick_folder(qtbot, folder: Path) -> None:  # type: ignore[no-untyped-def]
    """In the open folder dialog, paste the folder's path and press Enter (pasted: typed key
    by key, the dialog's completer may turn a partial path into a quoted list of names)."""
    dialog = dialog_named(qtbot, "fileDialog")
    assert isinstance(dialog, QFileDialog)
    name = dialog.findChild(QLineEdit, "fileNameEdit")
    name.clear()
    QGuiApplication.clipboard().setText(f"{folder}/")
    qtbot.keyClick(name, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(name, Qt.Key.Key_Return)


def keep_built_in_model(qtbot) -> None:  # type: ignore[no-untyped-def]
    """The embedding model question: Enter keeps the built-in model, shown first."""
    dialog = dialog_named(qtbot, "embeddingModel")
    combo = dialog.findChild(QComboBox)
    assert combo.currentText() == "all-MiniLM-L6-v2"
    qtbot.keyClick(combo.lineEdit(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5_000)


def button(parent, text: str) -> QPushButton:  # type: ignore[no-untyped-def]
    return next(b for b in parent.findChildren(QPushButton) if b.text() == text)


def test_add_a_folder_ask_and_open_the_citation(
    qtbot, minilm: Embedder, corpus: Path, huacaya_home: Path, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    use_converted_model(minilm)
    greedy_by_default(huacaya_home, 16)
    window: MainWindow = open_window(qtbot)
    statuses: list[object] = []
    window.docs.indexer.status.connect(statuses.append)

    from_menu_item = open_menu(qtbot, window, "Documents")
    choose(qtbot, from_menu_item, "Collections…")
    dialog = dialog_named(qtbot, "documentsDialog")
    click(button(dialog, "New collection…"))
    type_into_dialog(qtbot, "collectionName", "farm")
    keep_built_in_model(qtbot)
    with qtbot.waitSignal(window.docs.indexer.finished, timeout=INDEX_MS) as finished:
        pick_folder(qtbot, corpus)
    report = finished.args[0]
    assert (report.collection, len(report.indexed), report.unreadable) == ("farm", 4, [])
    assert statuses and statuses[0].files_total == 4  # progress was shown file by file
    qtbot.waitUntil(lambda: "is up to date" in dialog.progress_label.text(), timeout=5_000)
    assert "chunks/s" in dialog.progress_label.text()
    assert dialog.collection_list.item(0).text().startswith("farm — 4 files")
    dialog.close()

    choose(qtbot, open_menu(qtbot, window, "Documents"), "farm")  # this chat uses it
    assert window.conversation.session.collections == ["farm"]
    assert window.docs.label.text() == "Documents: farm"
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_MS):
        type_and_send(qtbot, window, QUESTION)
    answer = window.conversation.session.last_answer()
    assert answer is not None
    first = answer.citations[0]
    assert (Path(first.path).name, first.page) == ("farm-handbook.pdf", 2)

    click_link(window.chat_view, f"source:{answer.key}:1")
    passage = dialog_named(qtbot, "passageDialog")
    assert passage.windowTitle() == "[1] farm-handbook.pdf, page 2"
    assert passage.text.toPlainText() == first.text
    assert "every November" in first.text
    # No application for PDFs here: Open file says so, with the path to copy
    monkeypatch.setenv("PATH", first_on_path(system_opener(tmp_path, exit_status=3)))
    click(passage.open_button)
    where = dialog_named(qtbot, "pathDialog")
    assert where.path.text() == first.path and "No application" in where.message.text()
    click(where.copy_button)
    assert QGuiApplication.clipboard().text() == first.path
    where.close()
    passage.close()

    click_link(window.chat_view, f"source:{answer.key}:0")
    given = dialog_named(qtbot, "passageDialog")
    assert given.windowTitle() == "What the model was given"
    assert given.text.toPlainText().startswith("[1] farm-handbook.pdf, page 2\n")
    given.close()

    # Nothing in the collection answers this: said plainly, the nearest passages still there
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_MS):
        type_and_send(qtbot, window, "How do I install Python packages with pip?")
    answer = window.conversation.session.last_answer()
    assert answer is not None and answer.content.startswith("I found nothing about this in “farm”")
    assert answer.citations
    click_link(window.chat_view, f"source:{answer.key}:0")
    nearest = dialog_named(qtbot, "passageDialog")
    assert nearest.windowTitle() == "The nearest passages"
    nearest.close()
    window.close()


def test_pause_resume_cancel_and_continue(
    qtbot, minilm: Embedder, huacaya_home: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    use_converted_model(minilm)
    folder = tmp_path / "many"
    folder.mkdir()
    # Enough that work is left after Resume: files are read quickly and embedded 32 at a time,
    # and a Cancel that comes during the last batch rightly ends in "finished".
    for i in range(FILES):
        (folder / f"n{i:03}.txt").write_text(f"Note {i} about a llama named number {i}. " * 6)
    window: MainWindow = open_window(qtbot)
    indexer = window.docs.indexer
    statuses: list[object] = []
    indexer.status.connect(statuses.append)
    qtbot.keyClick(
        window,
        Qt.Key.Key_D,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    dialog = dialog_named(qtbot, "documentsDialog")
    click(button(dialog, "New collection…"))
    type_into_dialog(qtbot, "collectionName", "many")
    keep_built_in_model(qtbot)
    pick_folder(qtbot, folder)
    qtbot.waitUntil(lambda: len(statuses) >= 3, timeout=INDEX_MS)

    click(button(dialog, "Pause"))
    assert button(dialog, "Resume").isVisible()
    qtbot.wait(300)  # the file being read is finished
    seen = len(statuses)
    qtbot.wait(1500)
    assert len(statuses) == seen, "indexing went on while paused"
    assert dialog.progress_label.text().endswith("paused")

    click(button(dialog, "Resume"))
    qtbot.waitUntil(lambda: len(statuses) > seen, timeout=INDEX_MS)
    with qtbot.waitSignal(indexer.cancelled, timeout=INDEX_MS):
        click(button(dialog, "Cancel"))
    assert "Stopped indexing “many”" in dialog.progress_label.text()
    kept = window.docs.documents.collection("many").files
    assert 0 < kept < FILES

    with qtbot.waitSignal(indexer.finished, timeout=INDEX_MS) as finished:
        click(button(dialog, "Reindex"))  # continues where it stopped
    assert (finished.args[0].unchanged, len(finished.args[0].indexed)) == (kept, FILES - kept)
    window.close()


def test_a_collection_with_a_model_from_the_hub(qtbot, hub, minilm: Embedder, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    """New collection → type a Hub model → Huacaya is offline: Yes → folder → the model is
    downloaded (shown) and the collection indexed with it. A name that is not a repository
    id, and a repository the Hub does not have, get a message first."""
    use_converted_model(minilm)
    window: MainWindow = open_window(qtbot)
    assert window.store.settings.offline  # as on first launch
    window.docs.documents.add("archive", [corpus])  # a collection from before
    indexer = window.docs.indexer
    preparing: list[tuple[str, float, bool]] = []
    indexer.preparing.connect(
        lambda message, fraction: preparing.append(
            (message, fraction, window.docs.dialog.pause_button.isEnabled())
        )
    )
    choose(qtbot, open_menu(qtbot, window, "Documents"), "Collections…")
    dialog = dialog_named(qtbot, "documentsDialog")

    click(button(dialog, "New collection…"))
    type_into_dialog(qtbot, "collectionName", "ranch")
    type_into_dialog(qtbot, "embeddingModel", "not a model!")
    error = dialog_named(qtbot, "errorDialog")
    assert "“not a model!” is not an embedding model Huacaya knows" in error.text()
    click(error.button(QMessageBox.StandardButton.Ok))

    # A repository that is not on the Hub: asked to go online, then told; nothing is made.
    click(button(dialog, "New collection…"))
    type_into_dialog(qtbot, "collectionName", "ranch")
    type_into_dialog(qtbot, "embeddingModel", "test-org/no-such-model")
    online = dialog_named(qtbot, "goOnlineDialog")
    assert "test-org/no-such-model" in online.text() and "offline" in online.text()
    click(online.button(QMessageBox.StandardButton.Yes))
    with qtbot.waitSignal(indexer.failed, timeout=INDEX_MS):
        pick_folder(qtbot, corpus)
    error = dialog_named(qtbot, "errorDialog")
    assert "“test-org/no-such-model” was not found" in error.text()
    click(error.button(QMessageBox.StandardButton.Ok))
    assert dialog.current_name() == "archive"
    assert [c.name for c in window.docs.documents.collections()] == ["archive"]

    click(button(dialog, "New collection…"))
    type_into_dialog(qtbot, "collectionName", "ranch")
    type_into_dialog(qtbot, "embeddingModel", REPO)  # online now: straight to the folder
    with qtbot.waitSignal(indexer.finished, timeout=INDEX_MS) as finished:
        pick_folder(qtbot, corpus)
    assert len(finished.args[0].indexed) == 4
    assert not window.store.settings.offline
    assert any(REPO in message for message, _, _ in preparing)  # the download was shown
    assert not any(pausable for _, _, pausable in preparing[1:])  # Cancel stops a download
    assert dialog.current_name() == "ranch"  # the new collection is the one shown
    assert f"Embedding model: {REPO}" in dialog.sources.text()
    assert window.docs.documents.collection("ranch").embedding_model == REPO
    window.close()


def test_closing_the_window_while_indexing_news_is_on_its_way(qtbot, minilm: Embedder) -> None:  # type: ignore[no-untyped-def]
    """The indexer's thread says "collections changed" just as the window closes: the news
    arrives after the index was closed and must be dropped (it crashed in the event loop)."""
    import threading

    use_converted_model(minilm)
    window: MainWindow = open_window(qtbot)
    window.docs.open_dialog()
    late = threading.Thread(target=window.docs.indexer.collections_changed.emit)
    late.start()
    late.join()  # queued for the window's thread, not delivered yet
    window.close()
    qtbot.wait(200)  # pytest-qt fails the test on an exception in the event loop
    assert window.docs.documents.closed


def test_reindex_asked_while_a_cancel_finishes_is_not_lost(qtbot) -> None:  # type: ignore[no-untyped-def]
    """Reindex clicked just after Cancel, before the indexer's thread has moved on: the
    collection still counts as current then, and the request used to be dropped as a double."""
    from desktop.ui.background.indexer_thread import DocumentIndexer

    indexer = DocumentIndexer()
    indexer.current = "many"  # its thread is between the cancelled run and the next
    indexer._thread = threading.current_thread()  # type: ignore[assignment]
    indexer.index("many")
    assert [name for name, _, _ in indexer._queue] == []  # running and not cancelled: a double
    indexer.cancel()
    indexer.index("many")
    assert [name for name, _, _ in indexer._queue] == ["many"]


def test_collections_are_ticked_in_their_window_as_in_the_menu_and_reindex_counts_every_unreadable(
    qtbot, minilm: Embedder, huacaya_home: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    use_converted_model(minilm)
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "llamas.txt").write_text("Llamas hum when they are curious or worried.")
    for name in ("scan.txt", "photo.txt"):
        (folder / name).write_bytes(b"\x00\x01\x02binary" * 20)
    window: MainWindow = open_window(qtbot)
    choose(qtbot, open_menu(qtbot, window, "Documents"), "Collections…")
    dialog = dialog_named(qtbot, "documentsDialog")
    click(button(dialog, "New collection…"))
    type_into_dialog(qtbot, "collectionName", "notes")
    keep_built_in_model(qtbot)
    with qtbot.waitSignal(window.docs.indexer.finished, timeout=INDEX_MS):
        pick_folder(qtbot, folder)
    qtbot.waitUntil(lambda: "is up to date" in dialog.progress_label.text(), timeout=5_000)
    assert dialog.unreadable.count() == 2
    assert "2 cannot be read" in dialog.collection_list.item(0).text()

    with qtbot.waitSignal(window.docs.indexer.finished, timeout=INDEX_MS):
        click(button(dialog, "Reindex"))  # nothing changed: nothing is read again…
    qtbot.waitUntil(lambda: "is up to date" in dialog.progress_label.text(), timeout=5_000)
    said = dialog.progress_label.text()
    assert said.endswith("3 unchanged, 0 removed, 2 cannot be read."), said  # …as listed
    assert dialog.unreadable.count() == 2

    def notes() -> QListWidgetItem:  # taken anew each time: the list is rebuilt whenever
        return dialog.collection_list.item(0)  # the indexer finishes, a late one included

    assert notes().checkState() == Qt.CheckState.Unchecked
    tick(dialog.collection_list, dialog.collection_list.indexFromItem(notes()))
    assert notes().checkState() == Qt.CheckState.Checked
    assert window.conversation.session.collections == ["notes"]
    assert window.docs.label.text() == "Documents: notes"
    menu = open_menu(qtbot, window, "Documents")
    assert action_in(menu, "notes").isChecked()  # the same tick in the menu
    choose(qtbot, menu, "notes")  # and unticked there…
    assert notes().checkState() == Qt.CheckState.Unchecked  # …is unticked here
    assert window.conversation.session.collections == []

    tick(dialog.collection_list, dialog.collection_list.indexFromItem(notes()))
    assert window.conversation.session.collections == ["notes"]
    from_menu(qtbot, window, "File", "New chat")  # a new chat starts with none
    assert notes().checkState() == Qt.CheckState.Unchecked
    window.close()
