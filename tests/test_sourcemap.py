"""Source Map v3 decoding and lookup, against maps made by real tools (tests/fixtures/ts_app/prebuilt, see its README).

Node itself is the oracle where it is installed: `module.SourceMap.findEntry` must agree with ours on every
position of every prebuilt file.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from agent_cli import sourcemap
from agent_cli.detect.events import Frame
from agent_cli.sourcemap import SourceMap, SourceMapError, decode_vlq, locate_map, resolve_frames
from tests.conftest import git

PREBUILT = Path(__file__).parent / "fixtures" / "ts_app" / "prebuilt"
SRC = Path(__file__).parent / "fixtures" / "ts_app" / "src"
NODE = shutil.which("node")


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    sourcemap.clear_caches()


@pytest.fixture
def app(repo: Path) -> Path:
    """The repository fixture with the TypeScript sources committed and dist/ ignored (not yet built)."""
    (repo / ".gitignore").write_text("dist/\n")
    shutil.copytree(SRC, repo / "src")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "ts app")
    return repo


def install(repo: Path, variant: str) -> Path:
    """Copy one prebuilt variant into the repository's (gitignored) dist/."""
    dist = repo / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    if variant == "tsc-maproot":
        shutil.copytree(PREBUILT / variant / "js", dist)
        shutil.copytree(PREBUILT / variant / "src" / "maps", repo / "src" / "maps", dirs_exist_ok=True)
    else:
        shutil.copytree(PREBUILT / variant, dist)
    return dist


def js_frame(function: str, file: str, line: int, column: int) -> Frame:
    return Frame(file, line, function, True, "js", column)


def test_vlq_segments_decode_to_signed_integers() -> None:
    assert decode_vlq("AAAA") == [0, 0, 0, 0]
    assert decode_vlq("AAgBC") == [0, 0, 16, 1]  # "gB" is one value spread over two digits
    assert decode_vlq("D") == [-1]
    assert decode_vlq("4BAEC") == [28, 0, 2, 1]
    assert decode_vlq("hB") == [-16]  # sign in the lowest bit of the first digit
    with pytest.raises(SourceMapError):
        decode_vlq("g")  # continuation bit with nothing after it
    with pytest.raises(SourceMapError):
        decode_vlq("A!A")


def test_tsc_map_gives_the_original_ts_position() -> None:
    sm = SourceMap.parse((PREBUILT / "tsc" / "teams.js.map").read_text())
    # `team.name` in dist/teams.js line 11 column 25 (1-based, as Node printed it) is src/teams.ts 14:23.
    entry = sm.find(10, 24)
    assert entry is not None and (entry.source, entry.original_line + 1, entry.original_column + 1) == ("../src/teams.ts", 14, 23)
    original = (SRC / "teams.ts").read_text().split("\n")[entry.original_line]
    assert original[entry.original_column:].startswith("name.toUpperCase()")
    assert sm.find(0, 0) is None  # "use strict" comes from no source line


def test_esbuild_bundle_map_has_two_sources_and_names() -> None:
    sm = SourceMap.parse((PREBUILT / "esbuild-min" / "index.js.map").read_text())
    sources = {m.source for m in sm.mappings if m.source}
    assert sources == {"../src/index.ts", "../src/teams.ts"}
    entry = sm.find(0, 564)  # where Node's stack says the minified bundle threw: dist/index.js:1:565
    assert entry is not None and (entry.source, entry.original_line + 1, entry.original_column + 1) == ("../src/teams.ts", 13, 27)
    assert "getTeam" in {m.name for m in sm.mappings}


