"""The train stage: GenTool's two-stage fine-tune (stage 1 ranking, stage 2 selection) and Tool-Zero's
rule-based RL (GRPO), with Unsloth on CUDA and transformers + PEFT + TRL elsewhere. See docs/training.md."""

from tooldojo.train.config import LoraConfig, RLConfig, SFTStageConfig, TrainConfig
from tooldojo.train.runner import run_train

__all__ = ["LoraConfig", "RLConfig", "SFTStageConfig", "TrainConfig", "run_train"]
