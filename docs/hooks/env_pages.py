"""MkDocs hook: the Environments section, one page per registered env id, generated at build time.

As Gymnasium builds its environment pages from the env classes, each page here is written from what the code
says at build time: the id's spec (entry point, default arguments), an instance's spaces, turn limit and reward
mode, the class docstring (rendered by mkdocstrings), the domain's tools, levels and splits, the registered reward
modes, and the domain's card (``tasks/<domain>/README.md``). Nothing is copied by hand, so a page cannot drift from
the code, and an id registered in ``mentor_env.registration`` gets its page without an edit here.

``tests/test_docs.py`` renders the same pages (:func:`env_pages`) and runs their ``python`` blocks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym

import mentor_env
from mentor_env.core.env import ToolUseEnv
from mentor_env.core.rewards import REWARD_MODES, get_reward_mode
from mentor_env.core.splits import SPLITS, load_split
from mentor_env.structured import StructuredToolUse

ROOT = Path(__file__).resolve().parents[2]
SECTION = "Environments"
INDEX = "environments/index.md"


def page_path(env_id: str) -> str:
    """Where an id's page lives in the site: ``mentor/Calc-v0`` -> ``environments/calc-v0.md``."""
    return f"environments/{env_id.split('/')[-1].lower()}.md"


def env_pages() -> dict[str, str]:
    """Every generated page, path -> Markdown: the section's index, then one page per id of ``mentor_env.ENV_IDS``."""
    rows, pages = [], {}
    for env_id in mentor_env.ENV_IDS:
        env = gym.make(env_id)
        try:
            pages[page_path(env_id)] = render_page(env_id, env.unwrapped)
            rows.append(index_row(env_id, env.unwrapped))
        finally:
            env.close()
    return {INDEX: render_index(rows), **pages}


def text_env(env: gym.Env) -> ToolUseEnv:
    """The text env an id plays: the env itself, or the one a structured env turns its actions into text for."""
    if isinstance(env, StructuredToolUse):
        return env.text_env.unwrapped
    if not isinstance(env, ToolUseEnv):
        raise TypeError(f"an env page describes a ToolUseEnv or a StructuredToolUse, got {type(env).__name__}")
    return env


def documented_class(env: gym.Env) -> type:
    """The class whose docstring tells what the id is: the env's own class, or its domain's for a plain ToolUseEnv."""
    return type(env.domain) if type(env) is ToolUseEnv else type(env)


def summary(cls: type) -> str:
    """The first line of a class docstring, with reST literals as Markdown code."""
    first = (cls.__doc__ or "").strip().splitlines()[0]
    return first.replace("``", "`")


def _code(value: Any) -> str:
    return f"`{value}`"


def index_row(env_id: str, env: gym.Env) -> str:
    """The id's row in the section's table."""
    text = text_env(env)
    levels = ", ".join(map(str, text.domain.difficulties)) or "-"
    tools = f"{len(text.domain.tools)}" if text.domain.tools else "each task's own"
    return (
        f"| [`{env_id}`]({page_path(env_id).split('/')[-1]}) | {summary(documented_class(env))} | {levels} | "
        f"{tools} | {_code(type(env).__name__)} |"
    )


def render_index(rows: list[str]) -> str:
    return "\n".join(
        [
            "# Environments",
            "",
            'Every id the suite registers (`import mentor_env` registers them; `gym.make("mentor_env:mentor/Calc-v0")`',
            "imports and registers in one call). Each page is generated from the code when the site is built.",
            "",
            "| id | what it is | levels (`difficulty=`) | tools | env class |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "Your own domain joins this list with `mentor_env.register_domain` ([Add a domain](../guides/add-a-domain.md)).",
            "",
        ]
    )


def render_page(env_id: str, env: gym.Env) -> str:
    """One id's page: what it is, its spec and spaces, tools, splits, reward modes, an example and its card."""
    cls = documented_class(env)
    parts = [
        f"# {env_id}",
        "",
        f"::: {cls.__module__}.{cls.__qualname__}",
        "    options:",
        "      show_root_heading: false",
        "      show_root_toc_entry: false",
        "      show_bases: false",
        "      members: false",
        "",
        "## At a glance",
        "",
        spec_table(env_id, env),
        "",
        "## Tools",
        "",
        tools_section(env),
        "",
        "## Tasks",
        "",
        tasks_section(env),
        "",
        "## Reward modes",
        "",
        reward_modes_section(),
        "",
        "## Example",
        "",
        example(env_id, env),
        "",
    ]
    card = domain_card(env)
    if card:
        parts += ["## Domain card", "", f"From `tasks/{text_env(env).domain.name}/README.md`.", "", card, ""]
    return "\n".join(parts)


