"""Package names imported on first use (tooldojo.lazy)."""

from __future__ import annotations

import re

import pytest

from tooldojo.lazy import lazy_exports


def test_names_resolve_from_absolute_relative_and_renamed_targets():
    get = lazy_exports("tooldojo.formats", {"md_table": "tooldojo.reporting", "find_bfcl_data": (".bfcl", "find_data"),
                                            "SeedSet": ".seed"})
    from tooldojo.formats.bfcl import find_data
    from tooldojo.formats.seed import SeedSet
    from tooldojo.reporting import md_table

    assert get("md_table") is md_table
    assert get("find_bfcl_data") is find_data
    assert get("SeedSet") is SeedSet


def test_unknown_name_is_an_attribute_error_naming_the_package():
    get = lazy_exports("tooldojo.dedup", {"MinHasher": "tooldojo.similarity.minhash"})
    with pytest.raises(AttributeError, match=re.escape("module 'tooldojo.dedup' has no attribute 'nope'")):
        get("nope")


@pytest.mark.parametrize("package", ["tooldojo.ablate", "tooldojo.dedup", "tooldojo.eval", "tooldojo.formats",
                                     "tooldojo.split"])
def test_every_exported_name_of_a_package_resolves(package):
    import importlib

    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    assert not hasattr(module, "no_such_name")
