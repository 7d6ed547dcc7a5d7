"""Domain-free machinery: the environment, tools, parsing, messages, trajectories."""

from mentor_env.core.domain import Domain
from mentor_env.core.env import ToolUseEnv
from mentor_env.core.parsing import HermesParser, ParsedCall, ParsedTurn, ToolCallParser
from mentor_env.core.task import Task, TeacherCall, TeacherTrajectory
from mentor_env.core.tools import Tool, ToolError, ToolResult, ToolRuntime
from mentor_env.core.trajectory import Trajectory, Turn

__all__ = [
    "Domain",
    "HermesParser",
    "ParsedCall",
    "ParsedTurn",
    "Task",
    "TeacherCall",
    "TeacherTrajectory",
    "Tool",
    "ToolCallParser",
    "ToolError",
    "ToolResult",
    "ToolRuntime",
    "ToolUseEnv",
    "Trajectory",
    "Turn",
]
