"""Property: whatever JSON body arrives at an accounts endpoint, the answer is never a 500,
and a 400 names the offending fields."""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

ENDPOINTS = {
    ("POST", "/api/auth/signup"): ["email", "password", "first_name", "last_name"],
    ("POST", "/api/auth/login"): ["email", "password"],
    ("POST", "/api/auth/refresh"): ["refresh_token"],
    ("POST", "/api/auth/logout"): ["refresh_token"],
    ("POST", "/api/auth/forgot-password"): ["email"],
    ("POST", "/api/auth/reset-password"): ["token", "password"],
    ("PUT", "/api/settings/profile"): ["first_name", "last_name"],
    ("PUT", "/api/settings/password"): ["current_password", "new_password"],
    ("PUT", "/api/settings/marketing"): ["enabled"],
    ("POST", "/api/keys"): ["name"],
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.text(alphabet="\x00\ud800ab@.", max_size=12),
    st.sampled_from(["a@b.co", "USER@Example.com ", "correct horse battery", "x" * 300]),
)
values = st.one_of(
    scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=5), scalars, max_size=2)
)


@st.composite
def requests(draw):
    endpoint = draw(st.sampled_from(sorted(ENDPOINTS)))
    fields = ENDPOINTS[endpoint]
    body = draw(
        st.one_of(
            st.fixed_dictionaries({}, optional={name: values for name in fields}),
            st.dictionaries(st.text(max_size=8), values, max_size=3),
            values,
        )
    )
    return endpoint, body


@hypothesis_settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests())
async def test_accounts_endpoints_never_500_and_name_bad_fields(app, client, signed_in, request):
    await app.state.redis.flushdb()  # keep rate limits out of the way of the property
    (method, path), body = request
    content = json.dumps(body)  # ASCII-escaped, so lone surrogates travel as the JSON escapes they are
    response = await client.request(
        method, path, content=content, headers={**signed_in.headers, "Content-Type": "application/json"}
    )
    assert response.status_code < 500, response.text
    payload = response.json()
    if response.status_code >= 400:
        assert {"detail", "code"} <= payload.keys()
    if response.status_code == 400:
        # the body key a named field starts with: `email`, `email.x` or `email[0]`
        fields = {re.split(r"[.\[]", error["field"])[0] for error in payload["errors"]}
        assert fields and fields <= {*ENDPOINTS[(method, path)], "body"}, payload
