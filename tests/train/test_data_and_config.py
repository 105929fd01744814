"""Training data preparation (loss mask, budgets, call formats) and the phase plan."""

from __future__ import annotations

import pytest

from tooldojo.config import load_config
from tooldojo.errors import ConfigError, DataError
from tooldojo.runs import config_hash
from tooldojo.train import TrainConfig
from tooldojo.train import data as D
from tooldojo.train.runner import plan


def test_sft_rows_mask_exactly_the_completion(split_run, gemma_tokenizer):
    raw = D.load_split(split_run / "split" / "dataset", "select")
    prep = D.prepare_sft(raw, gemma_tokenizer, task="select", call_format="json", max_length=4096,
                         max_examples=None, seed=0)
    assert prep.rows_in == prep.rows_used == 8 and prep.too_long == 0
    targets = {r["completion"][0]["content"] for r in raw}
    for row in prep.dataset:
        ids, mask = row["input_ids"], row["completion_mask"]
        assert len(ids) == len(mask) and mask[0] == 0 and mask[-1] == 1
        start = mask.index(1)
        assert all(mask[start:])  # one contiguous completion at the end
        text = gemma_tokenizer.decode(ids[start:])
        assert any(text.startswith(t + gemma_tokenizer.eos_token) for t in targets)
        assert gemma_tokenizer.decode(ids[:start]).endswith("### Assistant\n")
        assert ids.count(gemma_tokenizer.bos_token_id) == 1
    assert prep.completion_tokens < prep.max_tokens


def test_budgets_drop_rows_never_cut_them(split_run, gemma_tokenizer):
    raw = D.load_split(split_run / "split" / "dataset", "rank")
    full = D.prepare_sft(raw, gemma_tokenizer, task="rank", call_format="json", max_length=4096,
                         max_examples=None, seed=0)
    limit = sorted(len(r["input_ids"]) for r in full.dataset)[3]
    cut = D.prepare_sft(raw, gemma_tokenizer, task="rank", call_format="json", max_length=limit,
                        max_examples=None, seed=0)
    assert cut.rows_used + cut.too_long + cut.dropped_with_pair == 8 and cut.too_long >= 1
    assert max(len(r["input_ids"]) for r in cut.dataset) <= limit
    assert D.prepare_sft(raw, gemma_tokenizer, task="rank", call_format="json", max_length=4096, max_examples=3,
                         seed=0).rows_used == 3
    with pytest.raises(DataError, match=r"train\.rank\.max_length"):
        D.prepare_sft(raw, gemma_tokenizer, task="rank", call_format="json", max_length=64, max_examples=None,
                      seed=0)


def test_length_budget_keeps_zero_to_one_pairs_whole():
    rows = [{"query_id": "a", "kind": "zero"}, {"query_id": "a", "kind": "one"},
            {"query_id": "b", "kind": "zero"}, {"query_id": "b", "kind": "one"}, {"query_id": "b", "kind": "weak_strong"},
            {"query_id": "c", "kind": "zero"}, {"query_id": "c", "kind": "weak_strong"}]
    lengths = [90, 110, 80, 95, 130, 50, 200]
    # a's "one" row is too long: its "zero" row goes with it instead of teaching only generate_response for a;
    # c has no "one" row (not a pair): its "zero" row stays
    assert D.within_budget(rows, lengths, 100) == ([2, 3, 5], 3, 1)
    assert D.within_budget(rows, lengths, 1000) == (list(range(7)), 0, 0)
    # trimming distractors can leave the "zero" row the longer one: its "one" row goes with it too
    assert D.within_budget(rows[:2], [110, 90], 100) == ([], 1, 1)


def test_call_format_is_applied_to_select_rows(split_run, gemma_tokenizer):
    raw = D.load_split(split_run / "split" / "dataset", "select")
    prep = D.prepare_sft(raw, gemma_tokenizer, task="select", call_format="python", max_length=4096,
                         max_examples=None, seed=0)
    texts = [gemma_tokenizer.decode(r["input_ids"]) for r in prep.dataset]
    assert all("<answer>" in t and "<tool_call>" not in t.split("### Assistant")[-1] for t in texts)


def test_rl_prompts_are_rendered_with_their_tools(split_run, gemma_tokenizer):
    raw = D.load_split(split_run / "split" / "dataset", "select")
    prep = D.prepare_rl(raw, gemma_tokenizer, call_format="json", max_prompt_length=2048, max_examples=None, seed=0)
    row = next(r for r in prep.dataset if r["kind"] == "zero")
    assert row["prompt"].endswith("### Assistant\n") and "\nget_weather: Current weather for a city.\n" in row["prompt"]
    assert "map_search" not in row["prompt"] and row["gold_tool"] == "generate_response"
    ids = gemma_tokenizer(row["prompt"])["input_ids"]  # how TRL tokenizes text prompts: one BOS, not two
    assert ids.count(gemma_tokenizer.bos_token_id) == 1
    assert {"gold_arguments", "tools", "kind"} <= set(prep.dataset.column_names)
    with pytest.raises(DataError, match="max_prompt_length"):
        D.prepare_rl(raw, gemma_tokenizer, call_format="json", max_prompt_length=64, max_examples=None, seed=0)


