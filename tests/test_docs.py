"""The README and the docs site (issue 23): every ``python`` block runs, every number copied from a committed result
file is that file's, the README stays a short front door, and the site's hooks do what the pages rely on.

Pages are README.md, every Markdown file under docs/ and the pages docs/hooks/env_pages.py generates from the
registry. A block that must not run is marked on the line before it with ``<!-- not run: <why> -->``; the marks
are counted here (:data:`NOT_RUN`) and their blocks compiled. A block followed by ``It prints:`` and a ``text``
block must print those lines.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

import mentor_env
from mentor_env.domains import get_domain

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RESULTS = ROOT / "benchmarks" / "results"
MAX_README_LINES = 200
# The first screen of the README (a terminal's or a browser's first view) must say what the project found.
FIRST_SCREEN_LINES = 25
# Blocks marked not to run, per page, with the reason on the mark.
NOT_RUN = {"docs/guides/your-own-model.md": 1}


def load_hook(name: str) -> ModuleType:
    """A module of docs/hooks/ (MkDocs loads them by path; so do the tests)."""
    spec = importlib.util.spec_from_file_location(f"docs_hook_{name}", DOCS / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ENV_PAGES = load_hook("env_pages")
REPO_FILES = load_hook("repo_files")
CLI_HELP = load_hook("cli_help")


# The pages the hook generates from the registry (made once: each makes every env).
GENERATED = ENV_PAGES.env_pages()


def _pages() -> dict[str, str]:
    pages = {"README.md": (ROOT / "README.md").read_text()}
    for path in sorted(DOCS.rglob("*.md")):
        pages[path.relative_to(ROOT).as_posix()] = path.read_text()
    for path, markdown in GENERATED.items():
        pages[f"docs/{path} (generated)"] = markdown
    return pages


PAGES = _pages()
README = PAGES["README.md"]


def page(path: str) -> str:
    return PAGES[path]


def _flat(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Block:
    page: str
    index: int
    code: str
    not_run: str | None  # the reason on the mark, or None: the block runs
    prints: tuple[str, ...]  # lines the block must print ("It prints:" and a text block after it)

    def __str__(self) -> str:
        return f"{self.page}#{self.index}"


BLOCK = re.compile(
    r"(?:^<!-- not run: (?P<reason>[^\n]+?) -->\n)?^```python\n(?P<code>.*?)^```\n"
    r"(?:\nIt prints:\n\n```text\n(?P<prints>.*?)^```)?",
    re.MULTILINE | re.DOTALL,
)


def blocks(path: str, markdown: str) -> list[Block]:
    return [
        Block(path, index, match["code"], match["reason"], tuple((match["prints"] or "").splitlines()))
        for index, match in enumerate(BLOCK.finditer(markdown))
    ]


BLOCKS = [block for path, markdown in PAGES.items() for block in blocks(path, markdown)]
RUNNABLE = [block for block in BLOCKS if block.not_run is None]


@pytest.mark.parametrize("block", RUNNABLE, ids=str)
def test_python_blocks_run(block, tmp_path):
    # Blocks refer to a user's file as my_tasks.jsonl; give them one.
    (tmp_path / "my_tasks.jsonl").write_text(get_domain("calc").generate(1).to_json() + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", block.code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    printed = out.stdout.splitlines()
    for line in block.prints:
        assert line in printed, (line, out.stdout[-2000:])


def test_blocks_marked_not_run_are_the_counted_ones_and_compile():
    marked = {}
    for block in BLOCKS:
        if block.not_run is not None:
            marked[block.page] = marked.get(block.page, 0) + 1
            compile(block.code, str(block), "exec")
    assert marked == NOT_RUN
    # A mark that is not right before a python block would silently run nothing.
    assert sum(markdown.count("<!-- not run:") for markdown in PAGES.values()) == sum(NOT_RUN.values())


def test_every_page_has_its_blocks_found():
    # Every ```python fence starts a block the parser found (an unclosed or indented fence would be skipped).
    for path, markdown in PAGES.items():
        assert len(blocks(path, markdown)) == len(re.findall(r"^```python$", markdown, re.MULTILINE)), path
        assert not re.search(r"^[ \t]+```python", markdown, re.MULTILINE), path


def test_the_quickstart_shows_the_dense_reward_tell_a_teacher_turn_from_a_wrong_one():
    quickstart = next(block for block in blocks("README.md", README) if block.prints)
    assert len(quickstart.code.splitlines()) <= 20
    assert quickstart.prints == (
        "teacher: first turn +0.167, per turn [0.167, 0.167, 0.167, 0.6], return 1.100",
        "  wrong: first turn +0.000, per turn [0.0, 0.1], return 0.100",
    )
    # Getting started shows the same block and output.
    assert any(
        block.code == quickstart.code and block.prints == quickstart.prints
        for block in blocks("docs/getting-started.md", page("docs/getting-started.md"))
    )


# --- the README as a front door --------------------------------------------------------------------------------


def test_readme_is_at_most_200_lines():
    assert len(README.splitlines()) <= MAX_README_LINES


def test_readme_first_screen_tells_what_the_project_found():
    first_screen = "\n".join(README.splitlines()[:FIRST_SCREEN_LINES])
    assert "## What we found" in first_screen and "**In domain**" in first_screen


def test_readme_links_into_the_docs_resolve():
    for target in re.findall(r"\]\(((?:docs|examples|tasks)/[^)#]*)", README):
        assert (ROOT / target).exists(), target


def _results_block() -> str:
    start = README.index("<!-- results-at-a-glance: start")
    return README[start : README.index("<!-- results-at-a-glance: end -->")]


def _markdown_table(text: str, header_start: str) -> dict[str, dict[str, str]]:
    """The first table whose header starts with ``header_start``: first cell -> {column: cell}."""
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    header = [cell.strip() for cell in lines[top].strip("|").split("|")]
    rows = {}
    for line in lines[top + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(header[1:], cells[1:]))
    return rows


MAIN_JOB = RESULTS / "sparse_vs_dense-medium-tiny"


def test_readme_results_at_a_glance_are_the_committed_main_job():
    results = json.loads((MAIN_JOB / "results.json").read_text())
    summary = (MAIN_JOB / "summary.md").read_text()
    block = _results_block()
    committed = _markdown_table(summary, "| policy | calc/test |")
    shown = _markdown_table(block, "| policy |")
    assert list(shown) == ["warm start", "sft", "sparse", "mentor", "dense", "opd", "mentor+opd"]
    for policy, cells in shown.items():
        assert cells and all(cells[column] == committed[policy][column] for column in cells), policy
    assert committed["tasks"]["calc/test"] == "188" and "188 tasks" in _flat(block)
    assert {committed["tasks"][column] for column in list(shown["sft"])[1:]} == {"64"} and "64 tasks each" in block
    # The verdict's intervals, in domain and out of it, as the committed summary states them.
    verdict = _flat(next(line for line in summary.splitlines() if line.startswith("**Verdict.**")))
    verdict_in, verdict_out = verdict.split("Out of domain")
    flat = _flat(block)
    said_in, said_out = flat.split("**Out of domain**")
    claims = re.compile(r"\(([\w+]+ - [\w+]+ [+-]\d+\.\d points \[[+-]\d+\.\d, [+-]\d+\.\d\])\)")
    assert len(claims.findall(said_in)) == 3 and len(claims.findall(said_out)) == 2
    for claim in claims.findall(said_in):
        assert claim in verdict_in, claim
    for claim in claims.findall(said_out):
        assert claim in verdict_out, claim
    assert "the 3 columns the warm start reaches" in verdict_out and "the three columns the warm start reaches" in flat
    profile = results["profile"]
    assert f"{len(profile['seeds'])} paired seeds" in flat
    assert f"{profile['updates'] * profile['episodes_per_update']:,} episodes a run" in flat


ENV_TABLE = re.compile(r"^\| \[`(mentor/[\w-]+)`\]\([^)]+\) \| [^|]+ \| (?P<tools>.+) \|$", re.MULTILINE)


def test_readme_env_table_lists_every_registered_id_and_each_domains_tools():
    rows = {match[1]: match["tools"] for match in ENV_TABLE.finditer(README)}
    assert sorted(rows) == sorted(mentor_env.ENV_IDS)
    for name, env_id in mentor_env.registration.DOMAIN_ENV_IDS.items():
        for tool in get_domain(name).tools:
            assert f"`{tool.name}" in rows[env_id], (env_id, tool.name)


def test_readme_env_table_counts_are_the_served_tasks():
    generated = GENERATED
    bfcl_total = re.search(r"Evaluation only: ([\d,]+) tasks in (\d+) categories", generated["environments/bfcl-v0.md"])
    assert f"nine single-turn categories ({bfcl_total[1]} tasks" in README and bfcl_total[2] == "9"
    sizes = [
        re.search(r"\| `ood-reasoning-gym` \| ([\d,]+) \|", generated[f"environments/{name}-v0.md"])[1]
        for name in ("calc", "dates")
    ]
    assert f"{sizes[0]} (Calc) and {sizes[1]} (Dates) tasks of reasoning-gym's generators" in README


# --- the generated env pages and the hooks ---------------------------------------------------------------------


def test_every_registered_id_gets_a_generated_page_with_its_tools_and_splits():
    generated = GENERATED
    assert sorted(generated) == sorted(["environments/index.md", *map(ENV_PAGES.page_path, mentor_env.ENV_IDS)])
    calc = generated["environments/calc-v0.md"]
    assert calc.startswith("# mentor/Calc-v0\n") and "::: mentor_env.domains.calc.CalcDomain" in calc
    assert "| `sum_numbers` | `numbers` (array of number) | Add up a list of numbers. |" in calc
    assert "| `train` | 5,000 |" in calc and "| `ood-reasoning-gym` | 600 |" in calc
    assert "### Judge" in calc  # the card, its headings one level down
    lookup = generated["environments/lookup-v0.md"]
    assert "| turns before truncation (`max_turns=`) | `12` |" in lookup
    assert "| registered arguments | `domain='lookup', max_turns=12` |" in lookup
    structured = generated["environments/calc-structured-v0.md"]
    assert "`MultiDiscrete([13 31 31 31 31 31 31  5 31])`" in structured and "## Domain card" not in structured
    bfcl = generated["environments/bfcl-v0.md"]
    assert "Evaluation only: 2,591 tasks in 9 categories" in bfcl and "| `live_parallel` | 16 |" in bfcl
    index = generated["environments/index.md"]
    for env_id in mentor_env.ENV_IDS:
        assert f"[`{env_id}`]({ENV_PAGES.page_path(env_id).split('/')[-1]})" in index


def test_env_pages_fill_the_nav_section_and_refuse_a_nav_without_one():
    config = {"nav": [{"Home": "index.md"}, {"Environments": []}]}
    ENV_PAGES.on_config(config)
    assert config["nav"][1]["Environments"][:2] == [
        "environments/index.md",
        {"mentor/Calc-v0": "environments/calc-v0.md"},
    ]
    with pytest.raises(ValueError, match="needs a 'Environments' section"):
        ENV_PAGES.on_config({"nav": [{"Home": "index.md"}]})


def test_links_to_repository_files_point_at_their_copy_in_the_site():
    site_links, linked = REPO_FILES.site_links, REPO_FILES.linked_repo_files
    page_uri = "benchmarks/throughput.md"
    text = "[json](../../benchmarks/results/env_throughput.json#x) ![p](../../benchmarks/results/rl_sanity-tiny/ladder.png)"
    assert site_links(page_uri, text) == "[json](results/env_throughput.json#x) ![p](results/rl_sanity-tiny/ladder.png)"
    assert linked(page_uri, text) == {
        "benchmarks/results/env_throughput.json",
        "benchmarks/results/rl_sanity-tiny/ladder.png",
    }
    # Pages, URLs and anchors stay; a folder (GitHub lists it, the site cannot) becomes its text; code is left alone.
    kept = "[a](main-job.md) [b](https://example.org/x) [c](#top)\n```\n[d](../../missing.json)\n```\n"
    assert site_links(page_uri, kept) == kept
    assert site_links(page_uri, "see [the folder](../../benchmarks/results/rl_sanity-tiny/).") == "see the folder."
    with pytest.raises(REPO_FILES.RepoLinkError, match="does not exist"):
        site_links(page_uri, "[x](../../benchmarks/results/nothing.json)")
    with pytest.raises(REPO_FILES.RepoLinkError, match="Markdown file outside docs"):
        site_links(page_uri, "[card](../../tasks/calc/README.md)")
    with pytest.raises(REPO_FILES.RepoLinkError, match="leaves the repository"):
        site_links(page_uri, "[x](../../../elsewhere.txt)")


def test_cli_help_marker_shows_the_commands_help():
    shown = CLI_HELP.with_help("Flags:\n\n<!-- cli-help: mentor_env.tasks -->\n")
    assert shown.startswith("Flags:\n\n<!-- cli-help: mentor_env.tasks -->\n\n```text\nusage: ")
    assert "{build,check}" in shown and shown.endswith("```\n")
    with pytest.raises(RuntimeError, match="exited with"):
        CLI_HELP.cli_help("mentor_env.no_such_module")


# --- numbers copied from committed result files -----------------------------------------------------------------


def test_reward_weights_table_is_the_rewards_modules_constants():
    from mentor_env.core import rewards as R

    text = page("docs/concepts/rewards.md")
    for names, values in (
        ("`CORRECT_WEIGHT`", [R.CORRECT_WEIGHT]),
        ("`TOOL_WEIGHT`", [R.TOOL_WEIGHT]),
        ("`WRONG_ANSWER_TOOL_SHARE`", [R.WRONG_ANSWER_TOOL_SHARE]),
        ("`NO_INVENTED_TOOL_WEIGHT`", [R.NO_INVENTED_TOOL_WEIGHT]),
        ("`SPARSE_CORRECT`, `SPARSE_WRONG`", [R.SPARSE_CORRECT, R.SPARSE_WRONG]),
        ("`NO_ANSWER`", [R.NO_ANSWER]),
        ("`UNFINISHED`", [R.UNFINISHED]),
        ("`DEFAULT_SHAPING_WEIGHT`", [R.DEFAULT_SHAPING_WEIGHT]),
        ("`NAME_WEIGHT`", [R.NAME_WEIGHT]),
    ):
        assert f"| {names} | {', '.join(map(str, values))} |" in text, names
    mentor = f"| `mentor` | {R.CORRECT_WEIGHT} + {R.TOOL_WEIGHT}·[S = T] + {R.NO_INVENTED_TOOL_WEIGHT}·[no invented] |"
    assert mentor in text


def test_baseline_table_matches_the_results_file():
    text = page("docs/benchmarks/baselines.md")
    results = json.loads((RESULTS / "baselines-calc-v0.json").read_text())["results"]
    for agent, row in results.items():
        modes = row["mean_return"]
        cells = [f"{row['success_rate']:.3f}", f"{row['mean_tool_calls']:.2f}"] + [
            f"{modes[m]:.3f}" for m in ("sparse", "mentor", "mentor_partial", "mentor_nomatch", "mentor_f1", "dense")
        ]
        assert f"| {agent} | " + " | ".join(cells) + " |" in text


def test_sb3_table_matches_the_results_file():
    text = page("docs/benchmarks/sb3.md")
    summary = json.loads((RESULTS / "sb3_sparse_vs_dense/results.json").read_text())["summary"]
    for mode in ("sparse", "mentor", "dense"):
        success, match = summary[mode]["success"], summary[mode]["tool_set_match"]
        row = f"| {mode} | {success['mean'][-1]:.3f} ± {success['std'][-1]:.3f} | {match['mean'][-1]:.3f} |"
        assert row in text, row


def test_sb3_medium_tables_are_the_committed_summary():
    from benchmarks.sb3_sparse_vs_dense import summary_markdown

    text = page("docs/benchmarks/sb3.md")
    folder = RESULTS / "sb3_sparse_vs_dense-medium"
    results = json.loads((folder / "results.json").read_text())
    summary = (folder / "summary.md").read_text()
    assert summary == summary_markdown(results) and results["profile"] == "medium"
    rows = [line for line in summary.splitlines() if line.startswith("| ")]
    assert len(rows) == 4 + 3  # final success: header, 3 modes; paired: header, 2 comparisons
    for row in rows:
        assert row in text, row
    for line in summary.splitlines():
        if line.startswith(("Separation", "Second half")):
            assert _flat(line) in _flat(text), line


def test_main_job_tables_are_the_committed_summary():
    from benchmarks.sparse_vs_dense import summary_markdown

    text = page("docs/benchmarks/main-job.md")
    results = json.loads((MAIN_JOB / "results.json").read_text())
    summary = (MAIN_JOB / "summary.md").read_text()
    assert summary == summary_markdown(results, results["summary"])
    assert results["profile_name"] == "medium"
    rows = [line for line in summary.splitlines() if line.startswith("| ")]
    # success: header, column groups, task counts, 7 policies; paired differences: header, 11 comparisons;
    # tool use: header, 7 policies
    assert len(rows) == 10 + 12 + 8
    for row in rows:
        assert row in text, row
    # The power reached and the headline, word for word.
    for line in summary.splitlines():
        if line.startswith(("**Verdict.**", "Power on", "- Headline", "- Columns where", "- Wall seconds")):
            assert _flat(line) in _flat(text), line
    for name in ("learning_curves.png", "paired_differences.png", "similarity_vs_success.png"):
        assert (MAIN_JOB / name).stat().st_size > 10_000, name
        assert f"](../../benchmarks/results/sparse_vs_dense-medium-tiny/{name})" in text, name


def test_task_signal_table_is_the_committed_measurement():
    text = page("docs/benchmarks/main-job.md")
    results = json.loads((RESULTS / "task_signal-tiny-multi-sft.json").read_text())["results"]
    for r in results:
        row = (
            f"| {r['candidate'].split(':')[1]} | {r['greedy_success']:.3f} | {r['sampled_success']:.3f} | {r['pass_at_k']:.3f} | "
            f"{r['mixed_success']:.2f} | {r['mixed_groups']['sparse']:.2f} | {r['mixed_groups']['mentor']:.2f} |"
        )
        assert row in text, row


def test_learning_numbers_are_the_committed_ones():
    text = _flat(page("docs/benchmarks/sanity-ladder.md"))
    results = json.loads((RESULTS / "ppo_learning-tiny.json").read_text())
    runs = results["runs"]
    afters = ", ".join(f"{run['after']:.3f}" for run in runs)
    sentence = (
        f"From {runs[0]['before']:.3f}, the six seeds ended at {afters} (+{100 * results['mean_gain']:.1f} points on "
        f"average, a seed-to-seed standard deviation of {100 * results['after_std']:.1f})."
    )
    assert sentence in text
    assert [run["seed"] for run in runs] == [0, 1, 2, 3, 4, 5]


def _ladder_rows_on_page(folder: Path, text: str, rungs: str) -> dict:
    """The ladder's results in ``folder``: its summary.md is the one its results.json renders, and that
    summary's rows of ``rungs`` (rung letters) are on the page. Returns the results."""
    from benchmarks.rl_sanity import summary_markdown

    results = json.loads((folder / "results.json").read_text())
    summary = (folder / "summary.md").read_text()
    assert summary == summary_markdown(results["summary"])
    rows = [row for row in summary.splitlines() if row[:4] in {f"| {rung} " for rung in rungs}]
    assert rows
    for row in rows:
        assert row in text, row
    return results


