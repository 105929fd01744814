"""Generation backends: transformers batching and stops, PEFT adapters, backend choice, GPU paths."""

from __future__ import annotations

import json

import pytest

from tooldojo.errors import ConfigError
from tooldojo.eval.generation import (
    FunctionGenerator,
    GenRequest,
    choose_backend,
    resolve_local_model,
)
from tooldojo.stopping import trim_at_stop

QUERIES = ["x", "Find bakeries in Lisbon and tell me which ones open early on Sundays, please.",
           "a b c d e f g h i j k l m n o p q r s t u v w x y z"]
TOOLS = [{"type": "function", "function": {"name": "web_search", "description": "Search the web.",
                                           "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}}]


def requests(stop=()):
    return [GenRequest(str(i), [{"role": "user", "content": q}], TOOLS, stop=stop) for i, q in enumerate(QUERIES)]


def collect(gen, reqs) -> dict[str, str]:
    out = []
    gen.generate(reqs, out.extend)
    return {r.key: r.text for r in out}


@pytest.fixture(scope="module")
def hf_gen(tiny_model_path):
    from tooldojo.eval.hf_backend import HFGenerator

    return HFGenerator(resolve_local_model(tiny_model_path, None), batch_size=8, max_new_tokens=12)


def test_batched_generation_equals_one_by_one(hf_gen):
    """Left padding and the attention mask make a batch give each prompt what it gets alone (greedy)."""
    batched = collect(hf_gen, requests())
    alone = {}
    for req in requests():
        alone.update(collect(hf_gen, [req]))
    assert batched == alone and all(batched.values())


def test_stop_strings_end_each_sequence(hf_gen):
    free = collect(hf_gen, requests())
    stop = free["1"][: max(3, len(free["1"]) // 3)]  # a prefix of what prompt 1 generates
    stopped = collect(hf_gen, requests(stop=(stop,)))
    assert stopped["1"] == stop  # cut right after the stop string
    assert stopped["0"] == free["0"] or stop in stopped["0"]  # the others run on


def test_each_request_gets_its_own_cap_unless_one_is_configured(tiny_model_path, hf_gen):
    from tooldojo.eval.hf_backend import HFGenerator

    def capped(caps):
        return [GenRequest(str(i), [{"role": "user", "content": q}], TOOLS, max_new_tokens=c)
                for i, (q, c) in enumerate(zip(QUERIES, caps, strict=True))]

    gen = HFGenerator(resolve_local_model(tiny_model_path, None), batch_size=8)  # no configured cap
    short, long = collect(gen, capped([2, 2, 2])), collect(gen, capped([12, 2, 12]))
    assert long["0"].startswith(short["0"]) and len(long["0"]) > len(short["0"]) and long["1"] == short["1"]
    assert collect(hf_gen, capped([2, 2, 2])) == collect(hf_gen, requests())  # hf_gen: max_new_tokens=12 wins


def test_adapter_folder_is_merged(tiny_model_path, tmp_path, hf_gen):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from tooldojo.eval.hf_backend import HFGenerator

    base = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    torch.manual_seed(0)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj", "down_proj"],
                                                 init_lora_weights=False))
    peft_model.save_pretrained(str(tmp_path / "adapter"))
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["base_model_name_or_path"]
    model = resolve_local_model(str(tmp_path / "adapter"), tmp_path)
    assert model.adapter == str(tmp_path / "adapter") and model.path == tiny_model_path
    with_adapter = collect(HFGenerator(model, max_new_tokens=hf_gen.max_new_tokens), requests())
    assert with_adapter != collect(hf_gen, requests())  # hf_gen: the same base model without the adapter


def test_model_resolution_errors(tmp_path):
    with pytest.raises(ConfigError, match="tooldojo train"):
        resolve_local_model(None, tmp_path)  # no train/final in this run
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "adapter_config.json").write_text("{}")
    with pytest.raises(ConfigError, match="base model"):
        resolve_local_model(str(tmp_path / "bad"), tmp_path)


def test_backend_choice():
    assert choose_backend("auto", endpoint=True, adapter=False) == "openai"
    assert choose_backend("hf", endpoint=False, adapter=False) == "hf"
    with pytest.raises(ConfigError):
        choose_backend("hf", endpoint=True, adapter=False)
    with pytest.raises(ConfigError):
        choose_backend("openai", endpoint=False, adapter=False)


def test_function_generator_and_trim():
    gen = FunctionGenerator(lambda r: f"<think>t</think><tool_call>{{}}</tool_call> trailing {r.key}")
    out = collect(gen, [GenRequest("k", [], stop=("</tool_call>",))])
    assert out == {"k": "<think>t</think><tool_call>{}</tool_call>"}
    assert trim_at_stop("a</answer>b</ranking>", ["</ranking>", "</answer>"]) == "a</answer>"


@pytest.mark.gpu
def test_hf_backend_on_cuda(tiny_model_path):
    from tooldojo.eval.hf_backend import HFGenerator

    gen = HFGenerator(resolve_local_model(tiny_model_path, None), batch_size=4, max_new_tokens=8)
    assert gen.device == "cuda" and len(collect(gen, requests())) == len(QUERIES)


@pytest.mark.gpu
def test_vllm_backend_matches_request_count(tiny_model_path):
    pytest.importorskip("vllm")
    from tooldojo.eval.vllm_backend import VLLMGenerator

    gen = VLLMGenerator(resolve_local_model(tiny_model_path, None), max_new_tokens=8, gpu_memory_utilization=0.3)
    out = collect(gen, requests(stop=("</tool_call>",)))
    assert set(out) == {"0", "1", "2"}


def test_a_new_turn_of_the_chat_template_ends_every_answer():
    """A base model continuing the transcript stops at the first header it writes, whichever turn it opens."""
    from tooldojo.eval.bfcl.runner import bfcl_stops
    from tooldojo.stopping import STOPS

    rambling = "How many rides?\n\n### Assistant\nHow many rides?\n\n### User\nhi"
    assert trim_at_stop(rambling, STOPS["select"]) == "How many rides?\n\n### Assistant"
    assert trim_at_stop("ok\n### Tool result\n{}", STOPS["rank"]) == "ok\n### Tool result"
    two_calls = '<tool_call>{"name": "a"}</tool_call>\n<tool_call>{"name": "b"}</tool_call>\n### User\nx'
    assert trim_at_stop(two_calls, bfcl_stops("json")) == two_calls[:-2]  # parallel calls kept whole
    assert trim_at_stop("<answer>f(x=1)</answer>\n### Assistant", bfcl_stops("python")) == "<answer>f(x=1)</answer>"
