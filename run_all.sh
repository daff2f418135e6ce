#!/usr/bin/env bash
# Regenerate every experiment of a profile and its HTML report, or (--test) run the test suite.
# Both create the environment (.venv/) on first use.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${LSML_VENV:-$ROOT/.venv}"
FASHION_DIR=/usr/share/datasets/fashion-mnist

usage() {
  local profiles text
  profiles="$(cd "$ROOT/configs" && ls -- *.yaml | sed 's/\.yaml$//' | paste -sd ' ' | fmt -w 98 | sed 's/^/                     /')"
  text="$(cat <<'TXT'
Usage: ./run_all.sh [options]          regenerate a profile's experiments and report
       ./run_all.sh --test [PYTEST...]  check the style (ruff), then run the test suite (extra arguments go to pytest)

Options:
  --profile NAME     a profile in configs/ or a YAML path (default: demo); the profiles:
PROFILES
  --all              every profile of the study, one after the other in an order that shares data (configs/
                     with study: cpu, and study: gpu where a GPU is present), then the front page
  --configs DIR      with --all: the folder of profiles (default: configs/)
  --results-dir DIR  where results/<profile>/ is written (default: results/)
  --data-dir DIR     where data sets are generated or looked for (default: data/)
  --force            redo runs that already finished (default: skip them, resume unfinished ones)
  --verify           check every run against the record of what it produced (each file's size and
                     SHA-256) and list what is damaged and what a rerun would do; changes nothing,
                     exit status 1 when something is damaged
  --changes          list the verdicts of the results folder that differ from the answer committed in git
                     (results/*/answer.json at HEAD), not only the digits; changes nothing, exit status 1
                     when one differs
  --runs GLOB...     only the runs whose names match, e.g. --runs 'resnet18-*' (quote the globs)
  --executor NAME    local: runs in this process (default); ray: each run a Ray task (this machine, or a
                     cluster with --address); both run as many at once as the CPUs and GPUs allow
  --address ADDR     with ray: join a running Ray cluster ('auto' or HOST:PORT) instead of starting one here
  --threads N        CPU threads of each run, in place of the profile's train.threads (default 1): part of
                     each run's configuration, so the numbers are the same under every executor
  --gpus-per-run N   with ray: GPUs of each run; 0.25 packs four runs on one GPU (default: 1 if there are GPUs)
  --setup-only       create the environment (.venv/ and the 'lsml' Jupyter kernel) and stop
  --test             run the test suite instead (must be the first option)
  -h, --help         this help

The environment is .venv/ in the checkout (override with LSML_VENV); it is created or updated
when pyproject.toml or constraints.txt change. After every profile the study's front page,
results/index.html, is rewritten from whatever profiles have finished. On success the paths of
results/<profile>/index.html and the front page are printed; if any notebook failed, the failures
are listed and the exit status is 1. Two invocations on one results folder share the work: a run
another process is training is left to it (tried again after the other runs, then waited for and
skipped). A rerun checks every finished run against its record before skipping it: a damaged
evaluation output (metrics, predictions, a rendered notebook) is evaluated again from the intact best
model; a damaged best model, checkpoint or history is trained again.
TXT
)"
  echo "${text/PROFILES/$profiles}"
}

env_ready() {
  [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.lsml-installed" 2>/dev/null)" = "$1" ]
}

install_env() {
  command -v python3 >/dev/null || { echo "error: python3 (3.10 or newer) is needed" >&2; exit 2; }
  echo "Setting up the environment in $VENV (first time: a few minutes; torch is large) ..."
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || {
    echo "error: could not create $VENV; on Debian/Ubuntu install python3-venv (apt-get install python3-venv)" >&2; exit 2; }
  "$VENV/bin/python" -m pip install --quiet -c "$ROOT/constraints.txt" -e "$ROOT[test]"
  "$VENV/bin/python" -m ipykernel install --sys-prefix --name lsml --display-name "Python (lsml)" >/dev/null
  echo "$1" > "$VENV/.lsml-installed"
  echo "Environment ready: $VENV (Jupyter kernel 'lsml')."
}

ensure_env() {
  local want
  want="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -c1-16)"
  env_ready "$want" && return
  # one installer at a time (the lock is held by this subshell only): a second invocation waits, then
  # finds the environment ready
  ( flock 9; env_ready "$want" || install_env "$want" ) 9>"$VENV.lock"
}

ensure_fashion_mnist() {
  [ -f "$FASHION_DIR/train-images-idx3-ubyte.gz" ] && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Fashion-MNIST is missing: installing the Debian package dataset-fashion-mnist with apt-get ..."
    (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) || echo "warning: apt-get could not install" \
      "dataset-fashion-mnist; the data step will try torchvision's download, then fall back to scikit-learn's digits."
  else
    echo "note: Fashion-MNIST is not installed ($FASHION_DIR). Install it with 'sudo apt-get install" \
      "dataset-fashion-mnist'; otherwise the demo data come from torchvision's download or scikit-learn's digits."
  fi
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --test)
    shift
    ensure_env
    ensure_fashion_mnist
    cd "$ROOT"
    "$VENV/bin/ruff" check . && "$VENV/bin/ruff" format --check . || {
      echo "error: ruff found style problems (fix with: .venv/bin/ruff check --fix . && .venv/bin/ruff format .)" >&2; exit 1; }
    exec "$VENV/bin/python" -m pytest "$@" ;;
esac

args=()
setup_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --setup-only) setup_only=1; shift ;;
    --profile|--results-dir|--data-dir|--executor|--address|--threads|--cpus-per-run|--gpus-per-run|--configs)
      [ $# -ge 2 ] || { echo "error: $1 needs a value (see --help)" >&2; exit 2; }
      args+=("$1" "$2"); shift 2 ;;
    --force|--all|--verify|--changes) args+=("$1"); shift ;;
    --runs)
      args+=("$1"); shift
      [ $# -ge 1 ] && [[ "$1" != --* ]] || { echo "error: --runs needs at least one name pattern" >&2; exit 2; }
      while [ $# -gt 0 ] && [[ "$1" != --* ]]; do args+=("$1"); shift; done ;;
    --test) echo "error: --test must be the first option" >&2; exit 2 ;;
    *) echo "error: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

ensure_env
[ "$setup_only" = 1 ] && exit 0
ensure_fashion_mnist
cd "$ROOT"
exec "$VENV/bin/python" -m lsml_core "${args[@]}"
