"""Bring tool-calling data in from other datasets, and send tooldojo's data out in their formats.

Import (``tooldojo import``): xLAM/APIGen, ToolACE, Glaive, Hermes/ShareGPT, BFCL and OpenAI/TRL rows, from
a local file/folder or a Hub dataset id, normalised to OpenAI function schemas with gold calls
(:func:`import_source`, :func:`run_import`); the tools as synth's strong tools and
their queries as its seed queries (:func:`load_seed_set`, :func:`load_seed_tools`);
the queries as an eval set (:func:`to_examples`, :func:`write_eval_dataset`).

Export (``tooldojo export``): a run's scenario dataset, or an import, as TRL, Hermes, xLAM or per-stage
prompt/completion rows, Parquet or JSON Lines, with a dataset card (:func:`run_export`).

Names are loaded on first use, so importing this package (and ``tooldojo --help``) stays fast.
"""

from __future__ import annotations

from tooldojo.lazy import lazy_exports

_EXPORTS = {
    "ImportConfig": ".importing", "import_source": ".importing", "run_import": ".importing",
    "read_import": ".importing", "write_import": ".importing", "detect_format": ".importing", "FORMATS": ".importing",
    "ExportConfig": ".exporting", "run_export": ".exporting", "plan_export": ".exporting",
    "push_to_hub": ".exporting", "EXPORT_FORMATS": ".exporting",
    "ImportResult": ".model", "ImportedTool": ".model", "ImportedQuery": ".model", "ImportedCall": ".model",
    "ImportFailure": ".model", "Conversation": ".model",
    "repair_function": ".schemas", "SchemaError": ".schemas",
    "to_examples": ".evalset", "write_eval_dataset": ".evalset",
    "load_seed_tools": ".seed", "seed_tools_from": ".seed", "load_seed_set": ".seed", "seed_set_from": ".seed",
    "SeedSet": ".seed",
    "find_bfcl_data": (".bfcl", "find_data"),
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
