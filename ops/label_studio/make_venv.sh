#!/usr/bin/env bash
# Make the Label Studio virtualenv that the review-loop tests start a real server from.
#
# Usage: bash ops/label_studio/make_venv.sh DEST     (PYTHON=python3.11 picks the interpreter)
# Then:  LEXIMIND_TEST_LABEL_STUDIO=DEST/bin/label-studio pytest -m label_studio
#
# Idempotent: does nothing when DEST already has label-studio. (`label-studio --version` is no
# check: it initialises a database under ~/.local/share and starts a server on 0.0.0.0:8080.)
#
# Label Studio gets its own venv because it pins pyarrow<25 and an older numpy than the app
# (LanceDB) uses, and brings Django, boto3, the Google and Azure storage clients and more that
# Leximind itself never imports. Leximind only talks to it over its REST API.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: bash $0 DEST" >&2
    exit 2
fi
dest=$1
python=${PYTHON:-python3}
spec="label-studio==1.23.2"

check='import label_studio; print("label-studio", label_studio.__version__, "is ready")'
if [[ -x "$dest/bin/label-studio" ]] && "$dest/bin/python" -c "$check" >/dev/null 2>&1; then
    echo "label-studio venv at $dest is ready; nothing to do"
    exit 0
fi

"$python" -m venv "$dest"
"$dest/bin/python" -m pip install --quiet --upgrade pip
if ! "$dest/bin/python" -m pip install --quiet "$spec"; then
    echo "pip could not install $spec into $dest" >&2
    exit 1
fi
"$dest/bin/python" -c "$check"
