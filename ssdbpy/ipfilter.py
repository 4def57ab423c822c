"""The ip allow/deny filter applied at accept time (commands.md §9.2).

Unlike SSDB 1.9.8, whose lookup only tests the first entry sorted after the
address (so ``192.168`` stops matching once ``192.168.3`` is added), every
entry is tested: a client matches a list if any prefix or full address in it
matches.
"""

from __future__ import annotations


def _is_full_ip(entry: str) -> bool:
    return entry.count(".") == 3 or ":" in entry


class IpFilter:
    def __init__(self) -> None:
        self.allow_all = True
        self.deny_all = False
        self.allow: set[str] = set()
        self.deny: set[str] = set()

    def add_allow(self, entry: str) -> None:
        if entry in ("all", "*"):
            self.allow_all = True
        else:
            self.allow_all = False
            self.allow.add(entry)

    def del_allow(self, entry: str) -> None:
        if entry in ("all", "*"):
            self.allow_all = False
        else:
            self.allow.discard(entry)

    def add_deny(self, entry: str) -> None:
        if entry in ("all", "*"):
            self.deny_all = True
        else:
            self.deny.add(entry)

    def del_deny(self, entry: str) -> None:
        if entry in ("all", "*"):
            self.deny_all = False
        else:
            self.deny.discard(entry)

    @staticmethod
    def _hits(entries: set[str], ip: str) -> bool:
        for e in entries:
            if ip == e if _is_full_ip(e) else ip.startswith(e):
                return True
        return False

    def check(self, ip: str) -> bool:
        """True if a client connecting from ``ip`` is accepted."""
        if self.deny and self._hits(self.deny, ip):
            return False
        if self.allow and self._hits(self.allow, ip):
            return True
        if self.deny_all:
            return False
        return self.allow_all

    def list_allow(self) -> list[bytes]:
        head = [b"all"] if self.allow_all else []
        return head + [e.encode() for e in sorted(self.allow)]

    def list_deny(self) -> list[bytes]:
        # SSDB 1.9.8 shows "all" here when allow_all is OFF (sic); kept for compatibility
        head = [b"all"] if not self.allow_all else []
        return head + [e.encode() for e in sorted(self.deny)]
