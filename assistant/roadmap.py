"""The roadmap as data: stages, topics, prerequisites and resources, read from knowledge/ front matter.

The Markdown documents are the single source: each one's YAML front matter declares its stage,
topics and prerequisites, each topic is a ``## `` heading whose slug is the topic id, and the
``## Resources`` section lists links in a fixed, parseable form. Quiz, progress and
what-to-study-next features read this model; a test validates the whole corpus with ``problems()``.
"""

from __future__ import annotations

import re
from datetime import date
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

ID = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
RESOURCE = re.compile(
    r"^- \[(?P<title>[^\]]+)\]\((?P<url>https://[^\s)]+)\) - (?P<kind>course|book|docs|article|video|tool|"
    r"dataset|paper|community), (?P<level>beginner|intermediate|advanced), (?P<cost>free|paid|freemium)\. "
    r"(?P<note>\S.*)$"
)
URL = re.compile(r"^https://[a-z0-9.-]+\.[a-z]{2,}(?:[/?#][^\s]*)?$", re.IGNORECASE)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


MAX_FRONT_MATTER_CHARS = 16_384  # the corpus's front matter is under 500 characters
MAX_VALUE_CHARS = 2_000
MAX_DEPTH = 8
_OPEN = re.compile(r"---[ \t]*\r?\n")
_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.MULTILINE)


class FrontMatterError(ValueError):
    """Front matter that is refused; the message says what to change."""


