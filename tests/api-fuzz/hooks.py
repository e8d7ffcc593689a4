"""Schemathesis hooks for recipebox (loaded through SCHEMATHESIS_HOOKS by
`tests/api-fuzz/run`): real tokens for the routes that take one.

Each route gets the token its OpenAPI `security` names: the access token
for `access_token`, the refresh token for `refresh_token` (only
`POST /auth/refresh`); routes without one are sent as generated. The
tokens come from a password login of an admin that `run` created, so the
admin routes are exercised too. A fuzzed logout, refresh or password change
can end that session; the next 401 makes schemathesis log in again. The
fuzzer may do anything to other accounts, but not disable, demote or delete
this one (it could, once it has made another admin through a stateful
chain): then nothing after it would run with a token.
"""

import json
import os
import urllib.request

import schemathesis

BASE = os.environ["RECIPEBOX_FUZZ_BASE"]
EMAIL = os.environ["RECIPEBOX_FUZZ_EMAIL"]
PASSWORD = os.environ["RECIPEBOX_FUZZ_PASSWORD"]


def login():
    body = json.dumps({"email": EMAIL, "password": PASSWORD}).encode()
    request = urllib.request.Request(
        f"{BASE}/api/v1/auth/login", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


ADMIN_ID = login()["user"]["public_id"]


@schemathesis.hook
def filter_path_parameters(context, path_parameters):
    return not path_parameters or path_parameters.get("public_id") != ADMIN_ID


def schemes(case):
    requirements = case.operation.definition.raw.get("security") or []
    return {name for requirement in requirements for name in requirement}


@schemathesis.auth(retry_on=[401])
class RecipeboxTokens:
    def get(self, case, context):
        return login()

    def set(self, case, data, context):
        names = schemes(case)
        if "refresh_token" in names:
            token = data["refresh_token"]
        elif "access_token" in names:
            token = data["access_token"]
        else:
            return
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {token}"
