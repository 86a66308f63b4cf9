"""Instruction data for training: Alpaca JSON/JSONL/CSV/Parquet on disk, or a Hub dataset id.

Every record is checked before anything is trained or written: ``instruction`` and ``output``
must be non-empty strings, ``input`` a string (a missing ``input`` means none, as in many Alpaca
derivatives). A file with bad records is refused with the record numbers and what is wrong.
Stanford's seed-task format (``instruction`` + ``instances`` of input/output) is read as it is,
one record per instance. A CSV file has a header row naming its ``instruction``, ``output`` and
(optionally) ``input`` columns. This module needs neither torch nor transformers.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conversion.errors import NotARegularFileError, TrainingDataError
from conversion.input_files import (
    json_lines,
    lone_surrogate,
    parse_json,
    read_regular,
)

DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet")
MAX_DATA_BYTES = 4 * 1024**3  # a JSON dataset read whole; Alpaca's 52,002 records are 22 MB
MAX_PROBLEMS_SHOWN = 10
CSV_HINT = (
    'A CSV file needs a header row naming its "instruction" and "output" columns, and '
    'optionally "input"; other columns are left out.'
)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class Record:
    instruction: str
    input: str
    output: str


@dataclass
class TrainingData:
    records: list[Record]
    source: str  # what the user gave: a path or a Hub id
    files: list[str] = field(default_factory=list)  # the files read (names, in order)
    sha256: str = ""  # of the bytes of those files, in order
    revision: str = ""  # the Hub commit, for Hub datasets


def looks_like_hub_id(text: str) -> bool:
    """A Hub dataset id (``tatsu-lab/alpaca``), not a path: nothing of that name on disk, no
    data file's suffix, and its first part is not a folder here (``data/alpca.json`` is a
    misspelled file, never sent to the Hub as a dataset id)."""
    if not _HUB_ID.match(text) or Path(text).expanduser().exists():
        return False
    return not text.lower().endswith(DATA_SUFFIXES) and not Path(text.split("/")[0]).is_dir()


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _missing(source: str) -> TrainingDataError:
    """“does not exist”, with the names of what is there when the folder exists."""
    path = Path(source).expanduser()
    hint = (
        "Give an Alpaca JSON/JSONL/CSV file, a folder of them, or a Hub dataset id such as "
        "tatsu-lab/alpaca."
    )
    if path.parent.is_dir() and str(path.parent) not in ("", "."):
        names = sorted(p.name for p in path.parent.iterdir() if not p.name.startswith("."))
        close = difflib.get_close_matches(path.name, names, n=3)
        if close:
            hint = f"Did you mean {' or '.join(str(path.parent / c) for c in close)}?"
    return TrainingDataError(f"“{source}” does not exist.", hint)


def load_training_data(
    source: str, limit: int = 0, cache_dir: Path | None = None, revision: str | None = None
) -> TrainingData:
    """Read and validate ``source`` (a file, a folder of data files, or a Hub dataset id).

    ``limit`` keeps the first N records (0: all). Raises :class:`TrainingDataError`.
    """
    revision_used = ""
    if looks_like_hub_id(source):
        if _hub_offline():
            raise TrainingDataError(
                f"“{source}” is not a file or folder here, and offline mode is on "
                "(HF_HUB_OFFLINE), so it was not looked up on the Hub as a dataset.",
                "Check the path, or turn offline mode off to download a Hub dataset.",
            )
        folder, revision_used = _download_dataset(source, cache_dir, revision)
        files = _data_files(folder, source)
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise _missing(source)
        files = _data_files(path, source) if path.is_dir() else [path]
    digest = hashlib.sha256()
    records: list[Record] = []
    problems: list[str] = []
    for file in files:
        try:  # a regular file only: a named pipe would wait forever, /dev/zero never end
            raw = read_regular(file, MAX_DATA_BYTES)
        except NotARegularFileError as exc:
            raise TrainingDataError(exc.message) from None
        except OSError as exc:
            raise TrainingDataError(f"Could not read “{file}”: {exc.strerror}.") from exc
        if raw is None:
            raise TrainingDataError(
                f"“{file.name}” is larger than {MAX_DATA_BYTES / 2**30:.0f} GB.",
                "Split it into several files in one folder.",
            )
        digest.update(raw)
        prefix = f"{file.name} " if len(files) > 1 else ""
        for number, item in _raw_records(file, raw):
            _collect(item, f"{prefix}record {number}", records, problems)
    if problems:
        shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        raise TrainingDataError(
            f"{source} has {len(problems)} bad record{'s' * (len(problems) != 1)}: {shown}"
            + (f"; and {more} more." if more > 0 else ".")
        )
    if not records:
        raise TrainingDataError(f"{source} holds no records.", "Give a file with examples.")
    if limit:
        records = records[:limit]
    return TrainingData(records, source, [f.name for f in files], digest.hexdigest(), revision_used)


def _collect(item: Any, where: str, records: list[Record], problems: list[str]) -> None:
    if not isinstance(item, dict):
        problems.append(f"{where} is {_kind(item)}, not an object")
        return
    if "instances" in item and "output" not in item:  # Stanford's seed tasks
        instances = item["instances"]
        if not isinstance(instances, list) or not instances:
            problems.append(f"{where}: instances should be a non-empty list")
            return
        for index, instance in enumerate(instances, 1):
            if not isinstance(instance, dict):
                problems.append(f"{where} instance {index} is {_kind(instance)}, not an object")
                continue
            merged = {"instruction": item.get("instruction"), **instance}
            label = where if len(instances) == 1 else f"{where} instance {index}"
            _collect(merged, label, records, problems)
        return
    wrong = []
    for key, required in (("instruction", True), ("input", False), ("output", True)):
        value = item.get(key, None if required else "")
        if value is None and not required:
            value = ""
        if not isinstance(value, str):
            wrong.append(f"{key} is missing" if value is None else f"{key} is {_kind(value)}")
        elif required and not value.strip():
            wrong.append(f"{key} is empty")
    if wrong:
        problems.append(f"{where}: {', '.join(wrong)}")
        return
    for key in ("instruction", "input", "output"):
        if lone_surrogate(item.get(key) or "") is not None:
            wrong.append(f"{key} holds a lone surrogate (an unpaired \\ud800–\\udfff escape)")
    if wrong:  # not text: it would fail once tokenized, after --out was made
        problems.append(f"{where}: {', '.join(wrong)}")
        return
    records.append(Record(item["instruction"], item.get("input") or "", item["output"]))


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", int: "a number", float: "a number"}
    names.update({bool: "true/false", str: "a string", type(None): "null"})
    return names.get(type(value), type(value).__name__)


def _raw_records(file: Path, raw: bytes) -> list[tuple[int, Any]]:
    """(record number, decoded record) pairs; numbers are JSONL lines or 1-based positions."""
    suffix = file.suffix.lower()
    if suffix == ".parquet":
        return _parquet_records(file)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TrainingDataError(
            f"“{file.name}” is not UTF-8 text ({exc.reason} at byte {exc.start}).",
            "Save it again as UTF-8 (a text editor's Save as… offers the encoding), or give "
            "the file itself rather than a document or archive holding it.",
        ) from exc
    stripped = text.lstrip()
    if not stripped:  # no records (one empty file alone: "holds no records", said below)
        return []
    if suffix == ".csv":
        return _csv_records(file, text)
    if suffix == ".json" or (suffix != ".jsonl" and stripped.startswith("[")):
        try:
            data = parse_json(text)
        except ValueError as exc:
            raise TrainingDataError(f"“{file.name}” cannot be read: {exc}.") from None
        if isinstance(data, dict):  # {"train": [...]} or {"data": [...]}
            lists = [v for v in data.values() if isinstance(v, list)]
            data = lists[0] if len(lists) == 1 else [data]
        if not isinstance(data, list):
            raise TrainingDataError(f"“{file.name}” should hold a list of records.")
        return list(enumerate(data, 1))
    found: list[tuple[int, Any]] = []
    bad_lines: list[str] = []
    for number, line in json_lines(text):  # U+2028 may stand in a record as it is
        if not line.strip():
            continue
        try:
            found.append((number, parse_json(line)))
        except ValueError as exc:
            bad_lines.append(f"record {number} {str(exc).removeprefix('it ')}")
    if bad_lines:
        shown = "; ".join(bad_lines[:MAX_PROBLEMS_SHOWN])
        raise TrainingDataError(f"“{file.name}” has {len(bad_lines)} unreadable lines: {shown}.")
    return found


def _csv_records(file: Path, text: str) -> list[tuple[int, Any]]:
    """The rows of a CSV file with a header, as records (numbered from the first data row)."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # an answer may be long (default: 128 KB)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        columns = [str(c).strip() for c in reader.fieldnames or []]
        missing = [c for c in ("instruction", "output") if c not in columns]
        if missing:
            raise TrainingDataError(
                f"“{file.name}” has no {' and no '.join(f'“{c}”' for c in missing)} column "
                f"(its header: {', '.join(columns) or 'none'}).",
                CSV_HINT,
            )
        reader.fieldnames = columns
        keep = ("instruction", "input", "output")
        return [
            (number, {k: v for k, v in row.items() if k in keep and v is not None})
            for number, row in enumerate(reader, 1)
        ]
    except csv.Error as exc:
        raise TrainingDataError(
            f"“{file.name}” is not a readable CSV file (line {reader.line_num}: {exc}).", CSV_HINT
        ) from None


