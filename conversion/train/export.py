"""Hand a fine-tuned model to the app: GGUF with Stanford's prompt, verified, in the library.

Two steps, one boundary each:

1. our converter (torch-free) writes a GGUF from ``model/`` — or from the base model with the
   LoRA adapter merged in on the fly, one tensor at a time, exactly as ``huacaya-convert --lora``
   does — with the Alpaca chat template, since that is the prompt the model was trained on;
2. the app's own import job, in a child process (``python -m desktop models import``), quantizes
   it with llama.cpp, loads it and checks that it answers, and registers it in the library of
   ``HUACAYA_HOME``. ``conversion`` never imports ``desktop``, and llama.cpp never shares a
   process with torch.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from conversion.convert import OUTTYPES, convert
from conversion.errors import Cancelled, TrainingError
from conversion.ownership import kill_tree, owned_name, sweep
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress, sub_range
from conversion.quant_merge import merge_into_quantization
from conversion.quantize import QUANT_TYPES
from conversion.train.bases import Base

EXPORT_TYPES = tuple(sorted({*(t for t in OUTTYPES if t != "auto"), *QUANT_TYPES}))
_INSTALLED = re.compile(r"Installed “(?P<name>.*)” as (?P<id>\S+)\.")
_PERCENT = re.compile(r"^\s*(?P<percent>[\d.]+)%\s+(?P<message>.*)$")
EXPORT_FOLDER_PREFIX = ".export."
CANCEL_GRACE_S = 20.0  # for the import job to stop and remove its files once asked


# A GGUF base's type → the type its fine-tune is exported as: the same type where llama.cpp can
# make it without an importance matrix, else the K-quant of as many bits (IQ types need one).
_FAMILIES = (
    ("IQ4", "q4_k_m"),
    ("IQ3", "q3_k_m"),
    ("IQ2", "q2_k"),
    ("IQ1", "q2_k"),
    ("Q4_K", "q4_k_m"),
    ("Q5_K", "q5_k_m"),
    ("Q3_K", "q3_k_m"),
    ("Q2_K", "q2_k"),
    ("Q8", "q8_0"),
    ("TQ", "q2_k"),
)


def export_type_for(base: Base) -> str:
    """The export type for ``--export-gguf base``: what the GGUF base was quantized as."""
    if base.gguf is None:
        raise TrainingError(
            "--export-gguf without a type keeps the quantization of a GGUF base, and this base "
            f"(“{base.given}”) is a checkpoint.",
            f"Give a type: --export-gguf TYPE ({', '.join(EXPORT_TYPES)}).",
        )
    quantization = base.quantization.upper()
    if quantization.lower() in EXPORT_TYPES:
        return quantization.lower()
    for prefix, export_type in _FAMILIES:
        if quantization.startswith(prefix):
            return export_type
    raise TrainingError(
        f"The GGUF base “{base.given}” is {base.quantization or 'of an unknown type'}, which "
        "Huacaya cannot export to.",
        f"Give a type: --export-gguf TYPE ({', '.join(EXPORT_TYPES)}).",
    )


@dataclass
class ExportResult:
    model_id: str
    name: str


def export_to_library(
    model_dir: Path,
    name: str,
    outtype: str,
    base: Path | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    keep_from: Path | None = None,
) -> ExportResult:
    """Convert ``model_dir`` (a full checkpoint, or a LoRA adapter of ``base``), then quantize,
    verify and register it as ``name``. Returns the library id (``huacaya chat --model ID``).

    ``keep_from``: the quantized GGUF that ``base`` was made from, when the adapter goes back
    into its quantization: its unchanged tensors are kept byte for byte and the changed ones
    stored finer (``quant_merge``), since requantizing would round a LoRA's updates away."""
    if outtype not in EXPORT_TYPES:
        raise TrainingError(
            f"Unknown GGUF type “{outtype}”.", f"Choose one of {', '.join(EXPORT_TYPES)}."
        )
    direct = outtype in OUTTYPES  # the converter writes it; otherwise llama.cpp quantizes f16
    # The GGUF made on the way is a temporary folder beside the model, named after this process:
    # a process killed half-way (no cleanup runs) leaves it to the next export's sweep.
    sweep(model_dir.parent)
    work = tempfile.TemporaryDirectory(
        prefix=owned_name(EXPORT_FOLDER_PREFIX), suffix=".partial", dir=model_dir.parent
    )
    with work as tmp:
        gguf = Path(tmp) / f"model-{outtype if direct else 'f16'}.gguf"
        source, lora = (base, model_dir) if base is not None else (model_dir, None)
        convert(
            source,
            gguf,
            outtype if direct else "f16",
            sub_range(progress, 0.0, 0.4),
            cancel,
            lora=lora,
            template="alpaca",
        )
        quant, start = ("none" if direct else outtype), 0.4
        if keep_from is not None and lora is not None:
            merged = Path(tmp) / f"model-{outtype}.gguf"
            merge_into_quantization(gguf, keep_from, merged, sub_range(progress, 0.4, 0.5), cancel)
            gguf, quant, start = merged, "none", 0.5
        stdout = _run_import(
            import_command(gguf, quant, name), sub_range(progress, start, 1.0), cancel
        )
    match = _INSTALLED.search(stdout)
    if match is None:
        raise TrainingError(f"The app's import job did not report the model: {stdout.strip()}")
    progress(1.0, f"installed as {match['id']}")
    return ExportResult(match["id"], match["name"])


def import_command(gguf: Path, quant: str, name: str) -> list[str]:
    """The app's import job for ``gguf``, installed as ``name`` — given as ``--name=NAME`` so
    that a name starting with "-" is the name, not another option."""
    path = str(gguf.absolute())  # likewise: never read as an option
    return [
        sys.executable,
        "-m",
        "desktop",
        "models",
        "import",
        path,
        "--quant",
        quant,
        f"--name={name}",
    ]


def _run_import(command: list[str], progress: Progress, cancel: CancelToken) -> str:
    """Run the import job, forwarding its progress lines; Ctrl+C-like stop on cancel."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    errors: list[str] = []

    def read_errors() -> None:
        assert child.stderr is not None
        for line in child.stderr:
            match = _PERCENT.match(line)
            if match:
                progress(float(match["percent"]) / 100, match["message"].strip())
            elif line.strip():
                errors.append(line.strip())

    reader = threading.Thread(target=read_errors, daemon=True)
    reader.start()
    while True:
        try:
            child.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            if cancel.cancelled:  # the job removes its files when interrupted
                if sys.platform == "win32":
                    child.send_signal(signal.CTRL_C_EVENT)
                else:
                    child.send_signal(signal.SIGINT)
                try:
                    child.wait(timeout=CANCEL_GRACE_S)
                except subprocess.TimeoutExpired:  # stuck: ended with what it started
                    kill_tree(child.pid)
                if child.returncode == 0:  # it had added the model before the stop reached it
                    break
                raise Cancelled("Export cancelled; nothing was added to the library.") from None
    reader.join(timeout=5)
    stdout = child.stdout.read() if child.stdout else ""
    if child.returncode:
        detail = errors[-1] if errors else f"exit code {child.returncode}"
        raise TrainingError(
            f"The model could not be added to the library: {detail}",
            "The trained model is kept in --out/model; import it later with huacaya models import.",
        )
    return stdout
