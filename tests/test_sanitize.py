"""What an answer may contain: no images, no links no source holds, no HTML; code is left as written."""

from assistant.rag.sanitize import linkable, no_images, sanitize_answer

SOURCES = ["The FastAPI tutorial at https://fastapi.tiangolo.com/tutorial/ builds a first endpoint."]


def test_images_of_every_kind_go():
    text = "See ![x](http://evil.example/a?q=T) and ![y][r].\n\n[r]: http://evil.example/b?q=T"
    out = sanitize_answer(text, SOURCES)
    assert "evil.example" not in out.text and "![" not in out.text and len(out.removed) == 3


def test_links_are_kept_only_when_a_source_holds_them():
    text = (
        "Read [the tutorial](https://fastapi.tiangolo.com/tutorial/). Or https://fastapi.tiangolo.com/tutorial/, "
        "not [this](http://evil.example/c) or www.evil.example/d."
    )
    out = sanitize_answer(text, SOURCES)
    assert out.text.count("https://fastapi.tiangolo.com/tutorial/") == 2
    assert "evil.example" not in out.text and "Read [the tutorial]" in out.text and "not this or" in out.text


def test_html_goes_and_scripts_with_their_content_but_code_stays():
    text = "Use FastAPI <script>steal()</script><b>now</b>.\n```html\n<b>kept as code</b>\n```\nAnd `<i>` too."
    out = sanitize_answer(text, SOURCES)
    assert "steal" not in out.text and "<b>now</b>" not in out.text and "now" in out.text
    assert "<b>kept as code</b>" in out.text and "`<i>`" in out.text


def test_a_clean_answer_is_returned_unchanged():
    text = "Use  FastAPI [1].\n\n- Docker [2]."
    assert sanitize_answer(text, SOURCES).text == text


def test_image_and_definition_urls_in_sources_do_not_make_links_linkable():
    source = "Notes ![x](http://evil.example/p) … [ref]: http://evil.example/r and https://ok.example/page"
    assert "evil.example" not in linkable(source) and "https://ok.example/page" in linkable(source)
    assert no_images("a ![alt](http://x/y) b") == "a alt b"
