"""kill -9 at chosen moments of each write path, then a next start, judged the same way by the
tests (a few tries) and ``benchmarks/kill9.py`` (many): tries / clean / crashes / hangs /
leftovers / orphans / corrupt.

- convert: ``huacaya-convert SRC -o OUT --outtype q4_k_m`` (conversion, then the quantizer in
  its own process); the next start is the same command, run to its end.
- import: ``huacaya models import SRC --quant q4_k_m`` (a job: convert, quantize, verify,
  register); the next start is ``huacaya models jobs`` (which must show it interrupted), then
  the same import again, which resumes it.
- window: the window's job process (``run_in_child``, as ``JobProcess`` starts it) with the
  window killed; its job process and quantizer must die with it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from benchmarks.killing import Killed, command, file_growing, leftovers, run, run_and_kill
from conversion.errors import HuacayaError
from conversion.gguf_file import read_gguf_info


@dataclass
class Tally:
    tries: int = 0
    clean: int = 0
    crashes: int = 0  # a traceback or an abort in the output
    hangs: int = 0  # the moment never came or a next start timed out
    leftovers: int = 0  # temporary files still there after the next start
    orphans: int = 0  # processes that outlived the killed one
    corrupt: int = 0  # a file under a real name that is not a complete GGUF
    problems: list[str] = field(default_factory=list)

    def add(self, problems: dict[str, list[str]]) -> None:
        self.tries += 1
        for kind, found in problems.items():
            if found:
                setattr(self, kind, getattr(self, kind) + 1)
                self.problems.append(f"{kind}: {found}")
        if not any(problems.values()):
            self.clean += 1

    def __str__(self) -> str:
        return (
            f"{self.tries} tries / {self.clean} clean / {self.crashes} crashes / "
            f"{self.hangs} hangs / {self.leftovers} leftovers / {self.orphans} orphans / "
            f"{self.corrupt} corrupt"
        )


def _crashed(text: str) -> list[str]:
    return [line for line in text.splitlines() if "Traceback" in line or "Aborted" in line]


def _corrupt(paths: list[Path]) -> list[str]:
    bad = []
    for path in paths:
        try:
            read_gguf_info(path)
        except HuacayaError as exc:
            bad.append(f"{path.name}: {exc.message}")
    return bad


def _env(home: Path) -> dict[str, str]:
    return {"HUACAYA_HOME": str(home)}


def _job_at(step: str, home: Path) -> Callable[[psutil.Process], bool]:
    """A moment: the job has reached ``step`` (its job.json says so)."""

    def moment(process: psutil.Process) -> bool:
        for file in (home / "data" / "jobs").glob("*/job.json"):
            try:
                if json.loads(file.read_text(encoding="utf-8")).get("step") == step:
                    return True
            except (OSError, ValueError):
                continue
        return False

    return moment


CONVERT_MOMENTS = {
    "converting": lambda out: file_growing(".model-f16.gguf.*.partial", out, 8 << 20),
    "quantizing": lambda out: file_growing(".m.gguf.*.partial", out, 1 << 20),
}


def convert_try(source: Path, out: Path, when: str, tally: Tally) -> Killed:
    """Kill huacaya-convert while ``when`` (replacing an earlier output: it must stay whole);
    start it again; judge."""
    args = command(
        "huacaya-convert", str(source), "-o", str(out / "m.gguf"), "--outtype", "q4_k_m", "--force"
    )
    killed = run_and_kill(args, CONVERT_MOMENTS[when](out), when)
    real = list(out.rglob("*.gguf"))
    problems = {
        "hangs": [] if killed.reached else [f"{when} never came"],
        "orphans": killed.orphans,
        "crashes": _crashed(killed.output),
        "corrupt": _corrupt(real),
    }
    again = run(args, timeout=300)
    problems["crashes"] += _crashed(again.stderr) + (
        [] if again.returncode == 0 else [again.stderr[-300:]]
    )
    problems["leftovers"] = leftovers(out)
    problems["corrupt"] += _corrupt([out / "m.gguf"])
    tally.add(problems)
    return killed


IMPORT_MOMENTS = {
    "converting": lambda home: file_growing(".model-f16.gguf.*.partial", home, 8 << 20),
    "quantizing": lambda home: file_growing(".model-q4_k_m.gguf.*.partial", home, 1 << 20),
    "verifying": lambda home: _job_at("verify", home),
}


def import_try(source: Path, home: Path, when: str, tally: Tally) -> Killed:
    """Kill ``huacaya models import`` while ``when``; list the jobs; import again; judge."""
    env = _env(home)
    args = command("huacaya", "models", "import", str(source), "--quant", "q4_k_m", "--name", "K")
    killed = run_and_kill(args, IMPORT_MOMENTS[when](home), when, env=env)
    jobs_folder = home / "data" / "jobs"
    real = [p for p in jobs_folder.rglob("*.gguf") if not p.name.startswith(".")]
    problems = {
        "hangs": [] if killed.reached else [f"{when} never came"],
        "orphans": killed.orphans,
        "crashes": _crashed(killed.output),
        "corrupt": _corrupt(real),
    }
    listed = run(command("huacaya", "models", "jobs"), env=env)
    if killed.exit_code is None and "interrupted" not in listed.stdout:
        problems["crashes"].append(f"not shown as interrupted: {listed.stdout}")
    problems["leftovers"] = leftovers(home)  # the next start has removed them
    again = run(args, env=env, timeout=300)
    problems["crashes"] += _crashed(again.stderr) + (
        [] if again.returncode == 0 else [again.stderr[-300:]]
    )
    if killed.exit_code is None and "resuming the interrupted job" not in again.stderr:
        problems["crashes"].append("the interrupted job was not resumed")
    problems["leftovers"] += leftovers(home) + [p.name for p in jobs_folder.iterdir()]
    models = home / "data" / "models"
    problems["corrupt"] += _corrupt(sorted(models.glob("*/*.gguf")))
    tally.add(problems)
    removed = run(command("huacaya", "models", "rm", "k"), env=env)  # ready for the next try
    assert removed.returncode == 0, removed.stderr
    return killed


WINDOW = """
import multiprocessing, os, sys
from desktop.core.jobs.store import JobSpec, JobStore
from desktop.core.jobs.runner import run_in_child
if __name__ == "__main__":
    store = JobStore()
    job = store.create(JobSpec("import", sys.argv[1], "W", "q4_k_m"))
    context = multiprocessing.get_context("spawn")
    messages, stop = context.Queue(), context.Event()
    child = context.Process(
        target=run_in_child,
        args=(job.id, None, True, os.environ["HUACAYA_HOME"], "", messages, stop, os.getpid()),
    )
    child.start()
    while True:
        print(messages.get(), flush=True)
"""


def window_try(source: Path, home: Path, tally: Tally) -> Killed:
    """Kill a stand-in for the window while its job process quantizes; the job process and the
    quantizer must die with it, and the job be shown as interrupted."""
    env = _env(home)
    killed = run_and_kill(
        [sys.executable, "-c", WINDOW, str(source)],
        IMPORT_MOMENTS["quantizing"](home),
        "quantizing",
        env=env,
    )
    listed = run(command("huacaya", "models", "jobs"), env=env)
    problems = {
        "hangs": [] if killed.reached else ["quantizing never came"],
        "orphans": killed.orphans,
        "crashes": _crashed(killed.output),
        "corrupt": [],
        "leftovers": leftovers(home),
    }
    if "interrupted" not in listed.stdout:
        problems["crashes"].append(f"not shown as interrupted: {listed.stdout}")
    tally.add(problems)
    for job in (home / "data" / "jobs").iterdir():  # ready for the next try
        discarded = run(command("huacaya", "models", "discard", job.name), env=env)
        assert discarded.returncode == 0, discarded.stderr
    return killed
