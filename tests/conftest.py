"""Shared fixtures. Tests are hermetic: no network (the Hub is forced offline), no GPU needed."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import pytest


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``gpu`` when CUDA is not available."""
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # torch missing or broken: no GPU tests
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_model_path() -> str:
    """A 2-layer Gemma-3 (real config, real Gemma tokenizer), built once and cached."""
    from tooldojo.models import build_tiny_model

    return str(build_tiny_model())


@pytest.fixture(scope="session")
def gemma_tokenizer():
    """The real Gemma-3 tokenizer with tooldojo's base chat template."""
    from tooldojo.models import gemma_tokenizer

    return gemma_tokenizer()


@pytest.fixture
def openai_stub():
    """A fresh local OpenAI-compatible server for one test (see tests/openai_stub.py for its API)."""
    from openai_stub import OpenAIStub

    with OpenAIStub() as stub:
        yield stub
