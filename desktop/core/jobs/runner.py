"""Jobs that bring a model into the library: download → convert → quantize → verify → register.

A job is a folder under ``data/jobs/<id>`` holding ``job.json`` (what to do and how far it got)
and its work files. Every step can run again: a download continues from its partial files, a
finished conversion or quantization is kept. So a job interrupted by a quit or a closed lid
resumes where it stopped, a cancelled or failed job removes its work files, and only a model
that loaded and generated tokens is registered. The window runs jobs in a child process
(``run_in_child``); the command line runs them in its own.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import gguf

from conversion import archs
from conversion.archs import inspect_checkpoint
from conversion.checkpoint import is_lora_adapter
from conversion.convert import convert
from conversion.errors import (
    Cancelled,
    ConnectionLost,
    ConversionError,
    HuacayaError,
    JobBusyError,
    JobError,
    LibraryError,
    ModelFileError,
    UnsupportedModelError,
)
from conversion.gguf_file import read_gguf_info
from conversion.gguf_info import GGUFInfo
from conversion.ownership import Owner, die_with_parent
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress, sub_range
from conversion.quantize import quantize
from desktop.core import paths
from desktop.core.chat.engine import ChatEngine
from desktop.core.hub.client import HubClient
from desktop.core.jobs import locks
from desktop.core.jobs.store import Job, JobStore
from desktop.core.models.library import ModelEntry, ModelLibrary
from desktop.core.settings import GenerationSettings

log = logging.getLogger(__name__)

# where each step's share of the progress bar starts and ends
SPAN = {
    "download": (0.0, 0.55),
    "convert": (0.55, 0.75),
    "quantize": (0.75, 0.93),
    "verify": (0.93, 0.98),
    "register": (0.98, 1.0),
}
KNOWN_ARCHITECTURES = frozenset(gguf.MODEL_ARCH_NAMES.values())


def check_gguf(path: Path) -> GGUFInfo:
    """Our bounded header check plus: an architecture llama.cpp knows."""
    info = read_gguf_info(path)
    if info.architecture not in KNOWN_ARCHITECTURES:
        raise UnsupportedModelError(
            f"“{path.name}” is a model of architecture “{info.architecture}”, which this "
            "version of llama.cpp does not run.",
            "Update Huacaya, or choose a model of a common architecture (llama, mistral, qwen2…).",
        )
    return info


def verify(path: Path) -> None:
    """Load the model and generate a few tokens: only a model that answers is registered."""
    engine = ChatEngine(path, context_length=512)
    engine.load()
    try:
        settings = GenerationSettings(temperature=0.0, max_tokens=4)
        response = engine.stream([{"role": "user", "content": "Hello"}], settings)
        response.text()
        stats = response.stats
        if stats is None or stats.generated_tokens == 0:
            raise ModelFileError(f"“{path.name}” loaded but generated nothing.")
    finally:
        engine.close()


class JobRunner:
    def __init__(self, store: JobStore, library: ModelLibrary, hub: HubClient) -> None:
        self.store, self.library, self.hub = store, library, hub

    def run(
        self, job: Job, progress: Progress = no_progress, cancel: CancelToken = NEVER_CANCELLED
    ) -> ModelEntry:
        def report(step: str) -> Progress:
            start, end = SPAN[step]

            def inner(fraction: float, message: str = "") -> None:
                new_step = job.step != step
                job.step, job.fraction, job.message = (
                    step,
                    start + (end - start) * fraction,
                    message,
                )
                if new_step:  # recorded, so an interrupted job says where it stopped
                    self.store.save(job)
                progress(job.fraction, f"{step}: {message}" if message else step)

            return inner

        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(locks.hold(job.target, job.action))
            except JobBusyError as exc:
                job.state, job.error = "failed", str(exc)
                self.store.save(job)
                raise
            return self._run(job, report, progress, cancel)

    def _run(
        self,
        job: Job,
        report: Callable[[str], Progress],
        progress: Progress,
        cancel: CancelToken,
    ) -> ModelEntry:
        job.state, job.error, job.owner = "running", "", Owner.current().tag
        self.store.save(job)
        work = self.store.folder(job)
        try:
            source, base = self._obtain(job, work, report("download"), cancel)
            name = job.spec.source.rstrip("/").split("/")[-1] if job.spec.kind == "hub" else ""
            model = self._to_gguf(source, base, work, report("convert"), cancel, name)
            model = self._quantize(job, model, work, report("quantize"), cancel)
            report("verify")(0.0, "loading the model and generating a few tokens")
            verify(model)
            cancel.check()
            report("register")(0.0, "adding it to the library")
            if model.parent != work:  # never move the user's own file
                shutil.copyfile(model, work / "model.gguf")
                model = work / "model.gguf"
            entry = self.library.add_managed(model, self._name(job, model))
        except Cancelled:
            job.state, job.message = "cancelled", "Cancelled; its files were removed."
            self.store.save(job)
            self.store.remove(job)
            raise
        except HuacayaError as exc:
            job.state, job.error = "failed", str(exc)
            self.store.save(job)
            if not isinstance(exc, ConnectionLost):  # partial downloads stay for a re-run
                self.store.discard_work(job)
            raise
        except Exception as exc:  # any other failure ends the job too, with its reason
            log.exception("job %s failed", job.id)
            error = JobError(f"The job failed unexpectedly: {type(exc).__name__}: {exc}")
            job.state, job.error = "failed", str(error)
            self.store.save(job)
            self.store.discard_work(job)
            raise error from exc
        job.state, job.fraction, job.model_id = "done", 1.0, entry.id
        job.message = f"{entry.name} is ready."
        self.store.save(job)
        progress(1.0, f"done: {job.message}")
        self.store.discard_work(job)
        return entry

    def _name(self, job: Job, model: Path) -> str:
        if job.spec.name:
            return job.spec.name
        base = job.spec.source.rstrip("/").split("/")[-1]
        if job.spec.gguf_file:
            base = Path(job.spec.gguf_file).stem
        quant = read_gguf_info(model).quantization
        return f"{base} {quant}".strip()

    def _obtain(
        self, job: Job, work: Path, progress: Progress, cancel: CancelToken
    ) -> tuple[Path, Path | None]:
        """The model (folder or GGUF file) and the base folder of an adapter or weight diff."""
        spec = job.spec
        base = Path(spec.base).expanduser() if spec.base else None
        if base is not None and not base.is_dir():
            raise LibraryError(f"The base model folder “{base}” does not exist.", "Check the path.")
        if spec.kind == "import":
            source = Path(spec.source).expanduser()
            if not source.exists():
                raise LibraryError(f"“{source}” does not exist.", "Check the path.")
            progress(1.0, "local files")
            return source, base
        info = self.hub.repo_info(spec.source, spec.revision or None, cancel)
        files = self.hub.files_to_fetch(info, spec.gguf_file or None)
        spec.revision = info.revision  # pin it: a resumed job fetches the same files
        downloads = [(info, files, work / "download")]
        if spec.base_repo:
            base_info = self.hub.repo_info(spec.base_repo, spec.base_revision or None, cancel)
            spec.base_revision = base_info.revision
            downloads.append((base_info, self.hub.files_to_fetch(base_info), work / "base"))
            base = work / "base"
        self.store.save(job)
        total = sum(f.size for _, chosen, _ in downloads for f in chosen) or 1
        done = 0
        for repo, chosen, folder in downloads:  # one progress bar, shared by bytes
            size = sum(f.size for f in chosen)
            part = sub_range(progress, done / total, (done + size) / total)
            self.hub.download(repo, chosen, folder, part, cancel)
            done += size
        folder = work / "download"
        return (folder / spec.gguf_file if spec.gguf_file else folder), base

    def _to_gguf(
        self,
        source: Path,
        base: Path | None,
        work: Path,
        progress: Progress,
        cancel: CancelToken,
        name: str = "",
    ) -> Path:
        """``name``: the model's name inside the GGUF (``general.name``), e.g. its Hub repository
        (the download folder's name otherwise)."""
        if source.is_file():
            check_gguf(source)
            progress(1.0, "already GGUF")
            return source
        target = work / "model-f16.gguf"
        if target.is_file():  # converted before an interruption (written atomically)
            return target
        if is_lora_adapter(source):
            if base is None:
                raise LibraryError(
                    f"“{source.name}” is a LoRA adapter.",
                    "Give its base model folder too (--base).",
                )
            convert(base, target, "f16", progress, cancel, lora=source, name=name)
        elif base is not None:  # an Alpaca weight diff and its raw LLaMA
            result = convert(source, target, "f16", progress, cancel, recover_from=base, name=name)
            check = result.integrity
            if check and not check["passed"]:
                target.unlink(missing_ok=True)
                raise ConversionError(
                    "The recovered weights fail the release's integrity check: they sum to "
                    f"{check['sum']:.4f}, Alpaca-7B's sum to {check['expected']:.4f}.",
                    "The weight diff was applied to another base model: it needs the original "
                    "LLaMA-7B in Hugging Face format. Nothing was registered.",
                )
        else:
            ckpt = inspect_checkpoint(source)
            if not archs.for_checkpoint(ckpt).chat:
                raise LibraryError(
                    f"“{source.name}” is an embedding model ({ckpt.architecture}), not a chat "
                    "model.",
                    "Chat needs an instruction-tuned model; embedding models serve document "
                    "search.",
                )
            convert(source, target, "f16", progress, cancel, name=name)
        return target

    def _quantize(
        self, job: Job, model: Path, work: Path, progress: Progress, cancel: CancelToken
    ) -> Path:
        if not job.spec.quant:
            return model
        current = read_gguf_info(model).quantization.lower()
        if current == job.spec.quant:
            return model
        target = work / f"model-{job.spec.quant}.gguf"
        if not target.is_file():
            quantize(model, target, job.spec.quant, progress, cancel)
        if model.parent == work:
            model.unlink()  # the f16 intermediate is not needed any more
        return target


def run_in_child(
    job_id: str,
    token: str | None,
    offline: bool,
    home: str | None,
    models_folder: str,
    messages,
    stop,
    parent: int,
) -> None:
    """Entry point of the job process the window starts (multiprocessing, spawn).

    ``stop`` is a multiprocessing Event: set, it cancels the job here, so the job stops its own
    children (the quantizer) and removes its files. Errors go back as the typed errors they are.
    """
    import os

    die_with_parent(parent)  # a window killed with kill -9 takes its job (and quantizer) along
    if home:
        os.environ[paths.HOME_ENV] = home
    from desktop.core.models.library import library_for

    store = JobStore()
    job = store.load(job_id)
    runner = JobRunner(store, library_for(models_folder), HubClient(lambda: token, lambda: offline))
    try:
        entry = runner.run(job, lambda f, m="": messages.put(("progress", f, m)), CancelToken(stop))
        messages.put(("done", entry.id, entry.name))
    except Cancelled:
        messages.put(("cancelled",))
    except HuacayaError as exc:
        messages.put(("failed", exc))