def _parquet_records(file: Path) -> list[tuple[int, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        how = "Install the train extra: pip install 'huacaya[train]'."
        if getattr(sys, "frozen", False):  # the installed app leaves pyarrow out (160 MB)
            how = (
                "This installed app reads JSON, JSON Lines and CSV: save the file as one of "
                "those (pandas: df.to_json(path, orient='records', lines=True)), or install "
                "Huacaya with pip (pip install 'huacaya[train]')."
            )
        raise TrainingDataError(f"Reading “{file.name}” needs pyarrow.", how) from exc
    try:
        rows = pq.read_table(file).to_pylist()
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise TrainingDataError(f"“{file.name}” is not a readable Parquet file: {exc}.") from exc
    return list(enumerate(rows, 1))


def _data_files(folder: Path, source: str) -> list[Path]:
    """The training files of a dataset folder: the train split when the files name one."""
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in DATA_SUFFIXES and not p.name.startswith(".")
    )
    train = [p for p in files if "train" in p.relative_to(folder).as_posix().lower()]
    chosen = train or files
    if not chosen:
        raise TrainingDataError(
            f"{source} has no data files ({', '.join(DATA_SUFFIXES)}).",
            "Give a dataset with Alpaca records in JSON, JSONL, CSV or Parquet files.",
        )
    return chosen


def _download_dataset(
    repo_id: str, cache_dir: Path | None, revision: str | None
) -> tuple[Path, str]:
    """Fetch the data files of a Hub dataset (resumable, cached) with huggingface-hub."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    patterns = [f"*{suffix}" for suffix in DATA_SUFFIXES]
    endpoint = os.environ.get("HF_ENDPOINT") or None  # read now, as the app's Hub client does
    try:
        info = HfApi(endpoint=endpoint).dataset_info(repo_id, revision=revision)
        folder = snapshot_download(
            repo_id,
            repo_type="dataset",
            revision=info.sha,
            allow_patterns=patterns,
            cache_dir=cache_dir,
            endpoint=endpoint,
        )
    except GatedRepoError as exc:
        raise TrainingDataError(
            f"The dataset {repo_id} is gated.",
            "Accept its terms on the Hub and store a token (huacaya models token).",
        ) from exc
    except RepositoryNotFoundError as exc:
        raise TrainingDataError(
            f"There is no dataset {repo_id} on the Hub (or it is private).",
            "Check the id, e.g. tatsu-lab/alpaca, or give a file on disk.",
        ) from exc
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        raise TrainingDataError(
            f"Could not download the dataset {repo_id}: {exc}.",
            "Check the network connection, or download the data file and give its path.",
        ) from exc
    return Path(folder), info.sha or ""