def test_sanity_ladder_table_and_seeds_are_the_committed_summary():
    text = page("docs/benchmarks/sanity-ladder.md")
    folder = RESULTS / "rl_sanity-tiny"
    results = _ladder_rows_on_page(folder, text, "abc")
    rungs, flat = results["summary"], _flat(text)

    def points(rung: str) -> str:
        return ", ".join(f"{100 * d:+.1f}" for d in rungs[rung]["gain"]["differences"])

    assert f"GAE gained {points('b/gae')} points" in flat
    assert f"GRPO in pairs gained {points('b/grpo')} points" in flat
    assert f"TRL's `GRPOTrainer` gained {points('c/trl-grpo')} points" in flat
    assert f"(seeds {', '.join(f'{x:.2f}' for x in rungs['a/grpo']['last_updates'])})" in flat
    assert (folder / "ladder.png").stat().st_size > 10_000


def test_sanity_ladder_keeps_the_30_update_run_it_compares_with():
    """Rungs b and c ran at 30 updates before they ran at 40; the page quotes rung b's 30-update rows from the
    committed earlier run."""
    text = page("docs/benchmarks/sanity-ladder.md")
    folder = RESULTS / "rl_sanity-tiny-30-updates"
    results = _ladder_rows_on_page(folder, text, "b")
    assert {run["job"]["updates"] for run in results["runs"] if run["job"]["rung"] in ("b", "c")} == {30}
    assert len([name for name in results["summary"] if name.startswith("b/")]) == 2
    assert "](../../benchmarks/results/rl_sanity-tiny-30-updates/)" in text


