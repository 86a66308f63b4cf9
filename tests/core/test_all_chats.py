"""Every chat out at once and back in: the all-chats JSON format, Markdown folders with safe
unique names, imports that are all or nothing and skip what is already here, and cancels that
leave nothing behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conversion.errors import Cancelled, HistoryError
from conversion.progress import CancelToken
from desktop.cli.main import main
from desktop.core.history import all_chats
from desktop.core.history.export import export_json
from desktop.core.history.file_names import LONGEST_STEM, LONGEST_STEM_BYTES, unique_names
from desktop.core.history.store import History, NewMessage, title_from

NON_ASCII = "Ünïcødé 中文 عربى 😀👩‍👩‍👧 \u200b"


def fill(history: History) -> list[int]:
    """Four chats: a long one (3,000 messages, non-ASCII), a renamed one, one with a system
    prompt and settings, and one deleted (still undoable)."""
    long = history.add_conversation(
        title=f"Long {NON_ASCII}",
        model="smol",
        system_prompt="",
        settings={},
        created_at=1_700_000_000.5,
        messages=[
            NewMessage("user" if n % 2 == 0 else "assistant", f"{n}: {NON_ASCII}", "smol")
            for n in range(3_000)
        ],
    )
    renamed = history.create(model="smol")
    history.add_message(renamed.id, "user", "Name a fruit.")
    history.add_message(renamed.id, "assistant", "Apple.", "smol", {"generated_tokens": 2})
    history.rename(renamed.id, "Fruit / veg: CON?")
    styled = history.create(system_prompt="Be brief.", settings={"generation": {"top_k": 5}})
    history.add_message(styled.id, "user", "Hi")
    gone = history.create()
    history.add_message(gone.id, "user", "Deleted, not yet purged")
    history.delete(gone.id)
    return [long.id, renamed.id, styled.id]


def contents(history: History) -> list[tuple]:  # type: ignore[type-arg]
    """What a person sees: the sidebar's chats in order, each with its messages."""
    return [
        (
            c.title,
            c.system_prompt,
            c.settings,
            c.created_at,
            [(m.role, m.content, m.model, m.stats) for m in history.messages(c.id)],
        )
        for c in history.list()
    ]


def test_all_chats_round_trip_in_sidebar_order_without_deleted_ones(tmp_path: Path) -> None:
    source = History(tmp_path / "a.sqlite3")
    fill(source)
    assert all_chats.export_all_json(source, tmp_path / "all.json") == 3
    data = json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))
    assert (data["format"], data["version"], data["count"]) == ("huacaya-conversations", 1, 3)
    # each chat is the single-chat export, unchanged (whatever that format carries comes along)
    by_title = {c["title"]: c for c in data["conversations"]}
    for chat in source.list():
        assert by_title[chat.title] == export_json(source, chat.id)
    assert "Deleted, not yet purged" not in (tmp_path / "all.json").read_text(encoding="utf-8")

    copy = History(tmp_path / "b.sqlite3")
    report = all_chats.import_chats(copy, tmp_path / "all.json")
    assert (len(report.imported), report.already_here) == (3, [])
    assert contents(copy) == contents(source)
    assert [c.updated_at for c in copy.list()] != []  # kept their place in time, not "now"
    assert report.summary == "3 chats imported."


