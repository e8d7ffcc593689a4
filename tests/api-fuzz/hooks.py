"""Schemathesis hooks for recipebox (loaded through SCHEMATHESIS_HOOKS by
`tests/api-fuzz/run`): real tokens for the routes that take one.

Each route gets the token its OpenAPI `security` names: the access token
for `access_token`, the refresh token for `refresh_token` (only
`POST /auth/refresh`); routes without one are sent as generated. A route
that also takes a `personal_access_token` gets, every other time, a
personal access token with every scope, made as a person makes one (log
in on the page, then `/me/tokens`). The
tokens come from a password login of an admin that `run` created, so the
admin routes are exercised too. A fuzzed logout, refresh or password change
can end that session; the next 401 makes schemathesis log in again. The
fuzzer may do anything to other accounts, but not disable, demote or delete
this one (it could, once it has made another admin through a stateful
chain): then nothing after it would run with a token.
"""

import http.client
import itertools
import json
import os
import re
import urllib.parse
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


def personal_token():
    """A personal access token with every scope, through the pages. The
    cookies are kept by hand: they are `Secure`, which a cookie jar would
    not send back over plain http."""
    address = urllib.parse.urlsplit(BASE)
    cookies = {}

    def request(method, path, fields=None):
        body, headers = None, {}
        if fields is not None:
            html = request("GET", path)
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
            body = urllib.parse.urlencode({**fields, "csrf_token": csrf}, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        connection.request(method, path, body, headers)
        response = connection.getresponse()
        text = response.read().decode()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            cookies[name] = rest.split(";")[0]
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status}")
        return text

    request("POST", "/login", {"email": EMAIL, "password": PASSWORD})
    scopes = ["recipes:read", "recipes:write", "account:read", "admin"]
    html = request("POST", "/me/tokens", {"name": "fuzzing", "scopes": scopes, "expires_in_days": "7"})
    return re.search(r'id="new-token"[^>]*>\s*([^<\s]+)', html).group(1)


PERSONAL_TOKEN = personal_token()
TAKE_TURNS = itertools.cycle([False, True])


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
        if "personal_access_token" in names and next(TAKE_TURNS):
            token = PERSONAL_TOKEN
        elif "refresh_token" in names:
            token = data["refresh_token"]
        elif "access_token" in names:
            token = data["access_token"]
        else:
            return
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {token}"
