"""Schemathesis hooks for scripts/api-fuzz.sh: who calls, and on which seeded data.

Identity: each case is sent with one of three real JWTs (the first user, a second user, an
admin), picked from a hash of the case itself, so a case and its replay (shrinking, the
reproduction printed on failure) always carry the same identity, and every operation is
exercised by all three.

Data: a generated UUID in a path is mostly a resource that does not exist (a 404). For half of
the cases, again picked by hash, a well-formed path id is replaced by the id of a resource the
test seeded (API_FUZZ_SEEDS, JSON: {"<path template>": {"<param>": "<id>"}}), so operations
also run on real courses, licenses, organisations, payments and tickets. Ids the generator made
malformed on purpose are left alone (they are the negative part of the case); Schemathesis
re-validates the case after this hook, so a replaced id never turns a negative case positive
unnoticed.
"""

import hashlib
import json
import os
import uuid

import schemathesis

TOKENS = [os.environ["API_FUZZ_TOKEN_USER"], os.environ["API_FUZZ_TOKEN_OTHER"], os.environ["API_FUZZ_TOKEN_ADMIN"]]
SEEDS = json.loads(os.environ.get("API_FUZZ_SEEDS", "{}"))


def _digest(case, salt):
    key = repr((salt, case.method, case.path, case.path_parameters, case.query, case.body))
    return int(hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest(), 16)


def _is_uuid(value):
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@schemathesis.auth(refresh_interval=None)
class RotatingBearer:
    def get(self, case, ctx):
        return TOKENS[_digest(case, "who") % len(TOKENS)]

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook
def before_call(ctx, case, kwargs):
    seeded = SEEDS.get(case.path)
    if not seeded or not case.path_parameters or _digest(case, "seed") % 2:
        return
    for name, value in seeded.items():
        if _is_uuid(case.path_parameters.get(name, "")):
            case.path_parameters[name] = value