def test_the_same_export_imported_twice_adds_nothing_the_second_time(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite3")
    fill(history)
    all_chats.export_all_json(history, tmp_path / "all.json")
    before = contents(history)
    report = all_chats.import_chats(history, tmp_path / "all.json")
    assert (report.imported, len(report.already_here)) == ([], 3)
    assert report.summary == "0 chats imported, 3 already here."
    assert contents(history) == before

    # a chat that went on after the export is different: it comes in beside the original
    chat = history.list()[-1]
    history.add_message(chat.id, "user", "One more question")
    all_chats.export_all_json(history, tmp_path / "later.json")
    fresh = History(tmp_path / "fresh.sqlite3")
    all_chats.import_chats(fresh, tmp_path / "all.json")
    report = all_chats.import_chats(fresh, tmp_path / "later.json")
    assert (len(report.imported), len(report.already_here)) == (1, 2)

    # a single-chat export, and one written by hand without times, are not duplicated either
    single = tmp_path / "single.json"
    single.write_text(json.dumps(export_json(history, chat.id)), encoding="utf-8")
    report = all_chats.import_chats(fresh, single)
    assert report.already_here == [fresh.list()[0].id]
    assert report.summary == f"“{title_from(chat.title, 60)}” is already here."
    hand = {"format": "huacaya-conversation", "messages": [{"role": "user", "content": "hey"}]}
    single.write_text(json.dumps(hand), encoding="utf-8")
    assert all_chats.import_chats(fresh, single).summary == "Imported “hey”."
    assert len(all_chats.import_chats(fresh, single).already_here) == 1


def test_one_bad_chat_refuses_the_file_naming_it_and_nothing_is_imported(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite3")
    fill(history)
    all_chats.export_all_json(history, tmp_path / "all.json")
    data = json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))
    data["conversations"][2]["messages"][0]["created_at"] = "yesterday"
    (tmp_path / "bad.json").write_text(json.dumps(data), encoding="utf-8")
    target = History(tmp_path / "t.sqlite3")
    with pytest.raises(HistoryError) as refused:
        all_chats.import_chats(target, tmp_path / "bad.json")
    title = data["conversations"][2]["title"]
    assert f"Chat 3 of 3 (“{title}”)" in refused.value.message
    assert "messages[0].created_at" in refused.value.message
    assert "\n" not in str(refused.value) and target.list() == []

    text = (tmp_path / "all.json").read_text(encoding="utf-8").splitlines()
    text[8] = text[8].replace('"role": "user", ', '"role": "user" ', 1)  # the second chat's
    (tmp_path / "cut.json").write_text("\n".join(text), encoding="utf-8")
    with pytest.raises(HistoryError, match=r"cannot be read as JSON: .*line 9"):
        all_chats.import_chats(target, tmp_path / "cut.json")
    data["version"] = 2
    (tmp_path / "new.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(HistoryError, match="newer Huacaya"):
        all_chats.import_chats(target, tmp_path / "new.json")
    assert target.list() == []


def test_an_import_stopped_while_saving_leaves_no_chat(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite3")
    fill(history)
    all_chats.export_all_json(history, tmp_path / "all.json")
    target = History(tmp_path / "t.sqlite3")
    token = CancelToken()

    def progress(fraction: float, message: str = "") -> None:
        if message.startswith("Saving chat 3"):  # two chats are in the open transaction
            token.cancel()

    with pytest.raises(Cancelled):
        all_chats.import_chats(target, tmp_path / "all.json", progress, token)
    assert target.list() == []


def test_a_cancelled_export_leaves_no_file_and_no_partial_one(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite3")
    fill(history)
    out = tmp_path / "out"
    out.mkdir()
    (out / "all.json").write_text("the previous export", encoding="utf-8")
    for export in (
        lambda p, c: all_chats.export_all_json(history, out / "all.json", p, c),
        lambda p, c: all_chats.export_all_markdown(history, out / "md", progress=p, cancel=c),
    ):
        token = CancelToken()
        after_cancel: list[float] = []

        def progress(
            fraction: float,
            message: str = "",
            token: CancelToken = token,
            after: list[float] = after_cancel,
        ) -> None:
            if token.cancelled:
                after.append(fraction)
            if fraction > 0:  # the second of three chats
                token.cancel()

        with pytest.raises(Cancelled):
            export(progress, token)
        assert after_cancel == []  # it stopped at once, not after every chat
        assert sorted(os.listdir(out)) == ["all.json"]
    assert (out / "all.json").read_text(encoding="utf-8") == "the previous export"


def test_markdown_folder_has_one_safe_file_per_chat_and_an_index(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite3")
    titles = ["a/b", "a/b", "A\\B", "CON", "nul.txt", "😀 party", "x" * 5_000, "", "index", ". ."]
    for title in titles:
        chat = history.create(title=title)
        history.add_message(chat.id, "user", f"About {title[:20] or 'nothing'}")
    folder = tmp_path / "chats"
    assert all_chats.export_all_markdown(history, folder) == len(titles)
    names = sorted(os.listdir(folder))
    assert len(names) == len(titles) + 1 and "index.md" in names
    assert len({n.casefold() for n in names}) == len(names)  # unique, even ignoring case
    # newest first: the newest "a/b" gets the plain name
    assert {"A B.md", "a b (2).md", "a b (3).md", "CON chat.md", "😀 party.md"} <= set(names)
    index = (folder / "index.md").read_text(encoding="utf-8")
    assert index.count("\n- [") == len(titles)
    assert "[a/b](a%20b%20%282%29.md)" in index and "[A\\\\B](A%20B.md)" in index
    chat_file = folder / "😀 party.md"
    assert chat_file.read_text(encoding="utf-8").startswith("# 😀 party")

    with pytest.raises(HistoryError, match="not empty"):  # never into a folder with files…
        all_chats.export_all_markdown(history, folder)
    (folder / "mine.txt").write_text("my own notes", encoding="utf-8")
    history.rename(history.list()[0].id, "Renamed")
    all_chats.export_all_markdown(history, folder, replace_files=True)  # …unless agreed
    assert (folder / "mine.txt").read_text(encoding="utf-8") == "my own notes"
    assert "[Renamed]" in (folder / "index.md").read_text(encoding="utf-8")
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no partial folder left


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("notes: 1/2", "notes 1 2.md"),
        ("  ..hidden  ", "hidden.md"),
        ("trailing dots...", "trailing dots.md"),
        ("aux", "aux chat.md"),
        ("Com1.report", "Com1.report chat.md"),
        ("LPT¹", "LPT¹ chat.md"),
        ("tab\tand\nnewline", "tab and newline.md"),
        ("evil\u202egpj.md", "evil gpj.md.md"),
        ("", "Conversation.md"),
        ("???", "Conversation.md"),
    ],
)
def test_file_names_are_safe_everywhere(title: str, expected: str) -> None:
    assert unique_names([title]) == [expected]


def test_file_names_are_short_unique_and_never_split_a_character() -> None:
    names = unique_names(["é" * 500, "é" * 500, "👩‍👩‍👧" * 100, "Index"], taken=["index.md"])
    assert names[1] == names[0][:-3] + " (2).md"
    assert names[3] == "Index (2).md"
    assert names[0] == "é" * LONGEST_STEM + ".md"
    for name in names:
        assert len(name.encode("utf-8")) <= LONGEST_STEM_BYTES + len(" (2).md")
        name.encode("utf-8")  # whole characters only
        assert not name[:-3].endswith("\u200d")


def test_the_terminal_exports_every_chat_and_imports_it_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = History()  # the data folder's, as `huacaya chats` sees it
    fill(history)
    before = contents(history)
    history.close()
    out = tmp_path / "all.json"
    assert main(["chats", "export", "--all", str(out)]) == 0
    assert capsys.readouterr().out == f"Exported 3 chats to {out}.\n"
    assert main(["chats", "export", str(out)]) == 1  # never replaced without --force
    assert main(["chats", "import", str(out)]) == 0
    assert capsys.readouterr().out.endswith("0 chats imported, 3 already here.\n")
    assert main(["chats", "export", "--markdown", str(tmp_path / "md")]) == 0
    assert len(os.listdir(tmp_path / "md")) == 4
    data = json.loads(out.read_text(encoding="utf-8"))
    data["conversations"][0]["messages"] = "none"
    out.write_text(json.dumps(data), encoding="utf-8")
    assert main(["chats", "import", str(out)]) == 1
    assert "Chat 1 of 3" in capsys.readouterr().err
    assert contents(History()) == before


def test_answer_versions_travel_with_every_chat_and_count_for_duplicates(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite3")
    chat = history.create()
    question = history.add_message(chat.id, "user", "Name a colour.")
    first = history.add_message(chat.id, "assistant", "Red.")
    history.add_version(chat.id, first.id, [NewMessage("assistant", "Blue.")])  # Regenerate
    history.add_version(
        chat.id,
        question.id,
        [NewMessage("user", "Name a fruit."), NewMessage("assistant", "Pear.")],
    )  # Edit
    all_chats.export_all_json(history, tmp_path / "all.json")
    (exported,) = json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))["conversations"]
    assert exported == export_json(history, chat.id)
    assert exported["messages"][0]["other_versions"]  # the earlier question, and its answers

    copy = History(tmp_path / "copy.sqlite3")
    (new_id,) = all_chats.import_chats(copy, tmp_path / "all.json").imported
    assert export_json(copy, new_id) == exported  # every version, and which one is shown
    assert all_chats.import_chats(copy, tmp_path / "all.json").already_here == [new_id]

    # the same shown messages but without the earlier versions: another chat, imported
    exported["messages"] = [
        {k: v for k, v in m.items() if k not in ("version", "other_versions")}
        for m in exported["messages"]
    ]
    (tmp_path / "shown.json").write_text(json.dumps(exported), encoding="utf-8")
    assert len(all_chats.import_chats(copy, tmp_path / "shown.json").imported) == 1
