"""`tutor ingest`: files, folders and URLs into the index, with the pages they link."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ui.common import JsonOpt, emit_json, run_safely, settings


def ingest(
    inputs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Files, folders or http(s) URLs to ingest (default: KNOWLEDGE_DIR, i.e. knowledge/).",
            metavar="PATH_OR_URL...",
        ),
    ] = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Start over in a new index; the old one answers until it is complete.")
    ] = False,
    links: Annotated[
        bool | None,
        typer.Option(
            "--links/--no-links",
            help="Fetch the pages the documents link. Default: on for the inputs you name; for the default "
            "KNOWLEDGE_DIR only with KNOWLEDGE_LINKS=true (so `make run` needs no network).",
            show_default=False,
        ),
    ] = None,
    max_pages: Annotated[
        int | None, typer.Option("--max-pages", min=0, help="Most linked pages fetched per run (LINK_MAX_PAGES).")
    ] = None,
    depth: Annotated[
        int | None, typer.Option("--link-depth", min=0, max=3, help="Link levels to follow (LINK_DEPTH; 0: none).")
    ] = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait if another ingest holds the lock.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Ingest documents into the index. Unchanged documents are skipped; removed ones are deleted.

    Links in the documents you name are fetched (depth LINK_DEPTH, default 1) through a safe, polite,
    cached fetcher; dead and refused links are listed in the report by the document that links them.
    The default KNOWLEDGE_DIR is ingested without its links unless --links or KNOWLEDGE_LINKS=true.
    """
    import sys
    from pathlib import Path

    from ingest.crawl import is_web_url
    from ingest.netguard import foreign_scheme
    from ingest.pipeline import Ingestor, LinkOptions
    from ingest.store import open_store
    from ui.progress import TerminalProgress

    cfg = settings()

    def target(x: str) -> Path | str:  # a URL (any scheme, refused later if not http) stays text
        return x if is_web_url(x) or (foreign_scheme(x) and not Path(x).exists()) else Path(x)

    targets: list[Path | str] = [target(x) for x in inputs] if inputs else [cfg.knowledge_dir]
    follow = links if links is not None else (bool(inputs) or cfg.knowledge_links)
    options = LinkOptions(
        depth=0 if not follow else (cfg.link_depth if depth is None else depth),
        max_pages=cfg.link_max_pages if max_pages is None else max_pages,
    )

    def embedder() -> Any:  # loaded only when something needs embedding; every batch goes to the ledger
        from assistant.accounting.embedding import account_embedder_from_settings
        from assistant.embedding.minilm import load_embedder

        return account_embedder_from_settings(load_embedder(cfg.embedding_model), cfg)

    moved: list[Path] = []

    def go() -> Any:
        client, aside = open_store(cfg, rebuild=rebuild)
        moved.extend([aside] if aside else [])
        ingestor = Ingestor(cfg, client, embedder, lock_timeout_s=wait)
        with TerminalProgress(enabled=not as_json and sys.stdout.isatty()) as progress:
            return ingestor.run(targets, rebuild=rebuild, links=options, progress=progress.update)

    report = run_safely(go)
    if as_json:
        emit_json(report.to_json())
    else:
        typer.echo(report.summary())
        for path in moved:
            typer.echo(f"the damaged index was moved to {path} (delete it once you are happy with the new one)")
        typer.echo(f"report: {cfg.data_dir / 'last-ingest.json'}")
    if not report.ingested_anything:
        raise typer.Exit(1)
