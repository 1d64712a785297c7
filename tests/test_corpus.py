"""The corpus in ``tests/corpus/`` is complete, unaltered and credited: every capture is listed in
MANIFEST.json with where it came from, and its bytes match the recorded sha256."""

from __future__ import annotations

import hashlib

from helpers import CORPUS_DIR, corpus_files, corpus_manifest

PROVENANCE = ("source_repo", "source_path", "source_commit", "license", "sha256")


def test_every_corpus_capture_is_in_the_manifest_and_every_entry_is_here():
    assert sorted(p.name for p in corpus_files()) == sorted(corpus_manifest())


def test_corpus_captures_match_their_recorded_sha256():
    changed = [p.name for p in corpus_files()
               if hashlib.sha256(p.read_bytes()).hexdigest() != corpus_manifest()[p.name]["sha256"]]
    assert changed == []


def test_every_corpus_capture_names_its_source_commit_and_license():
    missing = {name: [key for key in PROVENANCE if not entry.get(key)] for name, entry in corpus_manifest().items()}
    assert {name: keys for name, keys in missing.items() if keys} == {}
    assert all(len(entry["source_commit"]) == 40 for entry in corpus_manifest().values())


def test_corpus_readme_credits_every_source_repository():
    readme = (CORPUS_DIR / "README.md").read_text()
    assert {entry["source_repo"] for entry in corpus_manifest().values() if entry["source_repo"] not in readme} == set()
