#!/usr/bin/env bash
# Create the project-local Python environments from the pinned requirement files.
#   scripts/venv.sh localstack   # .venv-localstack: LocalStack (needs Python 3.13)
#   scripts/venv.sh tools        # .venv-tools: cargo-lambda (and ziglang)
#   scripts/venv.sh moto         # .venv-moto: moto's server, the e2e tests' DynamoDB
# Re-running is cheap: a venv is rebuilt only when its requirements file changed.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python313() {
  for c in "${LG_PYTHON313:-}" python3.13 "$(command -v pyenv >/dev/null 2>&1 && echo "$(pyenv root)/versions/3.13.0/bin/python3.13")"; do
    [ -n "$c" ] && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1 && { echo "$c"; return 0; }
  done
  return 1
}

# The files a requirements file includes with `-r` (paths relative to it), one a line.
included() {
  sed -n 's/^-r[[:space:]]*//p' "$1" | while read -r f; do echo "$(dirname "$1")/$f"; done
}

make_venv() { # name python requirements [constraints]
  local dir=".venv-$1" py="$2" req="$3" cons="${4:-}" stamp files
  stamp="$dir/.requirements.sha256"
  mapfile -t files < <(echo "$req"; included "$req"; [ -z "$cons" ] || echo "$cons")
  # every file the venv is installed from, included ones too: a change to any rebuilds it
  if [ -x "$dir/bin/python" ] && [ -f "$stamp" ] && sha256sum -c --quiet "$stamp" >/dev/null 2>&1 \
    && [ "$(awk '{print $2}' "$stamp")" = "$(printf '%s\n' "${files[@]}")" ]; then
    return 0
  fi
  local uv t0
  uv=$(installer)
  t0=$(date +%s)
  echo "installing $req into $dir..." >&2
  rm -rf "$dir"
  # uv installs the pinned wheels from its cache (~/.cache/uv): a fresh clone's install is a copy
  # (about 15 s for LocalStack's, against about 2 minutes with pip)
  "$uv" venv --quiet --seed --python "$py" "$dir"
  "$uv" pip install --quiet --python "$dir/bin/python" -r "$req" ${cons:+-c "$cons"}
  sha256sum "${files[@]}" >"$stamp"
  echo "installed $dir in $(($(date +%s) - t0)) s" >&2
}

# uv, pinned, in its own small venv (.venv-uv), installed with pip the first time.
UV_VERSION=0.13.9
installer() {
  local dir=.venv-uv
  if ! [ -x "$dir/bin/uv" ] || [ "$("$dir/bin/uv" --version 2>/dev/null | awk '{print $2}')" != "$UV_VERSION" ]; then
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION" >&2
  fi
  echo "$dir/bin/uv"
}

case "${1:-}" in
localstack)
  py=$(find_python313) || { echo "venv.sh: Python 3.13 is needed for LocalStack (pyenv install 3.13.0, or set LG_PYTHON313)" >&2; exit 1; }
  make_venv localstack "$py" scripts/requirements-localstack.txt scripts/constraints-localstack.txt
  ;;
tools)
  make_venv tools python3 scripts/requirements-tools.txt
  ;;
moto)
  make_venv moto python3 scripts/requirements-moto.txt scripts/constraints-moto.txt
  ;;
*)
  echo "usage: scripts/venv.sh localstack|tools|moto" >&2
  exit 2
  ;;
esac