class _FrontMatterLoader(yaml.SafeLoader):
    """The one loader for front matter: safe types only, and no anchors or aliases (a 1 KB alias bomb
    expands to gigabytes), no deep nesting, no huge values, no repeated keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise FrontMatterError("front matter uses YAML aliases; remove them")
        if isinstance(event, yaml.ScalarEvent) and len(event.value) > MAX_VALUE_CHARS:
            raise FrontMatterError(f"a front matter value is over {MAX_VALUE_CHARS:,} characters; shorten it")
        if self._depth >= MAX_DEPTH:
            raise FrontMatterError(f"front matter nests deeper than {MAX_DEPTH} levels; flatten it")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode):
                if (key.tag, key.value) in seen:
                    raise FrontMatterError(f"front matter repeats the key '{key.value[:40]}'; keep one")
                seen.add((key.tag, key.value))
        return super().construct_mapping(node, deep)


def read_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(metadata, body) of a Markdown file; raises ``FrontMatterError`` with the fix when the front matter
    is refused (aliases, too large, invalid YAML, a list or number instead of ``key: value`` lines).

    No front matter, or a block that is plain text (a ``---`` rule around a paragraph), gives ({}, text).
    """
    text = text.removeprefix("\ufeff")
    opening = _OPEN.match(text)
    closing = _CLOSE.search(text, opening.end()) if opening else None
    if opening is None or closing is None:
        return {}, text
    block = text[opening.end() : closing.start()]
    if len(block) > MAX_FRONT_MATTER_CHARS:
        raise FrontMatterError(f"front matter is over {MAX_FRONT_MATTER_CHARS // 1024} KiB; shorten it")
    try:
        meta = yaml.load(block, Loader=_FrontMatterLoader)  # a SafeLoader, stricter than safe_load
    except FrontMatterError:
        raise
    except yaml.MarkedYAMLError as exc:
        where = f", line {exc.problem_mark.line + 2}" if exc.problem_mark else ""
        raise FrontMatterError(
            f"front matter is not valid YAML ({exc.problem or exc.context}{where}); fix it"
        ) from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        # ValueError: a date like 2026-13-45, an int of more digits than Python converts
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise FrontMatterError(f"front matter is not valid YAML ({reason}); fix it") from None
    body = text[closing.end() :].lstrip("\r\n")
    if meta is None:
        return {}, body
    if isinstance(meta, str):
        return {}, text
    if not isinstance(meta, dict):
        raise FrontMatterError("front matter is not 'key: value' lines; fix it")
    return {str(k): v for k, v in meta.items()}, body


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(metadata, body) of a Markdown file; no, refused or broken front matter gives ({}, text)."""
    try:
        return read_front_matter(text)
    except FrontMatterError:
        return {}, text


class Resource(BaseModel):
    title: str
    url: str
    kind: str
    level: str
    cost: str
    note: str


class StageMeta(BaseModel):
    """The front-matter schema of a roadmap document."""

    id: str = Field(pattern=ID)
    title: str = Field(min_length=3)
    stage: int = Field(ge=1, le=99)
    level: Literal["beginner", "intermediate", "advanced"]
    estimated_hours: int = Field(ge=1, le=2000)
    topics: list[str] = Field(min_length=1)
    prerequisites: list[str] = Field(default_factory=list)
    interview_skip: list[str] = Field(
        default_factory=list, description="topics mock interviews leave out unless asked (careers, course lists)"
    )
    last_reviewed: date = Field(description="when the document's facts were last checked (YAML date, YYYY-MM-DD)")


class Stage(StageMeta):
    # Required in front matter (StageMeta, checked by load_roadmap); optional here only so that roadmaps saved
    # before the field existed (the practice recordings under tests/fixtures) still load.
    last_reviewed: date | None = None  # type: ignore[assignment]
    path: str
    headings: dict[str, str] = Field(default_factory=dict)  # topic id -> heading text
    resources: list[Resource] = Field(default_factory=list)
    bad_resource_lines: list[str] = Field(default_factory=list)
    words: int = 0


def _parse_body(body: str) -> tuple[dict[str, str], list[Resource], list[str]]:
    headings = {slug(line[3:]): line[3:].strip() for line in body.splitlines() if line.startswith("## ")}
    resources: list[Resource] = []
    bad: list[str] = []
    in_resources = False
    for line in body.splitlines():
        if line.startswith("## "):
            in_resources = line[3:].strip().lower() == "resources"
        elif in_resources and line.startswith("- "):
            match = RESOURCE.match(line.strip())
            if match and URL.match(match["url"]):
                resources.append(Resource(**match.groupdict()))
            else:
                bad.append(line.strip())
    return headings, resources, bad


class Roadmap(BaseModel):
    stages: list[Stage]
    errors: list[str] = Field(default_factory=list)  # files that could not be read as stages

    def stage(self, ref: str | int) -> Stage | None:
        return next((s for s in self.stages if ref in (s.id, s.stage)), None)

    def topic_owner(self) -> dict[str, Stage]:
        return {t: s for s in self.stages for t in s.topics}

    def topic_title(self, topic: str) -> str:
        owner = self.topic_owner().get(topic)
        return owner.headings.get(topic, topic) if owner else topic

    def order(self) -> list[str]:
        """Stage and topic ids in an order where prerequisites come first (raises on cycles)."""
        graph: dict[str, set[str]] = {}
        for s in self.stages:
            graph.setdefault(s.id, set()).update(s.prerequisites)
            for t in s.topics:
                graph.setdefault(t, set()).add(s.id)
        return list(TopologicalSorter(graph).static_order())

    def problems(self) -> list[str]:
        found = list(self.errors)
        ids = [s.id for s in self.stages]
        topics = [t for s in self.stages for t in s.topics]
        known = set(ids) | set(topics)
        for dup in {x for x in ids + topics if (ids + topics).count(x) > 1}:
            found.append(f"id '{dup}' is used more than once")
        for s in self.stages:
            for t in s.topics:
                if not re.match(ID, t):
                    found.append(f"{s.path}: topic id '{t}' is not kebab-case")
                if t not in s.headings:
                    found.append(f"{s.path}: topic '{t}' has no '## ' heading with that slug")
            found += [
                f"{s.path}: interview_skip names unknown topic '{t}'" for t in s.interview_skip if t not in s.topics
            ]
            for p in s.prerequisites:
                if p not in known:
                    found.append(f"{s.path}: unknown prerequisite '{p}'")
            if not s.resources:
                found.append(f"{s.path}: no '## Resources' links")
            found += [f"{s.path}: malformed resource line: {line[:80]}" for line in s.bad_resource_lines]
        try:
            self.order()
        except CycleError as exc:
            found.append(f"prerequisite cycle: {' -> '.join(map(str, exc.args[1]))}")
        return found


def load_roadmap(folder: Path) -> Roadmap:
    stages: list[Stage] = []
    errors: list[str] = []
    for path in sorted(folder.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        try:
            meta, body = read_front_matter(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, FrontMatterError) as exc:
            reason = str(exc) if isinstance(exc, FrontMatterError) else f"unreadable ({type(exc).__name__})"
            errors.append(f"{path.name}: {reason}")
            continue
        try:
            head = StageMeta.model_validate(meta)
        except ValidationError as exc:
            first = exc.errors()[0]
            errors.append(f"{path.name}: front matter field {'.'.join(map(str, first['loc']))}: {first['msg']}")
            continue
        headings, resources, bad = _parse_body(body)
        stages.append(
            Stage(
                **head.model_dump(),
                path=path.name,
                headings=headings,
                resources=resources,
                bad_resource_lines=bad,
                words=len(body.split()),
            )
        )
    return Roadmap(stages=sorted(stages, key=lambda s: s.stage), errors=errors)
