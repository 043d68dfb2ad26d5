"""Debian packages: download errors, reading files from a .deb, staged (all-or-nothing) folders."""

from __future__ import annotations

import shutil

import pytest

from data_fixtures import build_deb
from emcom.data.debian import DebianPackageError, deb_version, fetch_deb, iter_deb_files, read_deb_files
from emcom.data.staging import staged_folder

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get")
def test_missing_package_names_it_and_says_apt_get_update(tmp_path):
    with pytest.raises(DebianPackageError, match=r"'emcom-no-such-package'.*apt-get update"):
        fetch_deb("emcom-no-such-package", tmp_path)
    assert list(tmp_path.iterdir()) == [], "a failed download leaves nothing in the cache"


def test_cached_archive_is_used_without_apt(tmp_path, monkeypatch):
    (tmp_path / "some-package.deb").write_bytes(b"placed by hand")
    monkeypatch.setenv("PATH", "")  # no apt-get reachable: the cache alone must answer
    assert fetch_deb("some-package", tmp_path) == tmp_path / "some-package.deb"


@needs_dpkg
def test_read_files_from_a_deb(tmp_path):
    deb = build_deb(tmp_path, "emcom-test", {"usr/share/a/x.txt": b"x", "usr/share/a/y.bin": b"\x00\x01", "usr/b": b"b"})
    assert deb_version(deb) == "0.0-test"
    assert dict(iter_deb_files(deb, lambda n: n.startswith("usr/share/a/"))) == {
        "usr/share/a/x.txt": b"x",
        "usr/share/a/y.bin": b"\x00\x01",
    }
    with pytest.raises(DebianPackageError, match=r"lacks 1 expected file\(s\): \['usr/share/a/z'\]"):
        read_deb_files(deb, ["usr/share/a/x.txt", "usr/share/a/z"])


@needs_dpkg
def test_unreadable_deb_is_named(tmp_path):
    bad = tmp_path / "broken.deb"
    bad.write_bytes(b"not an archive")
    with pytest.raises(DebianPackageError, match="broken.deb"):
        list(iter_deb_files(bad, lambda n: True))
    with pytest.raises(DebianPackageError, match="not found"):
        list(iter_deb_files(tmp_path / "absent.deb", lambda n: True))


def test_staged_folder_is_all_or_nothing(tmp_path):
    final = tmp_path / "dataset"
    with staged_folder(final) as stage:
        (stage / "a.txt").write_text("first")
    assert (final / "a.txt").read_text() == "first"
    with pytest.raises(RuntimeError, match="boom"):
        with staged_folder(final) as stage:
            (stage / "b.txt").write_text("half")
            raise RuntimeError("boom")
    assert sorted(p.name for p in final.iterdir()) == ["a.txt"], "the old build survives a failed one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"], "no staging folder is left"
    with staged_folder(final) as stage:
        (stage / "c.txt").write_text("second")
    assert sorted(p.name for p in final.iterdir()) == ["c.txt"]
