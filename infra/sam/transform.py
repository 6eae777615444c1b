"""The SAM transform of a template, offline: what CloudFormation makes of template.yaml on deploy.

    python infra/sam/transform.py template.yaml OUT.json

Runs aws-sam-translator (in the test venv tests/run makes) on the template and writes the
CloudFormation JSON it produces: every AWS::Serverless::Function becomes an AWS::Lambda::Function
with the Globals merged in (its environment variables, policies, ...). tests/run lints that
JSON with cfn-lint and hands it to the Lambda tests (HERALD_TEST_SAM_TEMPLATE), which give each
function binary exactly the environment it gets on AWS; infra/bench/lambda_cold_start.py does
the same. Exit status 2 with the transform's messages when it rejects the template.

Needs a region in the environment (AWS_DEFAULT_REGION), no credentials, no network.
"""
import json, sys
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

class NoManagedPolicies:
    """Offline: never ask IAM for the AWS managed policy list (the template names none)."""
    def load(self):
        return {}

# `sam build` / `sam deploy` turn local paths into S3 URIs; the transform insists on S3 URIs.
LOCAL_URIS = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
    "AWS::Serverless::Api": "DefinitionUri",
    "AWS::Serverless::HttpApi": "DefinitionUri",
}
def placeholder(props, key):
    if isinstance(props, dict) and isinstance(props.get(key), str) and not props[key].startswith("s3://"):
        props[key] = "s3://placeholder-bucket/placeholder-key"

src, out = sys.argv[1], sys.argv[2]
with open(src) as f:
    template = yaml_parse(f.read())
placeholder((template.get("Globals") or {}).get("Function"), "CodeUri")
for resource in (template.get("Resources") or {}).values():
    if isinstance(resource, dict) and resource.get("Type") in LOCAL_URIS:
        placeholder(resource.get("Properties"), LOCAL_URIS[resource["Type"]])
try:
    result = transform(template, {}, NoManagedPolicies())
except InvalidDocumentException as e:
    for cause in e.causes:
        print(f"{src}: SAM transform: {cause.message}", file=sys.stderr)
    sys.exit(2)
with open(out, "w") as f:
    json.dump(result, f, indent=1)