def test_throughput_tables_are_the_committed_ones():
    text = page("docs/benchmarks/throughput.md")
    flat = _flat(text)
    agent = json.loads((RESULTS / "agent_throughput-tiny.json").read_text())["results"]
    for row in agent["updates"]:
        ours, before = row["ours"], row["baseline"]
        tokens, cpu = ours["generated_tokens_per_cpu_s"], ours["cpu_seconds_per_update"]
        wall = ours["wall_seconds_per_update"]
        assert (
            f"| {row['advantage']}, before | {before['generated_tokens_per_cpu_s']:.0f} | "
            f"{before['cpu_seconds_per_update']:.1f} | {before['wall_seconds_per_update']:.1f} |"
        ) in text, row["advantage"]
        assert (
            f"| {row['advantage']}, now | {tokens:.0f} (x{tokens / before['generated_tokens_per_cpu_s']:.2f}) | "
            f"{cpu:.1f} (x{before['cpu_seconds_per_update'] / cpu:.2f}) | "
            f"{wall:.1f} (x{before['wall_seconds_per_update'] / wall:.2f}) |"
        ) in text, row["advantage"]
    gae, grpo = ({**r["ours"]["time_per_update"]} for r in agent["updates"])
    parts = ("rollout", "env", "old_ref", "forward", "backward")
    assert (
        f"rollout {gae['rollout']:.2f} s, env {gae['env']:.2f} s, old/reference pass {gae['old_ref']:.2f} s, "
        f"training forward {gae['forward']:.2f} s, backward {gae['backward']:.2f} s "
        f"(`grpo`: {', '.join(f'{grpo[p]:.2f}' for p in parts)})"
    ) in flat
    longest = [u["longest_episode_tokens"] for u in agent["updates"][0]["ours"]["per_update"]]
    assert f"(the longest of each committed update has {min(longest)} to {max(longest)})" in flat
    generation, trl = agent["generation"], agent["trl"]
    one_turn, rollout = generation["one_turn_tokens_per_cpu_s"], generation["rollout_tokens_per_cpu_s"]
    assert (
        f"one turn {one_turn['prefix-cache']:,.0f} tokens/CPU-s with the prefix cache against {one_turn['hf']:,.0f} "
        f"with `generate` (x{generation['one_turn_speedup']:.2f}), whole rollouts {rollout['prefix-cache']:,.0f} "
        f"against {rollout['hf']:.0f} (x{generation['rollout_speedup']:.2f})"
    ) in flat
    assert (
        f"{trl['ours']['completion_tokens_per_cpu_s']:,.0f} completion tokens per CPU-second over whole steps "
        f"against {trl['trl']['completion_tokens_per_cpu_s']:.0f} (x{trl['speedup']:.2f})"
    ) in flat
    env = json.loads((RESULTS / "env_throughput.json").read_text())
    reset = {row["domain"]: row for row in env["reset"] if row["source"] == "split"}
    hostile = {row["domain"]: row for row in env["hostile_steps"]}
    for row in env["teacher_steps"]:
        domain, split_reset = row["domain"], reset[row["domain"]]
        line = (
            f"| {domain} | {split_reset['us_per_reset']:.0f} | {row['us_per_step']:.0f} | "
            f"{hostile[domain]['us_per_step']:.0f} | {split_reset['us_per_reset_unseeded']:.0f} | "
            f"{row['floor_us_per_step']:.0f} | {row['env_over_floor']:.2f} |"
        )
        assert line in text, line
    vector = {(row["mode"], row["num_envs"]): row for row in env["vector"]}
    assert (
        f"sync vector env runs {vector['sync', 8]['env_steps_per_s']:.0f} env steps/s at 8 envs and the async one "
        f"{vector['async', 8]['env_steps_per_s']:.0f}"
    ) in flat
    loop = {row["num_envs"]: row for row in env["loop"]}
    pipe = {row["num_envs"]: row for row in env["pipe_floor"]}
    assert (
        f"spends {vector['async', 8]['cpu_us_per_env_step']:.0f} µs per env step at 8 envs (parent and workers) "
        f"against {loop[8]['cpu_us_per_env_step']:.0f} µs for an in-process loop over 8 envs"
    ) in flat
    assert f"already costs {pipe[8]['cpu_us_per_round_trip']:.0f} µs" in flat
    dense = next(row for row in env["rewards"] if row["name"] == "dense")
    assert f"the `dense` reward takes {dense['us_per_call']:.1f} µs" in flat