def test_rl_prompts_of_chosen_kinds_only(split_run, gemma_tokenizer):
    raw = D.load_split(split_run / "split" / "dataset", "select")
    kw = {"call_format": "json", "max_prompt_length": 2048, "seed": 0}
    every = D.prepare_rl(raw, gemma_tokenizer, max_examples=None, **kw)
    serves = D.prepare_rl(raw, gemma_tokenizer, max_examples=None, kinds=["one", "weak_only", "weak_strong"], **kw)
    assert "zero" in set(every.dataset["kind"]) and "zero" not in set(serves.dataset["kind"])
    assert len(serves.dataset) == sum(k != "zero" for k in every.dataset["kind"]) > 0
    assert set(D.prepare_rl(raw, gemma_tokenizer, max_examples=3, kinds=["zero"], **kw).dataset["kind"]) == {"zero"}
    with pytest.raises(DataError, match=r"train\.rl\.kinds"):
        D.prepare_rl(raw, gemma_tokenizer, max_examples=None, kinds=["nope"], **kw)
    assert TrainConfig(rl={"kinds": ["one"]}).hashed() != TrainConfig().hashed()
    assert "kinds" not in TrainConfig().hashed()["rl"]  # at its default the setting leaves finished runs' hashes alone


def test_tools_render_compactly(gemma_tokenizer):
    """tooldojo's base template: one line per tool, one per parameter (required *, type, enum, bounds)."""
    import json

    from tests.train.conftest import MAP_SEARCH, WEATHER, WEB_SEARCH
    from tooldojo.prompting import build_prompt, openai_tools

    tools = openai_tools([WEB_SEARCH, WEATHER, MAP_SEARCH])
    text = gemma_tokenizer.apply_chat_template(build_prompt("hi"), tools=tools, tokenize=False,
                                               add_generation_prompt=True)
    assert "\nweb_search: Search the web; returns result titles and snippets.\n" in text
    assert "  query* (string): The search query.\n  num_results (integer, 1 to 20)\n" in text
    assert '  unit (string, one of "celsius", "fahrenheit")\n' in text and "  location* (string)\n" in text
    section = text.split("# Tools")[1].split("### User")[0]
    as_json = "\n".join(json.dumps(t["function"]) for t in tools)
    assert len(gemma_tokenizer(section)["input_ids"]) < 0.8 * len(gemma_tokenizer(as_json)["input_ids"])


def test_long_rows_lose_distractors_before_being_dropped(split_run, gemma_tokenizer):
    raw = D.load_split(split_run / "split" / "dataset", "select")
    full = D.prepare_sft(raw, gemma_tokenizer, task="select", call_format="json", max_length=4096,
                         max_examples=None, seed=0)
    budget = max(len(r["input_ids"]) for r in full.dataset) - 1  # the weak_strong rows (3 tools) no longer fit
    prep = D.prepare_sft(raw, gemma_tokenizer, task="select", call_format="json", max_length=budget,
                         max_examples=None, seed=0)
    assert prep.rows_used == 8 and prep.too_long == 0 and prep.drop_rate == 0 and prep.trimmed >= 1
    assert prep.summary()["distractors_removed"] == prep.distractors_removed >= prep.trimmed
    texts = [gemma_tokenizer.decode(r["input_ids"]) for r in prep.dataset]
    trimmed = [t for t in texts if "get_weather" not in t]
    assert len(trimmed) == prep.trimmed  # only the distractor went; family tools and generate_response stay
    assert all("\nweb_search:" in t and "\nmap_search:" in t and "\ngenerate_response:" in t for t in trimmed)
    rl = D.prepare_rl(raw, gemma_tokenizer, call_format="json", max_prompt_length=max(
        len(gemma_tokenizer(r["prompt"])["input_ids"]) for r in D.prepare_rl(
            raw, gemma_tokenizer, call_format="json", max_prompt_length=4096, max_examples=None, seed=0).dataset) - 1,
        max_examples=None, seed=0)
    assert rl.too_long == 0 and rl.trimmed >= 1
    assert all(("get_weather" in r["tools"]) == ("get_weather" in r["prompt"]) for r in rl.dataset)
    zero = next(r for r in raw if r["kind"] == "zero")
    sizes: list[int] = []
    got, _, removed = D.fit_tools(zero, D._tools(zero), lambda t: sizes.append(len(t)) or 10**9, 100)
    # a "zero" row that cannot fit keeps its one distractor (generate_response + 1): dropped, not emptied
    assert got is None and min(sizes) == 2 and removed == len(D._tools(zero)) - 2


