"""Access control (server/user.c): who may LOGIN, SET, FSD, be primary, or run which instant command.

Credentials are only checked when a privileged command runs; USERNAME and PASSWORD just store strings.
User names and passwords compare exactly, action and command names case-insensitively.
"""

from __future__ import annotations

from pnut.conf.upsdconf import User


class Users:
    def __init__(self, users: dict[str, User] | None = None) -> None:
        self.users: dict[str, User] = users or {}

    def _auth(self, username: str | None, password: str | None) -> User | None:
        if username is None or password is None:
            return None
        user = self.users.get(username)
        if user is None or user.password is None or user.password != password:
            return None
        return user

    def check_action(self, username: str | None, password: str | None, action: str) -> bool:
        user = self._auth(username, password)
        return user is not None and action.lower() in user.actions

    def check_instcmd(self, username: str | None, password: str | None, cmd: str) -> bool:
        user = self._auth(username, password)
        return user is not None and ("all" in user.instcmds or cmd.lower() in user.instcmds)
