#!/usr/bin/env bash
# scripts/lint-deploy.sh — checks deploy/ and .github/workflows/ without Docker or a cluster.
#
# - Kubernetes manifests: every resource in deploy/k8s validated against the Kubernetes
#   OpenAPI schemas (kubernetes-validate, strict: unknown fields are errors);
#   kustomizations checked to name files that exist.
# - compose.yaml against the Compose specification, workflows against GitHub's workflow
#   schema (check-jsonschema's bundled copies; no network needed once installed).
# - Dockerfile: every `COPY --from` names an earlier stage, every stage's base is pinned.
#
# Tools come from PyPI into a private venv (~/.cache/miyagi/lint-venv) on first run.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${MIYAGI_LINT_VENV:-$HOME/.cache/miyagi/lint-venv}"
K8S_VERSION="1.31"
if [[ ! -x "$VENV/bin/check-jsonschema" || ! -x "$VENV/bin/kubernetes-validate" ]]; then
  echo "lint-deploy.sh: installing kubernetes-validate and check-jsonschema into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check kubernetes-validate==1.37.0 check-jsonschema pyyaml
fi

echo "== Kubernetes manifests (schemas of $K8S_VERSION)"
"$VENV/bin/python" - "$K8S_VERSION" <<'PY'
import pathlib, subprocess, sys, tempfile, yaml
version = sys.argv[1]
failed = False
for path in sorted(pathlib.Path("deploy/k8s").rglob("*.yaml")):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    if path.name == "kustomization.yaml":
        for doc in docs:
            for ref in doc.get("resources", []):
                if not (path.parent / ref).exists():
                    print(f"{path}: resource {ref} does not exist"); failed = True
        print(f"{path}: kustomization ok")
        continue
    for i, doc in enumerate(docs):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as one:
            yaml.safe_dump(doc, one); one.flush()
            result = subprocess.run(
                [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet",
                 "--kubernetes-version", version, one.name],
                capture_output=True, text=True)
        name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        if result.returncode != 0:
            failed = True
            print(f"{path}: {name}: {result.stdout}{result.stderr}")
        else:
            print(f"{path}: {name} ok")
sys.exit(1 if failed else 0)
PY

echo "== compose.yaml (Compose specification)"
"$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose.yaml

echo "== GitHub workflows"
"$VENV/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml

echo "== Dockerfile"
"$VENV/bin/python" - <<'PY'
import re, sys
stages, failed = [], False
for n, line in enumerate(open("deploy/Dockerfile"), 1):
    m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
    if m:
        base, name = m.groups()
        if base not in stages and ":" not in base:
            print(f"deploy/Dockerfile:{n}: base image {base} has no tag"); failed = True
        stages.append(name)
    for ref in re.findall(r"--from=(\S+)", line):
        if ref not in stages:
            print(f"deploy/Dockerfile:{n}: COPY --from={ref} names no earlier stage"); failed = True
print("deploy/Dockerfile: stages", ", ".join(s for s in stages if s), "ok" if not failed else "FAILED")
sys.exit(1 if failed else 0)
PY
echo "lint-deploy.sh: all checks passed"