def test_teacher_pass_table_is_the_committed_one():
    text = page("docs/benchmarks/throughput.md")
    teacher = json.loads((RESULTS / "agent_throughput-teacher-tiny.json").read_text())["results"]["teacher"]
    assert (
        f"| {teacher['teacher_cpu_seconds']:.2f} CPU-s | {teacher['reference_cpu_seconds']:.2f} CPU-s | "
        f"x{teacher['teacher_per_reference']:.2f} | {teacher['cpu_seconds_per_update']:.2f} CPU-s | "
        f"{teacher['teacher_share_of_update']:.0%} |"
    ) in text
    assert f"{teacher['updates_measured']} updates measured" in text
    assert teacher["teacher"] == "agents/checkpoints/tiny-calc-teacher"


def test_openenv_load_table_is_the_committed_one():
    text = page("docs/benchmarks/load-test.md")
    results = json.loads((RESULTS / "openenv_load.json").read_text())
    for row in results["throughput"]:
        line = (
            f"| {row['sessions']} | {row['requests_per_s']:.0f} | {row['episodes_per_s']:.0f} | {row['p50_ms']:.1f} | "
            f"{row['p99_ms']:.1f} | {row['errors']} | {row['server_threads_open']} | {row['server_rss_mb_open']:.0f} | "
            f"{row['server_sessions_after']} | {row['server_rss_mb_after']:.0f} |"
        )
        assert line in text, line
    churn = results["dying_clients"]
    assert all(row["sessions_left"] == 0 and row["failures"] == 0 for row in churn["rounds"])
    assert churn["isolation"]["foreign_answers"] == 0 and results["malformed"]["all_refused"]
    rss = ", ".join(f"{row['rss_mb']:.0f}" for row in churn["rounds"])
    assert f"resident memory {rss} MB" in _flat(text)


