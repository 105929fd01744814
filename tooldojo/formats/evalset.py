"""Imported queries as evaluation rows: :class:`~tooldojo.records.Example`s of scenario ``imported``.

A query with one gold call becomes a ``one`` example (call that tool); a query with no call (the source
says no offered tool fits) becomes a ``zero`` example whose gold is ``generate_response``. Queries with
several gold calls do not fit tooldojo's one-query-one-call examples and are returned as skipped. The
candidate tools are the tools offered with the query, in the source's order.
"""

from __future__ import annotations

from pathlib import Path

from tooldojo.formats.files import write_rows
from tooldojo.formats.model import ImportFailure, ImportResult
from tooldojo.records import GENERATE_RESPONSE, Example, stable_id
from tooldojo.runs import write_text

SCENARIO = "imported"
STYLE = "imported"


def to_examples(result: ImportResult, *, default_domain: str = "imported") -> tuple[list[Example], list[ImportFailure]]:
    """The imported queries as eval :class:`Example`s, and the queries that could not be (with the reason)."""
    tools = result.tool_map()
    examples, skipped = [], []
    for q in result.queries:
        if len(q.calls) > 1:
            skipped.append(ImportFailure(row=q.source_row, reason=f"several gold calls ({len(q.calls)}): an "
                                                                  "eval example holds one call"))
            continue
        offered = [tools[t] for t in q.tools]
        if q.calls:
            call = q.calls[0]
            gold_tool = next(t for t in offered if t.name == call.name)
            kind, gold, args, ranking = "one", call.name, call.arguments, [call.name, GENERATE_RESPONSE]
            family, domain = gold_tool.tool_id, gold_tool.domain
        else:
            kind, gold, args, ranking = "zero", GENERATE_RESPONSE, {}, [GENERATE_RESPONSE]
            family, domain = SCENARIO, next((t.domain for t in offered if t.domain), None)
        examples.append(Example(
            example_id=stable_id(q.query_id, SCENARIO, prefix="ex_"), query_id=q.query_id, family_id=family,
            domain=domain or default_domain, scenario=SCENARIO, kind=kind, style=STYLE, query=q.text,
            tools=[t.function for t in offered], gold_tool=gold, gold_arguments=args, gold_ranking=ranking))
    return examples, skipped


def write_eval_dataset(examples: list[Example], dataset_dir: str | Path, split: str = SCENARIO) -> Path:
    """Write ``examples`` as the ``eval`` config of a tooldojo dataset folder (``eval/<split>.parquet``,
    rows as in ``tooldojo/dataset_schema.py``) with a dataset card naming the config."""
    from tooldojo.dataset_schema import example_to_row, features

    out = Path(dataset_dir)
    path = out / "eval" / f"{split}.parquet"
    write_rows([example_to_row(e, "eval") for e in examples], path, features("eval"))
    card = (
        "---\nconfigs:\n- config_name: eval\n  data_files:\n"
        f"  - split: {split}\n    path: eval/{split}.parquet\n"
        "tags:\n- tool-calling\n- tooldojo\n---\n\n"
        f"# Imported evaluation set\n\n{len(examples)} rows written by `tooldojo import`: queries from another "
        "dataset with the tools offered with them and their gold call (kind `one`), or `generate_response` "
        "when no offered tool fits (kind `zero`). Columns follow tooldojo's dataset schema "
        "(`tooldojo/dataset_schema.py`).\n"
    )
    write_text(out / "README.md", card)
    return path
