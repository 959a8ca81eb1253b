"""A shared (classroom) instance: its rules, the names visitors claim, the limits on
guessing passcodes and passwords, and per-owner storage.

- :mod:`.rules`: settings from the environment, who may stop or delete what, job
  and epoch limits, the fair queue order;
- :mod:`.names`: display names claimed with a passcode (salted scrypt hashes in the
  studio home);
- :mod:`.attempts`: wrong passcodes and admin passwords limited per guessing session
  and client address, with a growing wait and a server-wide ceiling;
- :mod:`.quota`: per-owner storage counted from the run store;
- :mod:`.tokens`: signed, expiring sign-in tokens the server can revoke (a sign-in
  that survives a reload);
- :mod:`.dataset`: the class's dataset, chosen by the admin.

Nothing here imports Streamlit: the pages ask these functions and show the messages
they raise.
"""

from .rules import (
                    MODES,
                    PermissionDenied,
                    QuotaExceeded,
                    Settings,
                    can_modify,
                    check_admin_password,
                    check_import,
                    check_modify,
                    check_submit,
                    fair_order,
                    load_settings,
                    order_index,
)

__all__ = ["MODES", "PermissionDenied", "QuotaExceeded", "Settings", "can_modify", "check_admin_password",
           "check_import", "check_modify", "check_submit", "fair_order", "load_settings", "order_index"]
