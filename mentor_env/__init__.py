"""mentor-env: tool-use tasks as Gymnasium environments with teacher-guided rewards.

``import mentor_env`` registers the environment ids (``mentor/Calc-v0``, ...).
Without the import, ``gym.make("mentor_env:mentor/Calc-v0")`` imports and
registers in one go.
"""

from mentor_env.core import Task, Tool, ToolUseEnv
from mentor_env.core.rewards import REWARD_MODES, RewardMode, register_reward_mode
from mentor_env.play.evaluation import evaluate
from mentor_env.registration import ENV_IDS, register_domain, register_envs, served_tasks

__version__ = "0.1.0"
__all__ = [
    "ENV_IDS",
    "REWARD_MODES",
    "RewardMode",
    "Task",
    "Tool",
    "ToolUseEnv",
    "evaluate",
    "register_domain",
    "register_envs",
    "register_reward_mode",
    "served_tasks",
    "__version__",
]

register_envs()
