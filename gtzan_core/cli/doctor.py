"""``doctor``: the machine's checks (:mod:`gtzan_core.doctor`), one line each."""

from __future__ import annotations

import json
from dataclasses import asdict


def cmd_doctor(args) -> int:
    from .. import doctor

    if args.fix_numba:
        print(doctor.fix_numba())
    found = doctor.checks()
    if args.json:
        print(json.dumps({"ok": doctor.all_ok(found), "checks": [asdict(c) for c in found]}, indent=2))
    else:
        for check in found:
            print(check.line())
        failed = [c.name for c in found if c.required and not c.ok]
        print("all the README's promises hold here" if not failed
              else f"not as the README promises: {', '.join(failed)}")
    return 0 if doctor.all_ok(found) else 1
