#!/usr/bin/env bash
# Offline validation of the AWS deployment (no AWS account, no network):
#   1. cfn-lint over the SAM template (infra/template.yaml), which must report nothing;
#   2. every Step Functions definition (infra/statemachine/*.asl.json) against cfn-lint's
#      Amazon States Language schema, and its ${placeholders} against the template's
#      DefinitionSubstitutions.
# Uses the Python of the caller's virtualenv (scripts/test.sh passes PYTHON=$venv/bin/python),
# where tests/requirements.txt installed cfn-lint.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"

# cfn-lint's own entry point (the `cfn-lint` console script calls the same function).
# `python -m cfnlint` is not available: the package has no __main__ module.
cfnlint() {
    "$PYTHON" -c 'import sys; from cfnlint.runner import main; sys.exit(main())' "$@"
}

echo "cfn-lint $("$PYTHON" -c 'from cfnlint.version import __version__; print(__version__)')"

echo "== infra/template.yaml"
cfnlint infra/template.yaml

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

for asl in infra/statemachine/*.asl.json; do
    echo "== $asl"
    # Wraps the definition in a plain AWS::StepFunctions::StateMachine, whose Definition
    # cfn-lint validates (E3601); SAM's DefinitionUri files are not read by cfn-lint.
    "$PYTHON" - "$asl" "$tmp/asl-template.json" <<'EOF'
import json
import re
import sys

from cfnlint.decode import decode

asl_path, out_path = sys.argv[1], sys.argv[2]
text = open(asl_path, encoding="utf-8").read()
definition = json.loads(text)
placeholders = sorted(set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text)))

template, errors = decode("infra/template.yaml")
if errors:
    sys.exit(f"cannot read infra/template.yaml: {errors}")
uri = asl_path.removeprefix("infra/")
users = [
    (name, res.get("Properties", {}))
    for name, res in template["Resources"].items()
    if res.get("Type") == "AWS::Serverless::StateMachine"
    and res.get("Properties", {}).get("DefinitionUri") == uri
]
if not users:
    sys.exit(f"{asl_path}: no AWS::Serverless::StateMachine has DefinitionUri {uri}")
for name, props in users:
    given = set(props.get("DefinitionSubstitutions", {}))
    missing = [p for p in placeholders if p not in given]
    unused = sorted(given - set(placeholders))
    if missing or unused:
        sys.exit(f"{asl_path}: {name} DefinitionSubstitutions missing {missing}, unused {unused}")

wrapper = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "StateMachine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "RoleArn": "arn:aws:iam::123456789012:role/lint",
                "Definition": definition,
                "DefinitionSubstitutions": {p: f"lint-{p}" for p in placeholders},
            },
        }
    },
}
json.dump(wrapper, open(out_path, "w", encoding="utf-8"), indent=1)
print(f"{len(definition['States'])} top-level states, placeholders: {', '.join(placeholders)}")
EOF
    cfnlint "$tmp/asl-template.json"
done

echo "infra: no lint findings"
