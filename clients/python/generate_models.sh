#!/usr/bin/env bash
# Regenerate src/infrence_client/models.py from the app's own OpenAPI document
# (tests/client/test_models_drift.py runs this into a temporary file and compares).
set -euo pipefail
cd "$(dirname "$0")"
out="$(realpath -m "${1:-src/infrence_client/models.py}")"
spec="$(mktemp --suffix=.json)"
trap 'rm -f "$spec"' EXIT
(cd ../.. && uv run --frozen --quiet infrence openapi) > "$spec"
uv run --frozen --quiet datamodel-codegen --input "$spec" --input-file-type openapi --output "$out" \
    --output-model-type pydantic_v2.BaseModel --target-python-version 3.10 \
    --use-standard-collections --use-union-operator --enum-field-as-literal all --collapse-root-models \
    --formatters black isort --disable-timestamp --custom-file-header \
    "# Generated from the Infrence OpenAPI document by clients/python/generate_models.sh: do not edit."
