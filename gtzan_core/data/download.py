"""Download and unpack GTZAN (for users with internet access).

Streams the archive to ``<out>/<name>.part`` with progress, resumes a partial file
with an HTTP Range request when the server supports it, checks the size (and a
checksum when one is given), then unpacks it safely: no member may land outside
the target folder (absolute paths, ``..``, links are refused).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from ..errors import DownloadError
from ..progress import report

#: The public archive of the original GTZAN release (genres/<genre>/*.au), ~1.2 GB.
DEFAULT_URL = "https://huggingface.co/datasets/marsyas/gtzan/resolve/main/data/genres.tar.gz"
CHUNK = 1 << 20


def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _verify(path: Path, size: int | None, sha256: str | None, md5: str | None) -> str | None:
    """None when the file is good, else what is wrong."""
    actual = path.stat().st_size
    if size is not None and actual != size:
        return f"size {actual} bytes, expected {size}"
    for algo, want in (("sha256", sha256), ("md5", md5)):
        if want and _digest(path, algo) != want.lower():
            return f"{algo} checksum mismatch"
    return None


def _fetch(url: str, part: Path, progress, timeout: float) -> int | None:
    """Download ``url`` into ``part`` (resuming if possible); return the total size if known."""
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "gtzan-studio"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to fetch: the part file is complete
            return None
        raise DownloadError(f"could not download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"could not download {url}: {getattr(exc, 'reason', exc)}") from None
    with resp:
        length = resp.headers.get("Content-Length")
        if resp.status == 206:
            total = have + int(length) if length else None
            mode = "ab"
        else:  # the server ignored the Range request: start again
            have, mode = 0, "wb"
            total = int(length) if length else None
        done = have
        with open(part, mode) as f:
            try:
                while block := resp.read(CHUNK):
                    f.write(block)
                    done += len(block)
                    report(progress, done, total or 0, "downloading")
            except OSError:
                pass  # broken off: the caller resumes from what is on disk
    return total


def safe_extract(archive: Path, dest: Path, progress=None) -> None:
    """Unpack a tar (any compression) or zip archive into ``dest``, refusing members
    that would escape it."""
    dest = dest.resolve()
    dest.mkdir(parents=True, exist_ok=True)

    def check(name: str) -> None:
        p = PurePosixPath(name.replace("\\", "/"))
        target = (dest / p).resolve()
        if p.is_absolute() or ".." in p.parts or not target.is_relative_to(dest):
            raise DownloadError(f"{archive.name}: refusing unsafe member path {name!r}")

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
            for name in names:
                check(name)
            for k, name in enumerate(names):
                zf.extract(name, dest)
                report(progress, k + 1, len(names), "extracting")
        return
    try:
        tf = tarfile.open(archive, "r:*")  # noqa: SIM115 - opened alone so only its own error is caught; closed by `with tf` below
    except tarfile.TarError as exc:
        raise DownloadError(f"{archive.name}: not a tar or zip archive ({exc})") from None
    with tf:
        members = tf.getmembers()
        for m in members:
            check(m.name)
            if m.issym() or m.islnk():
                raise DownloadError(f"{archive.name}: refusing link member {m.name!r}")
        for k, m in enumerate(members):
            try:
                tf.extract(m, dest, filter="data")
            except tarfile.FilterError as exc:
                raise DownloadError(f"{archive.name}: refusing member {m.name!r} ({exc})") from None
            report(progress, k + 1, len(members), "extracting")


def download_gtzan(
    url: str = DEFAULT_URL,
    out_dir: str | Path = "gtzan",
    sha256: str | None = None,
    md5: str | None = None,
    progress=None,
    timeout: float = 60.0,
    retries: int = 3,
) -> Path:
    """Fetch the archive at ``url`` into ``out_dir`` and unpack it there.

    A complete archive already on disk (and matching the checksum) is reused; a
    partial one is resumed (also after a connection that breaks off, up to
    ``retries`` times); a corrupt one is fetched again once.
    """
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    name = Path(urlparse(url).path).name or "gtzan-archive"
    archive = out / name
    part = out / (name + ".part")

    if archive.exists() and _verify(archive, None, sha256, md5) is not None:
        archive.unlink()  # corrupt leftover: fetch again
    if not archive.exists():
        fresh_starts = 0
        for _attempt in range(retries + 1):
            total = _fetch(url, part, progress, timeout)
            if total is not None and part.stat().st_size < total:
                continue  # broke off: resume with a Range request
            problem = _verify(part, total, sha256, md5)
            if problem is None:
                os.replace(part, archive)
                break
            part.unlink(missing_ok=True)  # corrupt: start again from zero, once
            fresh_starts += 1
            if fresh_starts == 2:
                raise DownloadError(f"downloaded file from {url} is corrupt: {problem}")
        else:
            have = part.stat().st_size if part.exists() else 0
            raise DownloadError(f"download of {url} broke off {retries + 1} times (have {have} bytes); "
                                "run the command again to resume")
    safe_extract(archive, out, progress)
    return out