def spec_table(env_id: str, env: gym.Env) -> str:
    spec = gym.spec(env_id)
    text = text_env(env)
    kwargs = ", ".join(f"{key}={value!r}" for key, value in spec.kwargs.items()) or "none"
    rows = [
        ("make", _code(f'gym.make("{env_id}")')),
        ("entry point", _code(spec.entry_point)),
        ("registered arguments", _code(kwargs) if spec.kwargs else "none"),
        ("env class", _code(f"{type(env).__module__}.{type(env).__qualname__}")),
        ("observation space", _code(env.observation_space)),
        ("action space", _code(env.action_space)),
        ("turns before truncation (`max_turns=`)", _code(text.max_turns)),
        ("default `reward_mode`", _code(text.reward_mode)),
        ("render modes", ", ".join(map(_code, env.metadata.get("render_modes", []))) or "none"),
    ]
    if isinstance(env, StructuredToolUse):
        rows.append(("text env it plays", f"[`{text.spec.id if text.spec else 'mentor/Calc-v0'}`](calc-v0.md)"))
    return "\n".join(["| | |", "|---|---|", *(f"| {key} | {value} |" for key, value in rows)])


def argument_list(schema: Mapping[str, Any]) -> str:
    """``a`` (number), ``numbers`` (array of number), ... from a tool's JSON Schema; optional ones marked."""
    required = set(schema.get("required", ()))
    parts = []
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type", "any")
        if kind == "array" and "type" in prop.get("items", {}):
            kind = f"array of {prop['items']['type']}"
        parts.append(f"`{name}` ({kind}{'' if name in required else ', optional'})")
    return ", ".join(parts) or "none"


def tools_section(env: gym.Env) -> str:
    text = text_env(env)
    if not text.domain.tools:
        return (
            "Every task brings its own functions (`Task.tools`), served with the task: "
            '`info["tools"]` holds the episode\'s specs.'
        )
    rows = [
        f"| `{tool.name}` | {argument_list(tool.parameters)} | {tool.description} |"
        for tool in text.domain.tools
        if not isinstance(env, StructuredToolUse) or tool.name in env.tool_names
    ]
    lead = ""
    if isinstance(env, StructuredToolUse):
        lead = (
            "An action calls one of these tools (in this order: the first entry of the action picks it, one more value "
            "answers), with its arguments pointing at number slots.\n\n"
        )
    return lead + "\n".join(["| tool | arguments | what it does |", "|---|---|---|", *rows])


def tasks_section(env: gym.Env) -> str:
    text = text_env(env)
    domain = text.domain
    if not domain.difficulties:  # BFCL: test data only, in categories
        categories = served_categories(text)
        rows = [f"| `{name}` | {count:,} |" for name, count in categories.items()]
        total = sum(categories.values())
        return "\n".join(
            [
                f"Evaluation only: {total:,} tasks in {len(categories)} categories (`category=`, all by default).",
                "",
                "| category | tasks |",
                "|---|---|",
                *rows,
            ]
        )
    splits = [*SPLITS, *getattr(domain, "extra_splits", {})]
    rows = [f"| `{split}` | {len(load_split(domain, split)):,} |" for split in splits]
    levels = ", ".join(map(str, domain.difficulties))
    return "\n".join(
        [
            f"Levels (`difficulty=`, a level or a collection of them): {levels}. Without `split=`, `dataset=` or "
            "`tasks=`, `reset(seed=...)` generates a task from the seed; frozen splits (`split=`):",
            "",
            "| split | tasks |",
            "|---|---|",
            *rows,
        ]
    )


def reward_modes_section() -> str:
    rows = []
    for name in REWARD_MODES:
        mode = get_reward_mode(name)
        pays = "every step" if mode.shaped else "last step"
        rows.append(f"| `{name}` | {pays} | {mode.description} |")
    return "\n".join(
        [
            'Every registered mode is computed on every step (`info["rewards"]`); `reward_mode=` picks the one `step` '
            "returns ([Rewards](../concepts/rewards.md)).",
            "",
            "| mode | pays on | what it pays |",
            "|---|---|---|",
            *rows,
        ]
    )


