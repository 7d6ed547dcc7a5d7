"""Supervised fine-tuning on teacher trajectories: the paper's SFT baseline and the RL warm start.

Each teacher trajectory becomes the token layout the policy will see during RL
(:class:`agents.lm_policy.ChatLayout`): the prompt, then every assistant turn
as the model should write it followed by EOS, then the environment's tokens.
The loss is the next-token cross-entropy on the assistant tokens only; prompt
and tool-response tokens are masked out.

    python -m agents.sft --model tiny --domains calc --tasks 2000 --epochs 3 --out runs/sft-tiny

Torch runs one CPU thread unless ``--threads`` says otherwise (torch's default, one per core, is many times
slower on a machine whose cores other jobs share).
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import torch

from agents.config import parse_declared
from agents.lm_policy import ChatLayout, TokenTrace
from agents.students import require_student
from mentor_env.core.files import atomic_files, lock_folder, write_text_atomically
from mentor_env.core.splits import load_split
from mentor_env.core.task import Task
from mentor_env.domains import get_domain

# The committed SFT warm start of the tiny student (`make warm-start` rebuilds it; its README.md says how
# it was trained). RL runs start from it so they need not pay the 18 CPU minutes of SFT each time.
WARM_START = Path(__file__).resolve().parent / "checkpoints" / "tiny-calc-sft"


def warm_start_path() -> str:
    """The path of the committed tiny-student warm start, :data:`WARM_START`, for ``from_pretrained``.

    A Hugging Face model folder (``AutoModelForCausalLM`` / ``AutoTokenizer``)
    in the repository, next to this module: the ``mentor_env`` package does not
    ship it. Any chat model's name or folder serves the same examples.

    Raises:
        FileNotFoundError: the folder holds no ``config.json`` (``make warm-start`` rebuilds it).
    """
    if not (WARM_START / "config.json").is_file():
        raise FileNotFoundError(
            f"the tiny student's warm start is not at {WARM_START} (no config.json there): "
            "`make warm-start` rebuilds it; or pass any chat model's name or folder instead"
        )
    return str(WARM_START)


# SmolLM2-135M-Instruct fine-tuned on teacher trajectories of the five RL domains: `make warm-start-smollm2` builds
# it (about 270 MB, so not committed; .gitignore keeps it out). The main job's full profile starts from it.
SMOLLM2_WARM_START = Path(__file__).resolve().parent / "checkpoints" / "smollm2-sft"


def smollm2_warm_start_path() -> str:
    """The path of SmolLM2's SFT warm start, :data:`SMOLLM2_WARM_START`, once `make warm-start-smollm2` built it.

    Raises:
        FileNotFoundError: the folder holds no ``config.json``; the message names the make target.
    """
    if not (SMOLLM2_WARM_START / "config.json").is_file():
        raise FileNotFoundError(
            f"SmolLM2's SFT warm start is not at {SMOLLM2_WARM_START} (no config.json there): "
            "`make warm-start-smollm2` builds it (about 15 minutes on one CPU thread, in the background)"
        )
    return str(SMOLLM2_WARM_START)


@dataclass
class SFTConfig:
    """How to fine-tune: the optimizer and its schedule (``sft_history.json`` records them with the losses)."""

    epochs: int = field(default=3, metadata={"help": "passes over the teacher trajectories"})
    batch_size: int = field(default=16, metadata={"help": "sequences per optimizer step"})
    learning_rate: float = field(
        default=1e-3, metadata={"help": "AdamW peak rate (tiny models like it high; 1e-5 for pretrained ones)"}
    )
    warmup_steps: int = field(default=20, metadata={"help": "linear warm-up, then cosine decay to zero"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW's decoupled weight decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping"})
    max_tokens: int = field(
        default=1024, metadata={"help": "longer trajectories are dropped, not cut (a cut turn teaches nothing)"}
    )
    seed: int = field(
        default=0, metadata={"help": "seeds torch (and the tiny student's initial weights) and the batch order"}
    )
    precision: Literal["fp32", "bf16"] = field(
        default="fp32",
        metadata={
            "help": "'bf16': forward and backward under torch.autocast to bfloat16 (the weights and AdamW stay fp32)"
        },
    )


@dataclass
class SFTRun:
    """What ``python -m agents.sft`` trains and where it writes: the model, the teacher data, the output folder."""

    out: str = field(
        metadata={"help": "the output folder: the model, its tokenizer and sft_history.json (one run at a time)"}
    )
    model: str = field(
        default="tiny",
        metadata={
            "help": "the weights to start from: a built-in student ('tiny', 'smollm2-135m') or a local Hugging Face "
            "model directory (an earlier SFT output continues from it)"
        },
    )
    domains: list[str] = field(
        default_factory=lambda: ["calc"], metadata={"help": "domains whose teacher trajectories to train on"}
    )
    tasks: int = field(default=2000, metadata={"help": "teacher trajectories per domain (from the train split)"})
    max_difficulty: int | None = field(
        default=None, metadata={"help": "keep only tasks up to this difficulty (None: all)"}
    )
    threads: int = field(
        default=1,
        metadata={
            "help": "torch CPU threads (torch's default, one per core, ran PPO 21x slower on a busy 2-core machine)"
        },
    )

    def __post_init__(self) -> None:
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {self.threads!r}")


def teacher_episode(layout: ChatLayout, task: Task, tools: list[dict[str, Any]]) -> TokenTrace:
    """A teacher trajectory in the RL token layout, with the assistant tokens marked."""
    messages = list(task.teacher.messages)
    if len(messages) < 3 or messages[2]["role"] != "assistant":
        raise ValueError(f"task {task.id}: the teacher trajectory has no assistant turn after system and user")
    ids = layout.prompt_ids(messages[:2], tools)
    mask = [False] * len(ids)
    index = 2
    while index < len(messages):
        turn = layout.assistant_turn_ids(messages[index])
        ids += turn
        mask += [True] * len(turn)
        index += 1
        tool_messages = []
        while index < len(messages) and messages[index]["role"] == "tool":
            tool_messages.append(messages[index])
            index += 1
        if tool_messages:
            answer = layout.environment_ids(turn, tool_messages)
            ids += answer
            mask += [False] * len(answer)
    return TokenTrace(token_ids=ids, action_mask=mask)


def build_dataset(layout: ChatLayout, tasks: Sequence[Task], max_tokens: int) -> list[TokenTrace]:
    episodes = []
    for task in tasks:
        tools = [tool.spec for tool in get_domain(task.domain).tools]
        episode = teacher_episode(layout, task, tools)
        if len(episode.token_ids) <= max_tokens:
            episodes.append(episode)
    return episodes


def collate(episodes: Sequence[TokenTrace], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``labels`` (-100 outside assistant tokens)."""
    width = max(len(episode.token_ids) for episode in episodes)
    input_ids = torch.full((len(episodes), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(episodes), width), dtype=torch.long)
    labels = torch.full((len(episodes), width), -100, dtype=torch.long)
    for row, episode in enumerate(episodes):
        length = len(episode.token_ids)
        ids = torch.tensor(episode.token_ids)
        input_ids[row, :length] = ids
        attention_mask[row, :length] = 1
        labels[row, :length] = torch.where(torch.tensor(episode.action_mask), ids, torch.tensor(-100))
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """The context the forward pass runs in: nothing for ``"fp32"``, bfloat16 autocast for ``"bf16"``."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")


def sequence_loss(model: Any, batch: dict[str, torch.Tensor], precision: str = "fp32") -> torch.Tensor:
    """Mean cross-entropy over the assistant tokens of the batch (the logits in fp32 whatever ``precision``)."""
    with autocast(precision, batch["input_ids"].device):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    targets = batch["labels"][:, 1:]
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-100
    )


def train_sft(
    model: Any, tokenizer: Any, tasks: Sequence[Task], config: SFTConfig, log: Any = None
) -> list[dict[str, float]]:
    """Fine-tune ``model`` in place on the teacher trajectories of ``tasks``; returns the loss history.

    Each row: the step, epoch, loss, learning rate and the seconds since training began (the data built).
    """
    layout = ChatLayout(tokenizer)
    episodes = build_dataset(layout, tasks, config.max_tokens)
    if not episodes:
        raise ValueError(f"no teacher trajectory of the {len(tasks)} tasks fits in {config.max_tokens} tokens")
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else layout.eos_token_id
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps = config.epochs * math.ceil(len(episodes) / config.batch_size)

    def schedule(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(1, steps - config.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    order = random.Random(config.seed)
    history = []
    model.train()
    step = 0
    started = time.perf_counter()
    for epoch in range(config.epochs):
        shuffled = list(episodes)
        order.shuffle(shuffled)
        for start in range(0, len(shuffled), config.batch_size):
            batch = {k: v.to(device) for k, v in collate(shuffled[start : start + config.batch_size], pad).items()}
            loss = sequence_loss(model, batch, config.precision)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            seconds = round(time.perf_counter() - started, 3)
            history.append(
                {
                    "step": step,
                    "epoch": epoch,
                    "loss": loss.item(),
                    "lr": scheduler.get_last_lr()[0],
                    "seconds": seconds,
                }
            )
            if log is not None:
                log(history[-1])
            step += 1
    model.eval()
    return history


def main(argv: Sequence[str] | None = None) -> list[dict[str, float]]:
    """The command line: train, then write the model, tokenizer and ``sft_history.json`` into ``--out``.

    One flag per field of :class:`SFTRun` and :class:`SFTConfig` (:mod:`agents.config`). ``--out`` is locked
    for the run (a second run on it fails at once); each file is replaced atomically and ``sft_history.json``,
    written last, marks a complete save (:mod:`mentor_env.core.files`).
    """
    run, config = parse_declared([SFTRun, SFTConfig], argv, __doc__)
    require_student(run.model)  # before --out exists: a wrong path leaves nothing behind
    torch.set_num_threads(run.threads)
    with lock_folder(Path(run.out)):
        history = _train_and_save(run, config)
    print(f"final loss {history[-1]['loss']:.4f}; saved to {run.out}")
    return history


def _teacher_tasks(domain: str, max_difficulty: int | None) -> list[Task]:
    """The train split of ``domain`` up to ``max_difficulty`` (None: every level), in the split's order."""
    high = math.inf if max_difficulty is None else max_difficulty
    return [task for task in load_split(get_domain(domain), "train") if task.meta.get("difficulty", 0) <= high]


def _train_and_save(run: SFTRun, config: SFTConfig) -> list[dict[str, float]]:
    from agents.students import load_student

    torch.manual_seed(config.seed)
    model, tokenizer = load_student(run.model, seed=config.seed)
    tasks = [task for name in run.domains for task in _teacher_tasks(name, run.max_difficulty)[: run.tasks]]
    history = train_sft(
        model, tokenizer, tasks, config, log=lambda row: print(json.dumps(row)) if row["step"] % 20 == 0 else None
    )
    out = Path(run.out)
    with atomic_files(out) as building:
        model.save_pretrained(building)
        tokenizer.save_pretrained(building)
    history_text = json.dumps({"config": asdict(config), "history": history}, indent=1)
    write_text_atomically(out / "sft_history.json", history_text)
    return history


if __name__ == "__main__":
    main()