@pytest.mark.skipif(NODE is None, reason="node is not installed: no oracle to compare with")
@pytest.mark.parametrize("map_file", ["tsc/teams.js.map", "tsc/index.js.map", "tsc-maproot/src/maps/teams.js.map", "esbuild-min/index.js.map"])
def test_lookups_agree_with_node_everywhere(map_file: str) -> None:
    payload = json.loads((PREBUILT / map_file).read_text())
    generated = (PREBUILT / map_file.replace("src/maps/", "js/")).with_suffix("")
    lines = generated.read_text().split("\n")
    positions = [(n, c) for n, text in enumerate(lines) for c in range(len(text) + 2)]
    script = (
        "const {SourceMap} = require('node:module'); const fs = require('fs');"
        "const [p, q] = JSON.parse(fs.readFileSync(0, 'utf8')); const sm = new SourceMap(p);"
        "console.log(JSON.stringify(q.map(([l, c]) => { const e = sm.findEntry(l, c);"
        " return e.originalSource === undefined ? null : [e.originalSource, e.originalLine, e.originalColumn, e.name ?? null]; })));"
    )
    out = subprocess.run([NODE, "-e", script], input=json.dumps([payload, positions]), capture_output=True, text=True, timeout=60, check=True)
    theirs = json.loads(out.stdout)
    sm = SourceMap.parse(payload)
    last = sm.mappings[-1]
    ours = [None if (e := sm.find(n, c)) is None else [e.source, e.original_line, e.original_column, e.name] for n, c in positions]
    for i, (n, c) in enumerate(positions):
        if theirs[i] and sm.find(n, c) is last and last.name is None:
            # Node reads a name for a 4-field segment that ends `mappings` (its VLQ reader runs past the end);
            # the spec gives it none.
            theirs[i][3] = None
    assert sum(1 for t in theirs if t) > 10
    assert ours == theirs


def test_index_map_sections_are_offset() -> None:
    teams = json.loads((PREBUILT / "tsc" / "teams.js.map").read_text())
    index = json.loads((PREBUILT / "tsc" / "index.js.map").read_text())
    sm = SourceMap.parse({"version": 3, "sections": [
        {"offset": {"line": 0, "column": 0}, "map": teams},
        {"offset": {"line": 100, "column": 0}, "map": index},
    ]})
    first = sm.find(10, 24)
    assert first is not None and first.source == "../src/teams.ts" and first.original_line + 1 == 14
    plain = SourceMap.parse(index).find(5, 37)
    shifted = sm.find(105, 37)
    assert plain is not None and shifted is not None
    assert (shifted.source, shifted.original_line, shifted.original_column) == (plain.source, plain.original_line, plain.original_column)


def test_sibling_map_found_through_its_comment(app: Path) -> None:
    dist = install(app, "tsc")
    located = locate_map(dist / "teams.js", app)
    assert located is not None and located.how == "comment" and located.base == "."


def test_sibling_map_without_a_comment(app: Path) -> None:
    dist = install(app, "tsc")
    js = dist / "teams.js"
    js.write_text(js.read_text().replace("//# sourceMappingURL=teams.js.map", ""))
    located = locate_map(js, app)
    assert located is not None and located.how == "sibling"


def test_inline_base64_map(app: Path) -> None:
    dist = install(app, "tsc-inline")
    js = dist / "teams.js"
    assert "sourceMappingURL=data:application/json;base64," in js.read_text()
    assert not (dist / "teams.js.map").exists()
    located = locate_map(js, app)
    assert located is not None and located.how == "inline"
    (frame,) = resolve_frames([js_frame("getTeam", "/srv/app/dist/teams.js", 11, 25)], app)
    assert (frame.file, frame.line, frame.column, frame.function) == ("/srv/app/src/teams.ts", 14, 23, "getTeam")
    assert frame.in_app and frame.mapped_from == "dist/teams.js:11:25"


def test_source_mapping_url_to_another_directory(app: Path) -> None:
    """tsc --mapRoot: the comment names ../src/maps/teams.js.map, whose sources are ../teams.ts from there."""
    dist = install(app, "tsc-maproot")
    assert "//# sourceMappingURL=../src/maps/teams.js.map" in (dist / "teams.js").read_text()
    assert not (dist / "teams.js.map").exists()
    located = locate_map(dist / "teams.js", app)
    assert located is not None and located.how == "comment" and located.base == "../src/maps"
    (frame,) = resolve_frames([js_frame("getTeam", "/srv/app/dist/teams.js", 11, 25)], app)
    assert (frame.file, frame.line, frame.column) == ("/srv/app/src/teams.ts", 14, 23)


