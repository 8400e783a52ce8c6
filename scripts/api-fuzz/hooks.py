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


def _integral_floats_to_ints(value):
    # JSON Schema calls 3.0 an integer; serde (rightly) does not read `3.0` into an i32. The
    # generator's `3.0` and `3` are one value to the document: send the form a client would.
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, list):
        return [_integral_floats_to_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral_floats_to_ints(v) for k, v in value.items()}
    return value


@schemathesis.hook("before_call")
def integral_numbers(ctx, case, kwargs):
    if isinstance(case.body, (dict, list, float)):
        case.body = _integral_floats_to_ints(case.body)


# Rules between two fields or against stored state, which JSON Schema cannot state: a request
# refused only for these is refused for its content, not its form. Matched by field and message
# prefix, so any other validation error still fails the run.
RELATIONAL_RULES = {
    ("to", "must not be before `from`"),
    ("to", "must be after `from`"),
    ("interval", "the range holds more than"),
    ("expires_at", "must be later than the current expiry"),
    ("vat_id", "is not a well-formed VAT id of"),  # an EU VAT id has its country's shape
    ("percent_off", "give either percent_off or amount_off"),
    ("duration", "`repeating` needs duration_in_months"),
    ("duration", "duration_in_months is only for"),
    ("amount_off", "must be positive, on the currency's minor unit"),  # Money is shared: signed
    ("tiers", "a non-empty list of known tier codes"),  # rows of the tiers table
    ("expires_at", "must be in the future"),  # against the clock
}


def _relational(error):
    """A rule between fields (or between a field and the range it spans) that no OpenAPI schema can say."""
    message = error.get("message") or ""
    return any(error.get("field") == field and message.startswith(prefix) for field, prefix in RELATIONAL_RULES)


@schemathesis.check
def valid_requests_pass_validation(ctx, response, case):
    """A request the document calls valid may be refused for who sends it or for the state of
    things (401, 403, 404, 409, 422 with a domain code such as `insufficient_tokens`), never for
    its form: a 400/415, or a 422 `validation_failed`, means the document and the server disagree."""
    meta = case._meta
    if meta is None or meta.generation.mode.is_negative:
        return None
    if case.operation.path == "/api/payments/webhook":
        # Authenticated by Stripe's signature, which no generated request carries: always 400.
        return None
    code, errors = None, []
    try:
        problem = response.json()
        code, errors = problem.get("code"), problem.get("errors") or []
    except Exception:
        pass
    if code == "validation_failed" and errors and all(_relational(e) for e in errors):
        return None
    if response.status_code in (400, 415) or (response.status_code == 422 and code == "validation_failed"):
        raise AssertionError(
            f"a request valid by the document was refused for its form: {response.status_code} {response.text[:300]}"
        )
    return None


# Rules of the newer operations (kept here so the check's line, part of every baseline
# signature, does not move).
RELATIONAL_RULES |= {
    ("promotion_code", "use a voucher or a promotion code, not both"),  # between two fields
    ("event_id", "give exactly one of event_id and failed_since"),  # between two fields
    ("to", "a test clock only moves forward"),  # against the clock's stored time
    ("currency", "this course is not sold in"),  # against the course's stored prices
}


# Rules against the world's state whose message names the value first, so no prefix matches it:
# the webhooks SSRF guard resolves an endpoint's host (`webhooks::guard::check`), and whether a
# name resolves, and to a public address, is the network's answer, not the request's form.
# Matched by field and a part of the message.
RELATIONAL_PARTS = {
    ("url", " does not resolve"),
    ("url", " did not resolve in time"),
    ("url", " otherwise non-public address "),
}
_relational_by_prefix = _relational


def _relational(error):  # noqa: F811 (extends the rule above; the check looks it up when it runs)
    message = error.get("message") or ""
    return _relational_by_prefix(error) or any(
        error.get("field") == field and part in message for field, part in RELATIONAL_PARTS
    )


# Appended (earlier lines keep their numbers: the baseline's signatures name them). A rule that
# depends on who calls, not on the request: an instructor's course promotion code must name its
# courses (an admin's may cover the whole catalogue), and the fuzzer calls with either role.
RELATIONAL_RULES.add(("course_ids", "an instructor's code names its courses"))
