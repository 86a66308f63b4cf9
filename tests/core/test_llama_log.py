"""llama.cpp as the app loads it: our log callback, and no AMX weight buffers where the build
would use them (they crash llama.cpp on the first decode: see conversion/llama_log.py)."""

from __future__ import annotations

import subprocess
import sys

import llama_cpp
import pytest

from conversion import llama_log
from conversion.errors import ModelLoadError


def test_models_load_without_extra_buffers_exactly_where_the_build_has_amx() -> None:
    llama_log.install()
    amx = b"AMX_INT8 = 1" in llama_cpp.llama_print_system_info()
    params = llama_cpp.llama_cpp.llama_model_default_params()
    assert params.use_extra_bufts is (not amx)


def test_the_workaround_reaches_llama_cpp_pythons_own_loader() -> None:
    """``Llama()`` builds its parameters from the module it imported: patched there, in a fresh
    process, before any model loads."""
    code = (
        "import llama_cpp, llama_cpp.llama as L\n"
        "from conversion import llama_log\n"
        "llama_log.install()\n"
        "amx = b'AMX_INT8 = 1' in llama_cpp.llama_print_system_info()\n"
        "print(L.llama_cpp.llama_model_default_params().use_extra_bufts is (not amx))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "True", result.stderr


def test_batched_decodings_loader_keeps_off_amx_buffers_too(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``load_model`` (the batch decoder's loader, not ``Llama()``) builds its own parameters:
    on an AMX CPU they must have extra buffers off as well (a native build crashed every batched
    decode on such a CPU). The CPU is made to say it has AMX; the parameters reaching llama.cpp
    are read."""
    seen = []
    monkeypatch.setattr(llama_log, "_has_amx", lambda: True)

    def load_from_file(path, params):  # type: ignore[no-untyped-def]
        seen.append(params.use_extra_bufts)
        return None  # as if loading failed: the parameters are all this test needs

    monkeypatch.setattr(llama_cpp, "llama_model_load_from_file", load_from_file)
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    with pytest.raises(ModelLoadError):
        llama_log.load_model(model)
    assert seen == [False]