def example(env_id: str, env: gym.Env) -> str:
    """A runnable block: the teacher's reference trajectory played through the id, its rewards printed."""
    if isinstance(env, StructuredToolUse):
        body = [
            f'env = gym.make("{env_id}", reward_mode="dense", difficulty=1)',
            "obs, info = env.reset(seed=0)",
            "done = False",
            "while not done:  # the teacher's trajectory as structured actions",
            "    action = env.unwrapped.teacher_action()",
            "    obs, reward, terminated, truncated, info = env.step(action)",
            '    print(action, repr(info["text_action"]), f"reward {reward:+.3f}")',
            "    done = terminated or truncated",
            'print("correct:", info["reward_components"]["correct"])',
        ]
        imports = ["import gymnasium as gym", "", "import mentor_env  # noqa: F401  (registers the ids)"]
    else:
        make = f'gym.make("{env_id}", reward_mode="dense"{_served(env)})'
        body = [
            f"env = {make}",
            "obs, info = env.reset(seed=0)",
            "task = env.unwrapped.task  # the teacher's reference trajectory is here, not in info",
            'print(info["task_id"], "|", task.question[:200])',
            "for message in task.teacher.messages:  # play the teacher's turns",
            '    if message["role"] == "assistant":',
            "        obs, reward, terminated, truncated, info = env.step(render_assistant_text(message))",
            "        print(f\"turn {info['turn']}: dense reward {reward:+.3f}\")",
            'print("correct:", info["reward_components"]["correct"], "every mode:", info["rewards"])',
        ]
        imports = [
            "import gymnasium as gym",
            "",
            "import mentor_env  # noqa: F401  (registers the ids)",
            "from mentor_env.core.messages import render_assistant_text",
        ]
    return "\n".join(["```python", *imports, "", *body, "```"])


def _served(env: gym.Env) -> str:
    """The ``gym.make`` argument that serves frozen tasks: a test split, or BFCL's first category."""
    text = text_env(env)
    if not text.domain.difficulties:
        return f', category="{next(iter(served_categories(text)))}"'
    return ', split="test"'


def served_categories(env: ToolUseEnv) -> dict[str, int]:
    """Category -> tasks, in serving order, of an env that serves a fixed list of categorised tasks (BFCL)."""
    counts = Counter(task.meta.get("category") for task in env.tasks or ())
    if None in counts or not counts:
        raise ValueError(f"{env.spec.id if env.spec else env}: a domain without levels must serve categorised tasks")
    return dict(counts)


def domain_card(env: gym.Env) -> str:
    """The domain's card without its title, its headings one level down; empty for a structured env (its
    text env's page has the card) and for a domain without one."""
    if isinstance(env, StructuredToolUse):
        return ""
    path = ROOT / "tasks" / text_env(env).domain.name / "README.md"
    if not path.is_file():
        return ""
    lines = path.read_text().splitlines()
    body = lines[1:] if lines and lines[0].startswith("# ") else lines
    return "\n".join(shift_headings(body)).strip()


def shift_headings(lines: list[str]) -> list[str]:
    """Markdown headings one level down (``## Tools`` -> ``### Tools``), fenced code left as it is."""
    shifted, fenced = [], False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        shifted.append("#" + line if not fenced and line.startswith("#") else line)
    return shifted


# MkDocs events ---------------------------------------------------------------------------------------------------


def on_config(config: Any) -> Any:
    """Fill the nav's Environments section with the index and one entry per id."""
    for item in config["nav"] or []:
        if isinstance(item, dict) and SECTION in item:
            item[SECTION] = [INDEX, *({env_id: page_path(env_id)} for env_id in mentor_env.ENV_IDS)]
            return config
    raise ValueError(
        f"mkdocs.yml's nav needs a {SECTION!r} section for the generated env pages; nav is {config['nav']!r}"
    )


def on_files(files: Any, config: Any) -> Any:
    """Add the generated pages to the site's files."""
    from mkdocs.structure.files import File

    for path, markdown in env_pages().items():
        if files.get_file_from_path(path) is not None:
            raise ValueError(f"{path} is generated from the registry; remove docs/{path}")
        files.append(File.generated(config, path, content=markdown))
    return files