def test_minified_bundle_gets_node_names_back(app: Path) -> None:
    """What Node printed with --enable-source-maps for the minified esbuild bundle: the names come from the map."""
    install(app, "esbuild-min")
    frames = resolve_frames([
        js_frame("o", "/srv/app/dist/index.js", 1, 565),
        js_frame("m", "/srv/app/dist/index.js", 1, 623),
        js_frame("Object.<anonymous>", "/srv/app/dist/index.js", 1, 668),
        Frame("node:internal/modules/cjs/loader", 1521, "Module._compile", False, "js", 14),
    ], app)
    assert [(f.function, f.file, f.line, f.column) for f in frames[:3]] == [
        ("getTeam", "/srv/app/src/teams.ts", 13, 27),
        ("handler", "/srv/app/src/index.ts", 8, 16),
        ("Object.<anonymous>", "/srv/app/src/index.ts", 15, 5),
    ]
    assert frames[3].file.startswith("node:internal") and not frames[3].in_app


def test_map_outside_the_repository_is_not_read(app: Path, tmp_path: Path) -> None:
    dist = install(app, "tsc")
    outside = tmp_path / "outside.map"
    shutil.copy(dist / "teams.js.map", outside)
    (dist / "teams.js.map").unlink()
    js = dist / "teams.js"
    js.write_text(js.read_text().replace("sourceMappingURL=teams.js.map", "sourceMappingURL=../../outside.map"))
    assert locate_map(js, app) is None


def test_broken_map_leaves_the_frame_as_printed_and_out_of_the_app(app: Path) -> None:
    dist = install(app, "tsc")
    (dist / "teams.js.map").write_text('{"version": 3, "sources": ["../src/teams.ts"], "mappings": "AA!A"}')
    bad = base64.b64encode(b"not json").decode()
    (dist / "index.js").write_text((dist / "index.js").read_text().replace("sourceMappingURL=index.js.map", f"sourceMappingURL=data:application/json;base64,{bad}"))
    frames = resolve_frames([js_frame("getTeam", "/srv/app/dist/teams.js", 11, 25), js_frame("handler", "/srv/app/dist/index.js", 6, 38)], app)
    assert [f.file for f in frames] == ["/srv/app/dist/teams.js", "/srv/app/dist/index.js"]
    assert not any(f.in_app for f in frames)
    assert frames[0].excluded == "gitignored build output (dist/teams.js, no source map for line 11)"


def test_committed_build_output_stays_in_the_app(app: Path) -> None:
    """Only ignored files are build output: a file committed under dist/ (force-added) is code the team keeps."""
    install(app, "tsc")
    (app / "dist" / "teams.js.map").unlink()
    git(app, "add", "-f", "dist/teams.js")
    git(app, "commit", "-q", "-m", "vendor the built teams.js")
    (frame,) = resolve_frames([js_frame("getTeam", "/srv/app/dist/teams.js", 11, 25)], app)
    assert frame.in_app and frame.excluded is None and frame.file == "/srv/app/dist/teams.js"


def test_python_frames_are_left_alone(app: Path) -> None:
    frames = [Frame("/app/dist/x.py", 3, "f", True, "python")]
    (app / "dist").mkdir()
    (app / "dist" / "x.py").write_text("x = 1\n")
    assert resolve_frames(frames, app) is frames


def test_a_rebuilt_map_is_read_again(app: Path) -> None:
    """Maps are remembered for the run, by their files' size and mtime: a rebuild (or a removed map) is seen."""
    dist = install(app, "tsc")
    frame = js_frame("getTeam", "/srv/app/dist/teams.js", 11, 25)
    assert resolve_frames([frame], app)[0].mapped_from
    (dist / "teams.js.map").unlink()
    assert resolve_frames([frame], app)[0].mapped_from is None