def test_phase_plan_and_ablation():
    assert [(p.phase, p.start) for p in plan(TrainConfig())] == [("stage1", "base"), ("stage2", "stage1"),
                                                                  ("rl", "stage2")]
    no_stage1 = TrainConfig.model_validate({"rank": {"enabled": False}})
    assert [(p.phase, p.start) for p in plan(no_stage1)] == [("stage2", "base"), ("rl", "stage2")]
    zero = TrainConfig.model_validate({"rank": {"enabled": False}, "select": {"enabled": False},
                                       "rl": {"init": "base"}})
    assert [(p.phase, p.start) for p in plan(zero)] == [("rl", "base")]
    with pytest.raises(ConfigError, match=r"train\.rl\.init"):
        plan(zero.model_copy(update={"rl": zero.rl.model_copy(update={"init": "sft"})}))
    with pytest.raises(ConfigError):
        plan(TrainConfig.model_validate({"rank": {"enabled": False}, "select": {"enabled": False},
                                         "rl": {"enabled": False}}))


def test_rl_batch_must_hold_whole_groups():
    with pytest.raises(ConfigError, match="num_generations"):
        load_config(overrides=["train.rl.batch_size=6", "train.rl.num_generations=4"])
    assert load_config(overrides=["train.rl.batch_size=8"]).train.rl.batch_size == 8


def test_estimate_with_a_hub_id_that_cannot_load_is_one_line(split_run):
    """Offline (the tests' environment), an uncached Hub id is refused in one line naming the model."""
    from typer.testing import CliRunner

    from tooldojo.cli import app

    res = CliRunner().invoke(app, ["train", "--run-dir", str(split_run), "--model", "nobody/no-such-model-xyz",
                                   "--estimate"])
    assert res.exit_code == 2
    line = res.output.strip()
    assert len(line.splitlines()) == 1 and "nobody/no-such-model-xyz" in line and "fix:" in line
    assert "Traceback" not in res.output


def test_old_stage_keys_are_read_as_rank_and_select_with_one_line_each(tmp_path, caplog):
    old_file = tmp_path / "old.yaml"
    old_file.write_text("train:\n  stage1:\n    max_steps: 7\n    batch_size: 3\n  stage2:\n    enabled: false\n")
    with caplog.at_level("WARNING", logger="tooldojo.train"):
        cfg = load_config(old_file, ["train.stage1.max_steps=9"], preset="demo").train
    assert cfg.rank.max_steps == 9 and cfg.rank.batch_size == 3      # the override wins over the file
    assert cfg.rank.max_length == 1024 and not cfg.select.enabled     # the preset's other settings are kept
    lines = [r.getMessage() for r in caplog.records]
    assert "train.stage1 is deprecated: use train.rank (the same settings, renamed)" in lines
    assert any("use train.select" in line for line in lines) and all("\n" not in line for line in lines)
    # precedence follows the source, whichever name each uses: a new-name override beats an old-name file
    assert load_config(old_file, ["train.rank.max_steps=11"]).train.rank.max_steps == 11
    both = TrainConfig.model_validate({"rank": {"max_steps": 2, "batch_size": 5}, "stage1": {"max_steps": 4}})
    assert (both.rank.max_steps, both.rank.batch_size) == (4, 5)      # one mapping: the old key's settings win
    with pytest.raises(ConfigError, match=r"train\.rank\.max_stepz"):
        load_config(overrides=["train.stage1.max_stepz=3"])


def test_config_hash_is_unchanged_by_the_rename():
    # the default config's hash before stage1/stage2 were renamed rank/select (commit ffc5be5): run folders
    # trained then stay up to date
    assert config_hash(TrainConfig(seed=0).hashed()) == "45f156d0ce235d5e"
    assert config_hash(TrainConfig(seed=0)) != "45f156d0ce235d5e"     # hashing the model itself would rerun them


def test_scale_rewards_at_its_default_leaves_finished_runs_up_to_date():
    from tooldojo.train.runner import phase_hash

    # the stage hash (test above: unchanged since before the setting existed) and the RL phase's own hash
    assert config_hash(TrainConfig(seed=0, rl={"scale_rewards": "none"}).hashed()) != "45f156d0ce235d5e"
    cfg = TrainConfig(seed=0)
    before = cfg.rl.model_dump(mode="json")
    for added in ("scale_rewards", "kinds"):  # the RL settings as finished run folders hashed them
        del before[added]
    old = config_hash({"model": cfg.model, "lora": cfg.lora.model_dump(mode="json"), "call_format": cfg.call_format,
                       "dtype": cfg.dtype, "phase": "rl", "settings": before, "seed": 0, "data": "d", "upstream": "u"})
    assert phase_hash(cfg, "rl", seed=0, data_fp="d", upstream="u") == old
    none = cfg.model_copy(update={"rl": cfg.rl.model_copy(update={"scale_rewards": "none"})})
    assert phase_hash(none, "rl", seed=0, data_fp="d", upstream="u") != old


def test_scale_rewards_reaches_grpo():
    from trl import GRPOConfig

    from tooldojo.train.phases import make_args

    for setting, expected in (("group", "group"), ("none", "none")):
        args = make_args(GRPOConfig, output_dir="unused", use_cpu=True, bf16=False,
                         scale_rewards=TrainConfig(rl={"scale_rewards": setting}).rl.scale_rewards == "group")
        assert args.scale_rewards == expected
    with pytest.raises(ValueError):
        TrainConfig(rl={"scale_rewards": "batch"})
