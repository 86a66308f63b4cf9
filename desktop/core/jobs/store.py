"""What a model job is and where it is kept: ``data/jobs/<id>/job.json`` (what to do, how far it
got, who runs it) beside the job's work files. :mod:`desktop.core.jobs.runner` runs them."""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from conversion.errors import (
    HuacayaError,
)
from conversion.output import atomic_write_text
from conversion.ownership import Owner, sweep, tree_size
from conversion.quantize import QUANT_TYPES
from desktop.core import paths
from desktop.core.hub.download import human_bytes

log = logging.getLogger(__name__)

JOB_FILE = "job.json"
UNFINISHED = ("queued", "running")
DOING = {
    "download": "downloading",
    "convert": "converting",
    "quantize": "quantizing",
    "verify": "verifying",
    "register": "registering",
}


@dataclass
class JobSpec:
    kind: str  # "hub" or "import"
    source: str  # a Hub repo id, or a path on disk
    name: str = ""
    quant: str = "q4_k_m"  # a quantization, or "" to keep the (converted) file as it is
    gguf_file: str = ""  # hub: one GGUF file of the repo instead of the weights
    revision: str = ""
    base: str = ""  # base model folder for a LoRA adapter or an Alpaca weight diff
    base_repo: str = ""  # hub: the base model is this Hub repository, downloaded too
    base_revision: str = ""


@dataclass
class Job:
    id: str
    spec: JobSpec
    state: str = "queued"  # queued, running, failed, cancelled, done
    step: str = ""
    fraction: float = 0.0
    message: str = ""
    error: str = ""
    model_id: str = ""
    created_at: float = field(default_factory=time.time)
    # The process that runs (or created) the job, as ``Owner.tag``; "" for a job paused by a
    # quit, which the window resumes at its next start.
    owner: str = ""

    @property
    def title(self) -> str:
        return self.spec.name or Path(self.spec.source).name or self.spec.source

    @property
    def interrupted(self) -> bool:
        """Unfinished, and the process that ran it is gone (killed, crashed, power cut)."""
        owner = Owner.parse(self.owner)
        return self.state in UNFINISHED and owner is not None and not owner.alive()

    @property
    def running_elsewhere(self) -> bool:
        """Unfinished and its process still runs (a terminal, another window)."""
        owner = Owner.parse(self.owner)
        return self.state in UNFINISHED and owner is not None and owner.alive()

    @property
    def target(self) -> str:
        """What the job works on, for its lock: one job per target at a time."""
        spec = self.spec
        if spec.kind == "import":
            return f"import:{Path(spec.source).expanduser().resolve()}"
        return f"hub:{spec.source}/{spec.gguf_file}"

    def interruption(self, size: int) -> str:
        """What the jobs table and ``huacaya models jobs`` say about an interrupted job."""
        where = f" while {DOING[self.step]}" if self.step in DOING else ""
        return (
            f"Interrupted{where} at {self.fraction:.0%} (its process was killed or crashed); "
            f"{human_bytes(size)} kept on disk."
        )

    @property
    def action(self) -> str:
        if self.spec.kind == "import":
            return f"Importing “{Path(self.spec.source).name}”"
        return f"Downloading “{self.spec.source}”"


class JobStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or paths.data_dir() / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)

    def folder(self, job: Job) -> Path:
        return self.root / job.id

    def create(self, spec: JobSpec) -> Job:
        if spec.quant and spec.quant not in QUANT_TYPES:
            raise HuacayaError(
                f"Unknown quantization “{spec.quant}”.", f"Choose one of {', '.join(QUANT_TYPES)}."
            )
        job = Job(id=uuid.uuid4().hex[:12], spec=spec, owner=Owner.current().tag)
        self.folder(job).mkdir(parents=True)
        self.save(job)
        return job

    def save(self, job: Job) -> None:
        data = asdict(job)
        atomic_write_text(self.folder(job) / JOB_FILE, json.dumps(data, indent=2))

    def load(self, job_id: str) -> Job:
        data = json.loads((self.root / job_id / JOB_FILE).read_text(encoding="utf-8"))
        return Job(**{**data, "spec": JobSpec(**data["spec"])})

    def all(self) -> list[Job]:
        jobs = []
        for file in sorted(self.root.glob(f"*/{JOB_FILE}")):
            try:
                jobs.append(self.load(file.parent.name))
            except (OSError, ValueError, TypeError, KeyError) as exc:
                log.warning("skipping unreadable job %s: %s", file, exc)
        return sorted(jobs, key=lambda j: j.created_at)

    def unfinished(self) -> list[Job]:
        return [job for job in self.all() if job.state in UNFINISHED]

    def interrupted(self) -> list[Job]:
        return [job for job in self.all() if job.interrupted]

    def find_interrupted(self, spec: JobSpec) -> Job | None:
        """An interrupted job doing what ``spec`` asks (run again, it continues). A Hub job
        pinned its revisions when it started: asked without one, it matches any."""

        def same(pinned: JobSpec) -> bool:
            return pinned == replace(
                spec,
                revision=spec.revision or pinned.revision,
                base_revision=spec.base_revision or pinned.base_revision,
            )

        return next((job for job in self.interrupted() if same(job.spec)), None)

    def disk_usage(self, job: Job) -> int:
        return tree_size(self.folder(job))

    def pause(self, job_id: str) -> None:
        """The window quits while the job runs: resume it at the next start."""
        try:
            job = self.load(job_id)
        except (OSError, ValueError, TypeError, KeyError):
            return
        if job.state in UNFINISHED:
            job.state, job.owner = "queued", ""
            self.save(job)

    def sweep(self) -> int:
        """Remove the temporary files of dead processes in every job's folders (a conversion
        or quantization killed midway); a download's ``.partial`` files are kept to resume."""
        freed = 0
        for folder in [p for p in self.root.iterdir() if p.is_dir()]:
            freed += sweep(folder)
            freed += sum(sweep(sub) for sub in folder.iterdir() if sub.is_dir())
        return freed

    def spent(self, job: Job) -> bool:
        """Failed with nothing kept to continue from (an import refused at its check, a
        conversion that failed): once its reason has been shown, the record is worth nothing."""
        if job.state != "failed":
            return False
        try:
            return all(path.name == JOB_FILE for path in self.folder(job).iterdir())
        except OSError:
            return False

    def remove_spent(self) -> int:
        """Forget every spent job (see :meth:`spent`); earlier versions left one behind at
        every refused import. A failed job that kept its partial downloads stays: running
        the same pull again continues it."""
        spent = [job for job in self.all() if self.spent(job)]
        for job in spent:
            self.forget(job.id)
        return len(spent)

    def discard_work(self, job: Job) -> None:
        """Remove the job's work files, keeping its record (to show what happened)."""
        for path in self.folder(job).iterdir():
            if path.name != JOB_FILE:
                shutil.rmtree(path) if path.is_dir() else path.unlink()

    def remove(self, job: Job) -> None:
        self.forget(job.id)

    def forget(self, job_id: str) -> None:
        """Remove a job's record and files."""
        shutil.rmtree(self.root / job_id, ignore_errors=True)

    def mark_failed(self, job_id: str, error: HuacayaError) -> Job | None:
        """Record that a job failed (its process may have died without saying so), so it is
        shown with its reason instead of being started again at every launch."""
        try:
            job = self.load(job_id)
        except (OSError, ValueError, TypeError, KeyError):
            return None
        job.state, job.error = "failed", str(error)
        self.save(job)
        self.discard_work(job)
        return job