def test_openenv_abuse_numbers_are_the_committed_ones():
    flat = _flat(page("docs/concepts/reliability.md"))
    abuse = json.loads((RESULTS / "openenv_abuse.json").read_text())
    settings, slow = abuse["settings"], abuse["abuse"]["slow_connections"]
    assert [run["slow_addresses"] for run in slow] == settings["slow_addresses"] == [1, 100]
    assert (
        f"with {settings['open_files']} open files and {settings['slow_connections']} slow connections held for "
        f"{settings['abuse_seconds']:.0f} s from 1 and from 100 addresses"
    ) in flat
    answered = {f"{run['probes_answered_200']}/{run['probes']}" for run in slow}
    assert answered == {"48/48"} and "got 48/48 answers and played an episode" in flat
    assert all(run["episode_at_the_end"][-1] == "observation (done)" for run in slow)
    log = " / ".join(str(run["server_log_bytes"]) for run in slow)
    assert f"the server wrote {log} bytes of log" in flat
    assert abuse["abuse"]["mcp_session_creates"]["statuses"] == {"403": 256} and "256 MCP session creates" in flat


def test_fuzz_numbers_are_the_committed_ones():
    flat = _flat(page("docs/concepts/reliability.md"))
    report = json.loads((RESULTS / "fuzz_envs.json").read_text())
    domains = report["domains"]
    assert sum(row["steps"] for row in domains) == 10**6 and {row["steps"] for row in domains} == {200_000}
    assert "played 10^6 steps, 200,000 on each text env" in flat
    assert sum(row["violations"] for row in domains) == 0 and "found 0 contract violations" in flat
    assert report["table_database_unchanged"] is True
    medians = sorted(row["step_ms"]["median"] for row in domains)
    assert f"median step {medians[0]:.2f}-{medians[-1]:.2f} ms" in flat
    slowest = max(row["step_ms"]["max"] for row in domains) / 1000
    assert f"the slowest {slowest:.2f} s" in flat


