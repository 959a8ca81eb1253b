"""Tables the pages show, as pandas frames: the leaderboard's display copy, the
trash, storage per owner, the audit log."""

from __future__ import annotations

import time

import pandas as pd


def blank_text_cells(df: pd.DataFrame, numeric: dict | list) -> pd.DataFrame:
    """A display copy: every cell that is not a number column reads "" where it held
    None/NaN, booleans read yes/no (never "None", "nan" or "True")."""
    out = df.copy()
    for col in out.columns:
        if col in numeric:
            out[col] = pd.to_numeric(out[col], errors="coerce")
            continue
        out[col] = [("yes" if v else "no") if isinstance(v, bool) else ("" if v is None or v != v else v)
                    for v in out[col]]
    return out


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else ""


def trash_frame(entries) -> pd.DataFrame:
    rows = [{"entry": e.entry, "run": e.run_id, "model": (e.record or {}).get("model", ""), "owner": e.owner or "",
             "deleted by": e.by or "", "deleted": _when(e.trashed_at), "problem": e.problem or ""} for e in entries]
    return pd.DataFrame(rows, columns=["entry", "run", "model", "owner", "deleted by", "deleted", "problem"])


def storage_frame(usage: dict, limit_mb: int | None) -> pd.DataFrame:
    rows = [{"owner": o or "(nobody)", "MB": round(b / 2 ** 20, 1),
             "of limit": f"{b / 2 ** 20 / limit_mb:.0%}" if limit_mb else ""}
            for o, b in sorted(usage.items(), key=lambda kv: -kv[1])]
    return pd.DataFrame(rows, columns=["owner", "MB", "of limit"])


def audit_frame(entries: list[dict]) -> pd.DataFrame:
    rows = []
    for e in entries:
        extra = {k: v for k, v in e.items() if k not in ("time", "who", "what", "run_id")}
        rows.append({"time": _when(e.get("time")), "who": e.get("who") or "", "what": e.get("what") or "",
                     "run": e.get("run_id") or "", "details": ", ".join(f"{k}={v}" for k, v in extra.items())})
    return pd.DataFrame(rows, columns=["time", "who", "what", "run", "details"])
