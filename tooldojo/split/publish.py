"""Publishing a scenario dataset to the Hugging Face Hub.

Each config is pushed with ``DatasetDict.push_to_hub(repo_id, config_name=...)``; then the dataset card
(re-rendered with the Hub's file layout) and the domain plot are committed beside it. Pushing again updates
the same repo: ``push_to_hub`` replaces a config's data files, and the card and plot keep their paths, so
nothing is duplicated. The token is read from the environment by name and passed to the client only; it is
never printed, logged or written (``publish.json`` records the repo, the commit and the time).

A new repo is private unless ``private=False`` is asked for (``--public``), as with ``export --push-to-hub``.
:func:`publish_plan` checks everything that can be checked without the network and says what would be pushed
(``--dry-run``); :func:`publish` runs it first, so a bad input stops before anything is sent.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tooldojo.errors import ConfigError, DataError


def dataset_folder(source: str | Path) -> Path:
    """The ``dataset`` folder of a run folder, split folder, or the dataset folder itself."""
    p = Path(source)
    for cand in (p, p / "dataset", p / "split" / "dataset"):
        if (cand / "select").is_dir() and (cand / "eval").is_dir():
            return cand
    raise DataError("no scenario dataset here", field=str(source),
                    fix="pass a run folder after `tooldojo split`, or its split/dataset folder")


def hub_data_files(files: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Where ``push_to_hub`` puts each config's splits: ``<config>/<split>-*``."""
    return {c: {s: f"{c}/{s}-*" for s in splits} for c, splits in files.items()}


def _token(token_env: str) -> str:
    token = os.environ.get(token_env, "").strip()
    if not token:
        raise ConfigError(f"{token_env} is not set", field=token_env,
                          fix=f"export {token_env}=<a Hugging Face token with write access>")
    return token


def publish_plan(source: str | Path, repo_id: str, *, private: bool = True) -> dict[str, Any]:
    """What :func:`publish` would push, after every check that needs no network: the repo id, the dataset
    folder and its card info. ``configs`` maps config -> split -> rows; ``files`` lists the card and plot."""
    from tooldojo.dataset_io import load_dataset_dir
    from tooldojo.dataset_schema import CONFIGS
    from tooldojo.split.card import PLOT

    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ConfigError(f"{repo_id!r} is not a repo id", field="--repo-id", fix="write it as user/name or org/name")
    folder = dataset_folder(source)
    info_path = folder.parent / "card_info.json"
    if not info_path.exists():
        raise DataError("card_info.json is missing", field=str(info_path), fix="rerun `tooldojo split --force`")
    configs = {c: {s: len(ds) for s, ds in load_dataset_dir(folder, c).items()} for c in CONFIGS}
    return {"repo_id": repo_id, "private": private, "folder": str(folder), "configs": configs,
            "files": ["README.md", *([PLOT] if (folder / PLOT).exists() else [])]}


def publish(source: str | Path, repo_id: str, *, private: bool = True, token_env: str = "HF_TOKEN",
            commit_message: str | None = None) -> dict[str, Any]:
    """Push every config of the scenario dataset in ``source`` to the Hub dataset repo ``repo_id`` (created
    private unless ``private=False``), then the card and plot. Returns (and writes beside the dataset as
    ``publish.json``) what was published."""
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    from tooldojo.dataset_io import load_dataset_dir
    from tooldojo.dataset_schema import CONFIGS
    from tooldojo.runs import write_json
    from tooldojo.split.card import PLOT, CardInfo, render_card

    plan = publish_plan(source, repo_id, private=private)
    folder = Path(plan["folder"])
    token = _token(token_env)
    saved = json.loads((folder.parent / "card_info.json").read_text(encoding="utf-8"))
    message = commit_message or "tooldojo: upload scenario dataset"
    try:
        for config in CONFIGS:
            dsd = load_dataset_dir(folder, config)
            dsd.push_to_hub(repo_id, config_name=config, private=private, token=token,
                            commit_message=f"{message} ({config})")
        card = render_card(CardInfo(**saved["info"]), saved["stats"], saved["sizes"],
                           hub_data_files(saved["files"]))
        card = card.replace('load_dataset("<repo>"', f'load_dataset("{repo_id}"')
        api = HfApi(token=token)
        ops = [CommitOperationAdd("README.md", card.encode("utf-8"))]
        if (folder / PLOT).exists():
            ops.append(CommitOperationAdd(PLOT, str(folder / PLOT)))
        commit = api.create_commit(repo_id, operations=ops, repo_type="dataset",
                                   commit_message=f"{message} (card)")
    except OfflineModeIsEnabled:
        raise ConfigError("offline mode is on", field="HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE",
                          fix="unset HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE and HF_DATASETS_OFFLINE to publish") from None
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else "?"
        raise DataError(f"the Hub refused the upload (HTTP {status})", field=repo_id,
                        fix="check the repo id and that the token has write access to it") from None
    record = {"repo_id": repo_id, "private": private, "configs": list(CONFIGS),
              "commit": getattr(commit, "oid", None), "url": getattr(commit, "commit_url", None),
              "token_env": token_env, "published_at": datetime.now(UTC).isoformat(timespec="seconds")}
    write_json(folder.parent / "publish.json", record)
    return record