def test_judge_change_table_is_the_committed_one():
    from benchmarks.judge_change import format_table

    text = page("docs/benchmarks/judge-change.md")
    report = json.loads((RESULTS / "judge_change-tiny.json").read_text())
    for row in format_table(report).splitlines():
        assert row in text, row
    episodes = sum(row["episodes"] for row in report["sets"].values())
    assert episodes == 1400 and f"({episodes:,} episodes)" in text
    assert all(not row["changed"] for row in report["sets"].values()) and "No verdict changed" in text
    assert f"on {episodes:,} episodes judged by the old and the new judges" in _flat(
        page("docs/concepts/reliability.md")
    )


def test_external_sets_table_is_the_committed_one():
    from benchmarks import external_sets
    from benchmarks.external_sets import format_table

    text = page("docs/benchmarks/external-sets.md")
    report = json.loads((ROOT / external_sets.DEFAULT_JSON).read_text())
    assert format_table(report) in text
    assert report["settings"]["tiny"]["checkpoint"] == "agents/checkpoints/tiny-calc-sft"
    tiny_seconds = sum(seconds for key, seconds in report["seconds"].items() if key.startswith("tiny/"))
    tiny_episodes = sum(entry["n"] for entry in report["sets"])
    assert f"{tiny_seconds / 60:.1f} minutes for the tiny student's {tiny_episodes} episodes" in _flat(text)


