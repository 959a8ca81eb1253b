"""The downloader against a local HTTP server (127.0.0.1) serving archives the tests build."""

import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from functools import partial

import pytest

from gtzan_core.data import discover_dataset
from gtzan_core.data.download import download_gtzan, safe_extract
from gtzan_core.errors import DownloadError
from tests.helpers import make_gtzan


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files with HTTP Range support; ``cut_after`` drops the first response early."""

    cut_after: int | None = None
    requests: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.translate_path(self.path)
        try:
            data = open(path, "rb").read()
        except OSError:
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        type(self).requests.append(rng)
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = type(self).cut_after
        if cut is not None:
            type(self).cut_after = None
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "www"
    served.mkdir()
    handler = type("H", (RangeHandler,), {"cut_after": None, "requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()


def build_tarball(tmp_path, served):
    src = make_gtzan(tmp_path / "src", "original", per_genre=1, seconds=3.2, genres=("blues", "rock"))
    archive = served / "genres.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(src / "genres", arcname="genres")
    return archive


def test_download_extract_and_discover(tmp_path, server):
    served, base, _ = server
    archive = build_tarball(tmp_path, served)
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    seen = []
    out = download_gtzan(f"{base}/genres.tar.gz", tmp_path / "gtzan", sha256=sha,
                         progress=lambda d, t, m: seen.append(m))
    ds = discover_dataset(out)
    assert ds.layout == "original" and len(ds.tracks) == 2
    assert "downloading" in seen and "extracting" in seen
    assert not (out / "genres.tar.gz.part").exists()


def test_broken_download_resumes_with_range(tmp_path, server):
    served, base, handler = server
    archive = build_tarball(tmp_path, served)
    handler.cut_after = 5000  # the first response breaks off after 5000 bytes
    download_gtzan(f"{base}/genres.tar.gz", tmp_path / "gtzan")
    assert (tmp_path / "gtzan" / "genres.tar.gz").read_bytes() == archive.read_bytes()
    assert handler.requests == [None, "bytes=5000-"]


def test_partial_file_from_an_earlier_run_is_resumed(tmp_path, server):
    served, base, handler = server
    archive = build_tarball(tmp_path, served)
    (tmp_path / "gtzan").mkdir()
    (tmp_path / "gtzan" / "genres.tar.gz.part").write_bytes(archive.read_bytes()[:1234])
    download_gtzan(f"{base}/genres.tar.gz", tmp_path / "gtzan")
    assert handler.requests == ["bytes=1234-"]
    assert discover_dataset(tmp_path / "gtzan").layout == "original"


def test_checksum_mismatch_is_refused(tmp_path, server):
    served, base, _ = server
    build_tarball(tmp_path, served)
    with pytest.raises(DownloadError, match="sha256 checksum mismatch"):
        download_gtzan(f"{base}/genres.tar.gz", tmp_path / "gtzan", sha256="0" * 64)
    assert not list((tmp_path / "gtzan").glob("genres.tar.gz*"))


def test_missing_url_is_a_clear_error(tmp_path, server):
    _, base, _ = server
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_gtzan(f"{base}/nope.tar.gz", tmp_path / "gtzan")


def test_tar_with_path_traversal_is_refused(tmp_path):
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tf:
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(DownloadError, match="unsafe member path"):
        safe_extract(evil, tmp_path / "dest")
    assert not (tmp_path / "escaped.txt").exists()


def test_tar_with_symlink_is_refused(tmp_path):
    evil = tmp_path / "link.tar"
    with tarfile.open(evil, "w") as tf:
        info = tarfile.TarInfo("genres/link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(DownloadError, match="link member"):
        safe_extract(evil, tmp_path / "dest")


def test_zip_with_absolute_path_is_refused(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("/tmp/abs.txt", "bad")
    with pytest.raises(DownloadError, match="unsafe member path"):
        safe_extract(evil, tmp_path / "dest")
