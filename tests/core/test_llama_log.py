"""llama.cpp as the app loads it: our log callback, and no AMX weight buffers where the build
would use them (they crash llama.cpp on the first decode: see conversion/llama_log.py)."""

from __future__ import annotations

import subprocess
import sys

import llama_cpp

from conversion import llama_log


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