def _main_job_derived_numbers(results: dict) -> set[str]:
    """Numbers the main-job page's prose derives from results.json: the means over the out-of-domain columns the
    warm start reaches, each RL arm's training rise (last 10 updates against the first 10), each teacher arm's
    per-token teacher reward at its first and last update, and the run's minutes."""
    import statistics

    reached = ("calc/test L3", "units/test L1-2", "dates/test L1-2")
    numbers = {f"{statistics.mean(results['start']['final'][c]['success_rate'] for c in reached):.3f}"}
    for runs in results["runs"].values():
        means = [statistics.mean(run["final"][c]["success_rate"] for run in runs) for c in reached]
        numbers.add(f"{statistics.mean(means):.3f}")
        if "updates" in runs[0]:
            rises = [
                statistics.mean(u["success_rate"] for u in run["updates"][-10:])
                - statistics.mean(u["success_rate"] for u in run["updates"][:10])
                for run in runs
            ]
            numbers.add(f"+{100 * statistics.mean(rises):.1f}")
        if "updates" in runs[0] and "teacher" in runs[0]["updates"][0]:
            for update in (0, -1):
                numbers.add(f"{statistics.mean(run['updates'][update]['teacher']['token_reward'] for run in runs):.3f}")
    return numbers | {f"{results['minutes']:.0f}", f"{results['stage_minutes']:.0f}"}


def test_main_job_prose_numbers_come_from_the_committed_result():
    # Every number in "What it shows" and in the run's description is in the committed summary (a table cell, an
    # interval, or its mirror image: "sft - mentor" is "mentor - sft" negated) or derived from results.json.
    text = page("docs/benchmarks/main-job.md")
    prose = text[text.index("was run with the protocol above") : text.index("Machine: cpu")]
    summary = (MAIN_JOB / "summary.md").read_text()
    results = json.loads((MAIN_JOB / "results.json").read_text())
    known = set(re.findall(r"[+-]?\d+\.\d+", summary)) | _main_job_derived_numbers(results)
    known |= {n.lstrip("+-") for n in known} | {
        ("-" if n.startswith("+") else "+") + n[1:] for n in known if n[0] in "+-"
    }
    numbers = re.findall(r"[+-]?\d+\.\d+|\b\d+ (?:minutes|seeds|of 6)", prose)
    unknown = [n for n in numbers if n.split()[0] not in known and not n.endswith(("seeds", "of 6"))]
    assert len(numbers) > 40 and not unknown, unknown
