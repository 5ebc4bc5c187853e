"""`sci lsp` driven by an LSP client this project did not write.

The client is pytest-lsp (built on pygls and lsprotocol, from PyPI): it starts the real
`sci lsp` binary over stdio, declares the capabilities of VS Code, validates the server's
answers against them, and talks to it as an editor does. Run through `run.sh`, which
installs the client into a local virtual environment and builds the binary.
"""

import os
import pathlib
import time

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCI = os.environ.get("SCI_BIN", str(ROOT / "target" / "debug" / "sci"))
EXAMPLES = sorted((ROOT / "examples").glob("*.sci"))


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[SCI, "lsp"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=ROOT.as_uri(),
        )
    )
    yield
    # A clean shutdown: `shutdown`, then `exit`, and the process ends with status 0.
    await lsp_client.shutdown_session()
    server = lsp_client._server  # the subprocess pygls started
    assert server is not None and server.returncode == 0, server and server.returncode


def utf16(s: str) -> int:
    """Length of `s` in UTF-16 code units (LSP columns)."""
    return len(s.encode("utf-16-le")) // 2


def position_of(text: str, needle: str, nth: int = 0, delta: int = 0) -> types.Position:
    """The LSP position of the `nth` occurrence of `needle`, plus `delta` characters."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(needle, start + 1)
    line = text.count("\n", 0, start)
    line_start = text.rfind("\n", 0, start) + 1
    return types.Position(line=line, character=utf16(text[line_start:start]) + delta)


async def open_document(client: LanguageClient, path: pathlib.Path, text: str | None = None):
    """Opens a document and waits for its first diagnostics."""
    uri = path.as_uri()
    text = path.read_text(encoding="utf-8") if text is None else text
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="sci", version=1, text=text)
        )
    )
    await wait_for_diagnostics(client, uri)
    return uri, text


async def wait_for_diagnostics(client: LanguageClient, uri: str, timeout: float = 5.0):
    """The next diagnostics published for `uri`."""
    deadline = time.monotonic() + timeout
    while True:
        params = await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if params.uri == uri:
            return params
        assert time.monotonic() < deadline, "no diagnostics for " + uri


async def test_every_example_opens_without_errors(client: LanguageClient):
    assert len(EXAMPLES) >= 10
    for path in EXAMPLES:
        uri, _ = await open_document(client, path)
        errors = [d for d in client.diagnostics[uri] if d.severity == types.DiagnosticSeverity.Error]
        assert errors == [], (path.name, errors)


async def test_a_broken_edit_gets_diagnostics_within_a_second(client: LanguageClient):
    uri, text = await open_document(client, ROOT / "examples" / "pendulum.sci")
    # Misspell the state `omega` in `der(theta) = omega`: an incremental edit.
    at = position_of(text, "= omega\n", delta=7)
    started = time.monotonic()
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=at, end=at), text="a"
                )
            ],
        )
    )
    published = await wait_for_diagnostics(client, uri)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, elapsed
    assert published.version == 2
    [problem] = published.diagnostics
    assert problem.severity == types.DiagnosticSeverity.Error
    assert problem.code == "E0201"
    assert "omegaa" in problem.message and "did you mean `omega`?" in problem.message
    assert problem.range.start == types.Position(line=at.line, character=at.character - 5)


async def test_hover_on_a_state_shows_its_unit_and_shape(client: LanguageClient):
    uri, text = await open_document(client, ROOT / "examples" / "pendulum.sci")
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position_of(text, "omega: rad/s", delta=2),
        )
    )
    assert hover.contents.kind == types.MarkupKind.Markdown
    assert "**state** `omega`" in hover.contents.value
    assert "unit `rad/s`" in hover.contents.value
    assert "shape `scalar`" in hover.contents.value

    uri, text = await open_document(client, ROOT / "examples" / "heat1d.sci")
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position_of(text, "u[i - 1]"),
        )
    )
    assert "**state** `u`" in hover.contents.value
    assert "shape `[200]`" in hover.contents.value


async def test_go_to_definition(client: LanguageClient):
    uri, text = await open_document(client, ROOT / "examples" / "heat1d.sci")
    result = await client.text_document_definition_async(
        types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position_of(text, "kappa *"),
        )
    )
    location = result[0] if isinstance(result, list) else result
    assert location.uri == uri
    assert location.range.start == position_of(text, "kappa = 0.1")


async def test_completion_offers_stdlib_names_with_signatures(client: LanguageClient):
    uri, text = await open_document(client, ROOT / "examples" / "lotka_volterra.sci")
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position_of(text, "log(prey)", delta=2),
        )
    )
    items = result.items if isinstance(result, types.CompletionList) else result
    by_label = {item.label: item for item in items}
    for name in ["exp", "log", "sin", "sqrt", "mean", "grad", "laplacian", "pi"]:
        assert name in by_label, name
    assert by_label["atan2"].detail == "atan2(y, x)"
    assert by_label["atan2"].kind == types.CompletionItemKind.Function
    # Names in scope come with their kind and type.
    assert by_label["prey"].detail == "state · f64"
    assert by_label["alpha"].detail == "parameter · f64"


async def test_formatting_gives_the_canonical_text(client: LanguageClient):
    path = ROOT / "examples" / "lotka_volterra.sci"
    canonical = path.read_text(encoding="utf-8")
    messy = canonical.replace("der(prey) = ", "der( prey )=").replace("    state pred", "state   pred")
    assert messy != canonical
    uri, _ = await open_document(client, path, messy)
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            options=types.FormattingOptions(tab_size=4, insert_spaces=True),
        )
    )
    [edit] = edits
    assert edit.range.start == types.Position(line=0, character=0)
    assert edit.new_text == canonical


async def test_unicode_positions_and_incremental_edits(client: LanguageClient):
    # `α` and `∂` are one UTF-16 unit each; `𝑥` (U+1D465) is two.
    text = (
        "// ∂ of 𝑥 with respect to time\n"
        "model U {\n"
        "    param α = 1.0\n"
        "    state 𝑥 = 1.0\n"
        "    der(𝑥) = -α * 𝑥\n"
        "}\n"
    )
    uri, _ = await open_document(client, pathlib.Path("/tmp/unicode.sci"), text)
    assert list(client.diagnostics[uri]) == []
    use = position_of(text, "α * 𝑥")
    assert use.character == 15
    definition = await client.text_document_definition_async(
        types.DefinitionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=use)
    )
    location = definition[0] if isinstance(definition, list) else definition
    assert location.range.start == types.Position(line=2, character=10)
    # Rename `α` to `αβ` at its use by an incremental edit after the surrogate pair:
    # the checker then reports the undefined name exactly there.
    end = types.Position(line=use.line, character=use.character + 1)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(range=types.Range(start=use, end=end), text="αβ")
            ],
        )
    )
    published = await wait_for_diagnostics(client, uri)
    [problem] = published.diagnostics
    assert problem.range == types.Range(start=use, end=types.Position(line=use.line, character=17))
    assert "`αβ`" in problem.message


async def test_the_server_survives_bad_requests(client: LanguageClient):
    uri, text = await open_document(client, ROOT / "examples" / "pendulum.sci")
    # A request about a document that is not open has an empty answer.
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri="file:///nowhere.sci"),
            position=types.Position(line=0, character=0),
        )
    )
    assert hover is None
    # Positions past the end of a line or of the file are clamped, not fatal.
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=999, character=999),
        )
    )
    assert hover is None
    # An unknown method is an error response; the server then still answers.
    with pytest.raises(Exception):
        await client.protocol.send_request_async("sci/noSuchMethod", {})
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert symbols[0].name == "Pendulum"
    assert [c.name for c in symbols[0].children][:3] == ["g", "L", "c"]
