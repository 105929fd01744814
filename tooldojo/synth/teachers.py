"""The teacher factory: the offline teacher for ``model: offline``, else the HTTP teacher."""

from __future__ import annotations

from tooldojo.synth.cache import ResponseCache
from tooldojo.synth.config import OFFLINE, TeacherConfig
from tooldojo.synth.offline import OfflineTeacher
from tooldojo.synth.teacher import OpenAITeacher, Progress, Teacher


def make_teacher(cfg: TeacherConfig, *, seed: int = 0, cache: ResponseCache | None = None,
                 progress: Progress | None = None, catalog_folder: str | None = None) -> Teacher:
    """The offline teacher for ``model == "offline"``, else the HTTP teacher."""
    if cfg.model == OFFLINE:
        return OfflineTeacher(cfg, seed=seed, cache=cache, progress=progress, catalog_folder=catalog_folder)
    return OpenAITeacher(cfg, seed=seed, cache=cache, progress=progress)
