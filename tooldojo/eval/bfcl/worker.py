"""Runs inside the isolated ``bfcl-eval`` environment (not tooldojo's): BFCL's data and AST checker over JSON.

Usage: ``<bfcl-venv>/bin/python worker.py`` with one JSON request on stdin, one JSON reply on stdout::

    {"op": "info"}
    {"op": "load", "categories": ["simple_python", "live"]}
    {"op": "truth", "categories": ["simple_python"]}
    {"op": "check", "results": {"simple_python": [{"id": ..., "decoded": [{"f": {"a": 1}}], "error": null}]}}

``load`` returns, per category, the entries as BFCL's own generation step prepares them (language hint added,
function docs converted to OpenAI tools with BFCL's converter, names with dots rewritten and mapped back).
``truth`` returns BFCL's possible answers (for inspection and scripted tests). ``check`` scores decoded calls exactly as BFCL's evaluation does for single-turn categories: relevance and
irrelevance by whether a function call was produced (``is_empty_output``), the others with ``ast_checker``
after the output-format check. Only the standard library and ``bfcl_eval`` are imported here.
"""

import contextlib
import json
import os
import sys


def _single_turn_python(categories):
    from bfcl_eval.constants.category_mapping import SINGLE_TURN_CATEGORY
    from bfcl_eval.utils import is_java, is_js, parse_test_category_argument

    try:
        names = parse_test_category_argument(categories)
    except Exception as err:
        raise ValueError(str(err)) from None
    bad = [c for c in names if c not in SINGLE_TURN_CATEGORY or is_java(c) or is_js(c)]
    if bad:
        raise ValueError(f"not a single-turn Python category: {', '.join(bad)} "
                         f"(supported: {', '.join(c for c in SINGLE_TURN_CATEGORY if not is_java(c) and not is_js(c))})")
    return names


def op_info(req):
    from importlib.metadata import version

    from bfcl_eval.constants.category_mapping import SINGLE_TURN_CATEGORY, TEST_COLLECTION_MAPPING

    return {"version": version("bfcl-eval"), "single_turn": SINGLE_TURN_CATEGORY,
            "collections": {k: v for k, v in TEST_COLLECTION_MAPPING.items() if set(v) <= set(SINGLE_TURN_CATEGORY)}}


def op_load(req):
    from bfcl_eval.constants.enums import ModelStyle
    from bfcl_eval.constants.type_mappings import GORILLA_TO_OPENAPI
    from bfcl_eval.model_handler.utils import convert_to_tool
    from bfcl_eval.utils import is_relevance_or_irrelevance, load_dataset_entry

    out = {}
    for cat in _single_turn_python(req["categories"]):
        entries = []
        for e in load_dataset_entry(cat, include_prereq=False, include_language_specific_hint=True):
            tools = convert_to_tool(e["function"], GORILLA_TO_OPENAPI, ModelStyle.OPENAI_COMPLETIONS)
            names = {t["function"]["name"]: f["name"] for t, f in zip(tools, e["function"], strict=True)}
            entries.append({"id": e["id"], "messages": e["question"][0], "tools": tools, "names": names})
        out[cat] = {"relevance": bool(is_relevance_or_irrelevance(cat)), "entries": entries}
    return {"categories": out}


def op_truth(req):
    from bfcl_eval.utils import is_relevance_or_irrelevance, load_ground_truth_entry

    out = {}
    for cat in _single_turn_python(req["categories"]):
        if not is_relevance_or_irrelevance(cat):
            out[cat] = {g["id"]: g["ground_truth"] for g in load_ground_truth_entry(cat)}
    return {"truth": out}


def _checker_model_key():
    # ast_checker consults the model's config only to rewrite '.' in function names; tooldojo maps names
    # back itself, so any model registered without that rewrite will do.
    from bfcl_eval.constants.model_config import MODEL_CONFIG_MAPPING

    for key, cfg in MODEL_CONFIG_MAPPING.items():
        if not cfg.underscore_to_dot and "_" not in key:
            return key.replace("/", "_")
    raise RuntimeError("no suitable model key in bfcl_eval's MODEL_CONFIG_MAPPING")


def op_check(req):
    from bfcl_eval.constants.enums import Language
    from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
    from bfcl_eval.utils import (
        is_empty_output,
        is_function_calling_format_output,
        is_relevance_or_irrelevance,
        load_dataset_entry,
        load_ground_truth_entry,
    )

    model_key = _checker_model_key()
    out = {}
    for cat, items in req["results"].items():
        _single_turn_python([cat])
        prompts = {e["id"]: e for e in load_dataset_entry(cat, include_prereq=False,
                                                          include_language_specific_hint=False)}
        truth = {} if is_relevance_or_irrelevance(cat) else {g["id"]: g for g in load_ground_truth_entry(cat)}
        verdicts = []
        for item in items:
            decoded, error = item.get("decoded"), item.get("error")
            if is_relevance_or_irrelevance(cat):
                has_call = error is None and not is_empty_output(decoded)
                valid = not has_call if "irrelevance" in cat else has_call
                v = {"id": item["id"], "valid": valid}
                if not valid:
                    v["error_type"] = ("irrelevance_error:decoder_success" if "irrelevance" in cat
                                       else "relevance_error:decoder_failed")
                verdicts.append(v)
                continue
            if error is not None:
                verdicts.append({"id": item["id"], "valid": False, "error_type": "ast_decoder:decoder_failed",
                                 "error": [error]})
                continue
            if not is_function_calling_format_output(decoded):
                verdicts.append({"id": item["id"], "valid": False,
                                 "error_type": "ast_decoder:decoder_wrong_output_format"})
                continue
            res = ast_checker(prompts[item["id"]]["function"], decoded, truth[item["id"]]["ground_truth"],
                              Language.PYTHON, cat, model_key)
            verdicts.append({"id": item["id"], "valid": bool(res["valid"]), "error_type": res.get("error_type"),
                             "error": res.get("error")})
        out[cat] = verdicts
    return {"verdicts": out}


OPS = {"info": op_info, "load": op_load, "truth": op_truth, "check": op_check}


def main():
    req = json.loads(sys.stdin.read() or "{}")
    os.environ.setdefault("BFCL_PROJECT_ROOT", req.get("project_root") or os.getcwd())
    real_stdout = sys.stdout
    try:
        with contextlib.redirect_stdout(sys.stderr):  # bfcl_eval prints progress; keep stdout for JSON
            reply = OPS[req.get("op", "info")](req)
    except ValueError as err:
        reply = {"user_error": str(err)}
    real_stdout.write(json.dumps(reply, default=str))
    real_stdout.flush()


if __name__ == "__main__":
    main()
