"""Documents Q&A as a user meets it: the real embedding model, the starter model, real files,
the `huacaya` command; and a kill -9 in the middle of indexing."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from desktop.cli.main import main
from desktop.core import paths
from desktop.core.chat.answer import run_answer
from desktop.core.chat.engine import ChatEngine
from desktop.core.chat.session import ChatSession
from desktop.core.documents.context import budget_for
from desktop.core.documents.embedder import Embedder
from desktop.core.documents.library import Documents
from desktop.core.history.store import History
from desktop.core.settings import GenerationSettings
from tests.documents.conftest import QUESTION, use_converted_model

ROOT = Path(__file__).resolve().parents[2]
FILES = 80


@pytest.fixture
def documents(minilm: Embedder, huacaya_home: Path) -> Documents:
    docs = Documents(embedder=minilm)
    yield docs
    docs.close()


def test_the_answer_cites_the_right_file_and_page(
    documents: Documents, corpus: Path, engine: ChatEngine
) -> None:
    documents.add("farm", [corpus])
    report = documents.index("farm")
    assert len(report.indexed) == 4 and not report.unreadable

    history = History()
    session = ChatSession(history, lambda model: GenerationSettings(temperature=0.0, max_tokens=24))
    budget = budget_for(engine.info.parameter_count, engine.info.context_length, 24)
    session.find_passages = lambda q, names: documents.passages(q, names, budget)
    session.configure(collections=["farm"])
    request = session.ask(QUESTION)
    answer = run_answer(session, engine, request)

    first = answer.citations[0]
    assert (Path(first.path).name, first.page) == ("farm-handbook.pdf", 2)
    assert "every November" in first.text
    given = request.messages[-1]["content"]
    assert given.endswith(f"Question: {QUESTION}")
    assert f"[1] farm-handbook.pdf, page 2:\n{first.text}" in given  # what the model saw
    assert session.messages[-2].content == QUESTION  # the saved question stays the question

    reopened = ChatSession(history)
    reopened.open(session.conversation_id)
    assert reopened.collections == ["farm"]
    assert reopened.messages[-1].citations == answer.citations
    history.close()


def test_a_missing_collection_gives_the_question_back(documents: Documents) -> None:
    history = History()
    session = ChatSession(history)
    budget = budget_for(0, 2048, 256)
    session.find_passages = lambda q, names: documents.passages(q, names, budget)
    session.configure(collections=["nowhere"])
    with pytest.raises(Exception, match="no collection named"):
        session.ask("Anything?")
    assert session.messages == [] and history.list() == []
    history.close()


def test_the_docs_command(
    minilm: Embedder, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_converted_model(minilm)
    assert main(["docs", "add", "farm", str(corpus)]) == 0
    assert "4 files indexed" in capsys.readouterr().out
    assert main(["docs", "search", "farm", "Poroy station train", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{corpus / 'travel.html'}\t-\t")
    assert main(["docs", "search", "farm", "when is the fleece shorn", "-n", "1"]) == 0
    assert capsys.readouterr().out.startswith(f"{corpus / 'farm-handbook.pdf'}\t2\t")
    assert main(["docs", "list"]) == 0
    assert capsys.readouterr().out.startswith("farm\t4 files\t")
    assert main(["docs", "reindex", "farm"]) == 0
    assert "0 files indexed" in capsys.readouterr().out
    assert main(["docs", "rm", "farm"]) == 0
    capsys.readouterr()
    assert main(["docs", "search", "farm", "x"]) == 1
    assert "no collection named “farm”" in capsys.readouterr().err


def test_kill_9_while_indexing_then_continue(
    minilm: Embedder, huacaya_home: Path, tmp_path: Path
) -> None:
    use_converted_model(minilm)
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(FILES):
        (folder / f"note{i:02}.txt").write_text(f"Note {i}: the quick brown fox number {i}. " * 8)
    env = {**os.environ, "HUACAYA_HOME": str(huacaya_home)}
    command = [sys.executable, "-m", "desktop", "docs", "add", "many", str(folder)]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    database = paths.data_dir() / "documents.sqlite3"
    deadline = time.monotonic() + 120
    done = 0
    while done < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
        try:
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
                done = db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        except sqlite3.OperationalError:
            continue  # not created yet
    assert process.poll() is None, f"indexing ended before it could be killed ({done} files)"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    docs = Documents(embedder=minilm)
    try:
        assert docs.store.integrity_ok()
        assert docs.store.db.execute("PRAGMA foreign_key_check").fetchall() == []
        kept = docs.collection("many").files
        assert 3 <= kept < FILES
        report = docs.index("many")
        assert (len(report.indexed), report.unchanged) == (FILES - kept, kept)
        collection = docs.collection("many")
        assert (collection.files, collection.chunks) == (FILES, FILES)  # nothing twice
        (fts_rows,) = docs.store.db.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()
        assert fts_rows == FILES
    finally:
        docs.close()


def test_hybrid_finds_an_exact_code_and_a_paraphrase(documents: Documents, tmp_path: Path) -> None:
    folder = tmp_path / "doors"
    folder.mkdir()
    codes = ["KQ7731", "TR2208", "MX5590", "BZ1164", "LP8842", "VN3307"]
    for i, code in enumerate(codes):
        (folder / f"door{i}.txt").write_text(f"The access code for storeroom door {i} is {code}.")
    (folder / "coffee.txt").write_text("Brew the coffee with water just below boiling.")
    documents.add("doors", [folder])
    documents.index("doors")
    exact = documents.search(["doors"], "Which storeroom door opens with MX5590?", 1)
    assert Path(exact[0].chunk.path).name == "door2.txt"
    assert exact[0].fts_rank == 1  # the full-text half ranks the exact code first
    paraphrase = documents.search(["doors"], "what temperature for brewing a hot beverage", 1)
    assert Path(paraphrase[0].chunk.path).name == "coffee.txt"  # no word in common
    assert not documents.search(["doors"], "hot beverage", 1, "fts")  # full text alone misses it


def test_copies_side_by_side_give_each_text_its_own_vector(minilm: Embedder) -> None:
    """The copies take texts longest first; each vector must still land on its own row."""
    texts = [f"Note {i}: the alpaca herd ate " + "grass and hay, " * (i * 7 % 23) for i in range(9)]
    two = Embedder(minilm.path, max_tokens=minilm.max_tokens, threads=2)
    try:
        together = two.embed(texts)
    finally:
        two.close()
    alone = np.vstack([minilm.embed([t]) for t in texts])
    assert (together * alone).sum(-1).min() > 0.9999
    assert (together[0] * together[5]).sum() < 0.99  # and they differ from text to text
