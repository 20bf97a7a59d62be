"""Response checks and captures: each rule passes what it should and fails with a reason worded from the profile."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from harness.checks import (
    ABSENT, OUTCOMES, PRESENT, UNVERIFIABLE, Capture, Check, capture, failure, read_outcome, substitute, write_outcome,
)

EXAMPLES = int(os.environ.get("CHAOS_FUZZ_EXAMPLES", "200"))
JSON = b'{"items": [{"id": 7, "name": "abc"}], "ok": true, "error": null, "count": 1}'


def check(**rules) -> Check:
    return Check.model_validate(rules)


def test_statuses_accept_codes_and_classes_and_a_redirect_fails_unless_accepted():
    assert failure(check(), 204, {}, b"") is None
    assert failure(check(), 302, {"Location": "/setup"}, b"") == "status 302"
    assert failure(check(status=[200, "3xx"]), 302, {}, b"") is None
    assert failure(check(status=["2xx"]), 404, {}, b"") == "status 404"
    assert failure(check(status=["200"]), 200, {}, b"") is None  # a code given as text
    assert failure(check(status=[202, "3xx"]), 200, {}, b"") == "check status 202/3xx: got 200"  # the check's word


def test_body_texts_and_patterns_use_the_writes_values_but_reasons_name_the_profiles_words():
    rules = check(contains="{id}", not_contains=["error"], regex=r"^\{.*\}$")
    assert failure(rules, 200, {}, b'{"name": "abc"}', {"id": "abc"}) is None
    assert failure(rules, 200, {}, b'{"name": "xyz"}', {"id": "abc"}) == 'check contains {id}: not in the body'
    assert failure(rules, 200, {}, b'{"error": "abc"}', {"id": "abc"}) == "check not_contains error: in the body"
    assert failure(check(regex="id={id}$"), 200, {}, b"id=a.c", {"id": "a.c"}) is None
    assert failure(check(regex="id={id}$"), 200, {}, b"id=abc", {"id": "a.c"}) is not None  # the value is escaped


def test_json_queries_need_a_json_body_and_say_what_they_got():
    assert failure(check(json={"query": "items[0].id", "equals": 7}), 200, {}, JSON) is None
    assert failure(check(json={"query": "items[0].id", "equals": "{captured.id}"}), 200, {}, JSON,
                   {"captured.id": "7"}) is None  # a captured id is text; the body has a number
    assert failure(check(json={"query": "items[1].id", "exists": True}), 200, {}, JSON) == \
        "check json items[1].id exists true: got null"
    assert failure(check(json={"query": "[]", "not_empty": True}), 200, {}, b"[]") == \
        "check json [] not_empty true: got []"
    assert failure(check(json={"query": "ok", "equals": 1}), 200, {}, JSON) == "check json ok equals 1: got true"
    assert failure(check(json={"query": "ok", "equals": True}), 200, {}, b"<html>") == \
        "check json: the body is not JSON"


def test_a_json_query_finds_this_writes_item_by_its_id_whatever_quotes_the_id_holds():
    rules = check(json={"query": "results[?name=='{id}']", "not_empty": True})
    body = json.dumps({"results": [{"name": "a'b\\c"}, {"name": "x"}]}).encode()
    assert failure(rules, 200, {}, body, {"id": "a'b\\c"}) is None
    assert failure(rules, 200, {}, body, {"id": "a"}) == "check json results[?name=='{id}'] not_empty true: got []"


def test_headers_are_looked_up_without_regard_to_case():
    rules = check(headers={"Content-Type": {"matches": "json"}, "Location": {"present": False}})
    assert failure(rules, 200, {"content-type": "application/json"}, b"") is None
    assert failure(rules, 200, {"content-type": "text/html"}, b"") == \
        "check header Content-Type matches json: got text/html"
    assert failure(rules, 200, {"content-type": "application/json", "LOCATION": "/setup"}, b"") == \
        "check header Location: present"
    assert failure(check(headers={"X-A": {"equals": "{id}"}}), 200, {}, b"", {"id": "1"}) == "check header X-A: missing"


def test_a_size_bound_fails_a_larger_body():
    assert failure(check(max_bytes=3), 200, {}, b"abcd") == "check max_bytes 3: got 4"


@pytest.mark.parametrize("rules, wrong", [
    ({"status": ["6xx"]}, "status"), ({"status": [99]}, "status"), ({"regex": "("}, "regex"),
    ({"json": {"query": "items[", "exists": True}}, "json"), ({"json": {"query": "a"}}, "json"),
    ({"json": {"query": "a", "exists": True, "equals": 1}}, "json"),
    ({"headers": {"Location": {"present": False, "equals": "x"}}}, "headers"), ({"contain": "x"}, "contain"),
    ({"json": {"query": "a", "equals": float("inf")}}, "JSON value"),
])
def test_a_check_that_cannot_be_meant_is_refused_naming_its_key(rules, wrong):
    with pytest.raises(ValidationError) as error:
        Check.model_validate(rules)
    assert wrong in str(error.value)


def test_captures_take_a_json_value_or_a_pattern_group_from_a_header_or_the_body():
    rules = {"id": Capture.model_validate({"json": "items[0].id"}),
             "at": Capture.model_validate({"header": "location", "regex": r"/items/(\d+)"}),
             "name": Capture.model_validate({"regex": r'"name": "(\w+)"'})}
    found, problem = capture(rules, {"Location": "/items/7"}, JSON)
    assert problem is None and found == {"captured.id": "7", "captured.at": "7", "captured.name": "abc"}
    assert capture({"id": rules["id"]}, {}, b'{"items": []}') == ({}, "capture id: nothing found")
    assert capture({"at": rules["at"]}, {}, JSON) == ({}, "capture at: nothing found")


def test_a_write_is_acknowledged_only_when_its_status_and_captures_both_hold():
    captures = {"id": Capture.model_validate({"json": "id"})}
    assert write_outcome(check(status=[201]), captures, 201, {}, b'{"id": 3}', {}) == ({"captured.id": "3"}, None)
    assert write_outcome(check(status=[201]), captures, 200, {}, b'{"id": 3}', {}) == ({}, "check status 201: got 200")
    assert write_outcome(check(status=[201]), captures, 201, {}, b"{}", {})[1] == \
        "acknowledged status, capture id: nothing found"


def test_a_read_back_is_present_absent_or_unverifiable():
    rules = check(status=[200], contains="{id}")
    values = {"id": "abc"}
    assert read_outcome(rules, None, 200, {}, b"abc", values) == (PRESENT, None)
    assert read_outcome(rules, None, 200, {}, b"[]", values)[0] == ABSENT  # a search that found nothing
    assert read_outcome(rules, None, 404, {}, b"", values)[0] == ABSENT
    for status in (0, 302, 429, 500, 503):
        assert read_outcome(rules, None, status, {}, b"", values)[0] == UNVERIFIABLE
    absent = check(status=[404])
    assert read_outcome(rules, absent, 404, {}, b"", values)[0] == ABSENT
    assert read_outcome(rules, absent, 200, {}, b"[]", values)[0] == UNVERIFIABLE  # says neither, as stated


def test_placeholders_are_replaced_and_unknown_ones_kept():
    assert substitute("/items/{captured.id}?q={id}&x={other}", {"id": "a", "captured.id": "7"}) == \
        "/items/7?q=a&x={other}"


# -- fuzz: random bodies, JSON and headers against random checks ------------------------------------------------

texts = st.text(max_size=20)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | texts,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
                           max_leaves=20)
queries = st.sampled_from(["a", "a.b", "[0]", "items[0].id", "length(@)", "[?x > `1`]", "*.id", "@", "[?a=='{id}']"])
json_rules = st.builds(lambda q, kind, v: {"query": q, kind: v}, queries,
                       st.sampled_from(["equals", "exists", "not_empty"]), json_values).map(
    lambda r: r if "equals" in r else {**r, next(k for k in r if k != "query"): bool(r.get("exists", r.get("not_empty")))})
checks = st.builds(
    lambda status, contains, regex, rules, size, headers: Check.model_validate(
        {"status": status, "contains": contains, "regex": regex, "json": rules, "max_bytes": size, "headers": headers}),
    st.lists(st.integers(100, 599) | st.sampled_from(["1xx", "2xx", "3xx", "4xx", "5xx"]), min_size=1, max_size=3),
    st.lists(st.text(min_size=1, max_size=5), max_size=2), st.none() | st.sampled_from(["a+", "^{", r"\d", "{id}"]),
    st.lists(json_rules, max_size=2), st.none() | st.integers(0, 100),
    st.dictionaries(st.sampled_from(["Location", "Content-Type", "X-A"]),
                    st.sampled_from([{"present": True}, {"present": False}, {"equals": "x"}, {"matches": "j.on"}]),
                    max_size=2))
bodies = st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode())
headers = st.dictionaries(st.sampled_from(["location", "CONTENT-TYPE", "x-a", "X-B"]), texts, max_size=3)


@settings(max_examples=EXAMPLES, deadline=None)
@given(checks, st.integers(0, 599), headers, bodies, st.dictionaries(st.sampled_from(["id", "captured.id"]), texts))
def test_any_check_on_any_answer_passes_or_fails_with_a_reason_and_never_raises(rules, status, found, body, values):
    assert Check.model_validate(rules.model_dump(mode="json", by_alias=True)) == rules  # as the load process reads it
    reason = failure(rules, status, found, body, values)
    assert reason is None or (isinstance(reason, str) and reason)
    if reason is None:
        assert rules.accepts(status)
    outcome, why = read_outcome(rules, None, status, found, body, values)
    assert outcome in OUTCOMES and (why is None) == (outcome == PRESENT)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-z]{1,5}", fullmatch=True),
                       st.sampled_from([{"json": "id"}, {"json": "items[0].id"}, {"regex": r"(\d+)"},
                                        {"header": "Location", "regex": r"/(\w+)$"}, {"header": "X-A"}]),
                       max_size=3),
       headers, bodies)
def test_a_capture_finds_a_value_for_every_name_or_says_which_found_nothing(rules, found, body):
    values, problem = capture({k: Capture.model_validate(v) for k, v in rules.items()}, found, body)
    if problem is None:
        assert set(values) == {f"captured.{k}" for k in rules} and all(isinstance(v, str) and v for v in values.values())
    else:
        assert problem.startswith("capture ") and problem.split()[1].rstrip(":") in rules
