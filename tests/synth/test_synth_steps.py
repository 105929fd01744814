"""The teacher steps, one module each: the registry, each step's reply checks, the offline teacher's dispatch."""

from __future__ import annotations

import asyncio

from tooldojo.synth.config import TeacherConfig
from tooldojo.synth.offline import OfflineTeacher
from tooldojo.synth.request import TeacherRequest
from tooldojo.synth.steps import (
    RESPONSE_SCHEMAS,
    STEPS,
    TEMPLATE_NAMES,
    arguments,
    queries,
    tools,
    upgrade,
    verify,
    weaken,
)
from tooldojo.synth.steps.base import Rejected
from tooldojo.synth.templates import TemplateSet

FN = {"name": "find_items", "description": "Find items in the shop catalog.",
      "parameters": {"type": "object", "properties": {"q": {"type": "string", "description": "search text"},
                                                      "limit": {"type": "integer", "description": "at most",
                                                                "minimum": 1}},
                     "required": ["q"]}}


def test_the_registry_lists_every_step_once_with_its_template():
    assert list(STEPS) == ["tools", "upgrade", "weaken", "queries", "arguments", "verify"]
    assert (*STEPS, "reask") == TEMPLATE_NAMES
    assert {name: step.schema for name, step in STEPS.items()} == RESPONSE_SCHEMAS
    ts = TemplateSet()
    ts.check()
    assert set(ts.versions) == set(TEMPLATE_NAMES)


def test_a_step_request_carries_its_schema_and_the_run_templates_reask():
    ts = TemplateSet()
    req = STEPS["arguments"].request(ts, query="find shoes", tool=FN, arguments={"q": 1}, errors=["q: bad"])
    assert (req.step, req.schema) == ("arguments", arguments.SCHEMA)
    assert req.messages == ts.render("arguments", query="find shoes", tool=FN, arguments={"q": 1}, errors=["q: bad"])
    assert req.reask("not JSON") == ts.render("reask", error="not JSON", schema=arguments.SCHEMA)


def test_tools_read_keeps_valid_new_tools_and_names_every_rejection():
    bad = {**FN, "name": "x y"}
    avoid = ["taken"]
    kept, rejected = tools.read({"tools": [FN, {**FN, "name": "taken"}, bad, {**FN, "name": "extra"}]}, 3, avoid)
    assert [f["name"] for f in kept] == ["find_items"] and avoid == ["taken", "find_items"]
    assert [r.reason for r in rejected] == ["over_count", "duplicate_name", "invalid_tool"]


def test_upgrade_and_weaken_read_refuse_the_same_name():
    assert upgrade.read({"strong": FN, "capability_gap": "adds a limit"}, FN) == Rejected("same_name", "find_items")
    strong, gap = upgrade.read({"strong": {**FN, "name": "find_items_pro"}, "capability_gap": " adds a limit "}, FN)
    assert (strong["name"], gap) == ("find_items_pro", "adds a limit")
    assert weaken.read({"weak": FN, "capability_gap": "no limit here", "domain": "Shop"}, FN).reason == "same_name"
    weak, _, domain = weaken.read({"weak": {**FN, "name": "find"}, "capability_gap": "no limit", "domain": "Pet Shop"},
                                  FN)
    assert (weak["name"], domain) == ("find", "pet_shop")


def test_arguments_read_refuses_a_repair_that_still_fails_the_schema():
    assert arguments.read({"arguments": {"q": "shoes", "limit": 2}}, FN) == {"q": "shoes", "limit": 2}
    assert arguments.read({"arguments": {"limit": 0}}, FN).reason == "invalid_arguments"


def test_queries_read_checks_count_style_weak_call_and_duplicates():
    plan = [{"style": "question", "needs": "weak"}] * 4
    call = {"weak": {"q": "a"}, "strong": {"q": "a"}}
    items = [{"text": "Find  shoes?", "style": "Question", "needs": "weak", "calls": call},
             {"text": "find shoes?", "style": "question", "needs": "weak", "calls": call},
             {"text": "Find hats", "style": "poem", "needs": "weak", "calls": call},
             {"text": "Find socks", "style": "question", "needs": "weak", "calls": {"weak": None, "strong": {}}}]
    drafts, rejected = queries.read({"queries": items}, plan, ["question"])
    assert [d.text for d in drafts] == ["Find shoes?"]
    assert [r.reason for r in rejected] == ["duplicate_query", "unknown_style", "missing_weak_call"]
    _, rejected = queries.read({"queries": items[:1]}, plan[:2], ["question"])
    assert [r.reason for r in rejected] == ["under_count"]


def test_verify_read_gives_one_verdict_per_query():
    data = {"verdicts": [{"index": 0, "accept": True}, {"index": 0, "accept": False}, {"index": 2, "accept": False,
                                                                                       "reason": "off"}]}
    assert verify.read(data, 3) == [None, Rejected("no_verdict"), Rejected("rejected", "off")]


def test_the_offline_teacher_answers_through_the_step_and_refuses_an_unknown_one():
    teacher = OfflineTeacher(TeacherConfig(model="offline", cache=False))
    ts = TemplateSet()

    async def go():
        ok = await teacher.ask(STEPS["arguments"].request(ts, query="q", tool=FN, arguments={"q": "s", "limit": "0"},
                                                          errors=[]))
        unknown = await teacher.ask(TeacherRequest("nope", [{"role": "user", "content": "?"}], {"type": "object"}))
        return ok, unknown

    ok, unknown = asyncio.run(go())
    assert ok.data == {"arguments": {"q": "s", "limit": 1}}
    assert unknown.data is None and unknown.error.startswith("unanswerable")
