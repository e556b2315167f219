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


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(metadata, body) of a Markdown file; no or broken front matter gives ({}, text)."""
    if not text.startswith("---"):
        return {}, text
    end = text.find("\n---", 3)
    if end == -1:
        return {}, text
    try:
        meta = yaml.safe_load(text[3:end]) or {}
    except yaml.YAMLError:
        return {}, text
    return (meta if isinstance(meta, dict) else {}), text[end + 4 :].lstrip("\n")


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
        meta, body = split_front_matter(path.read_text(encoding="utf-8"))
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
