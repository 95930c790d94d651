"""Who acts: a signed-in user, or the system itself (the nightly batch, a feed loaded from the command line).

Services take `actor: Actor` and ask these helpers instead of testing `isinstance(actor, str)`: the audit
trail records the label, foreign keys record the user (none for the system).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class SystemActor:
    """A process acting without a user. Its label is what the audit trail and the register show."""

    label: str

    def __str__(self) -> str:
        return self.label


BATCH = SystemActor("nightly-batch")
SYSTEM = SystemActor("system")

Actor = Union["User", SystemActor]

# Issue 19: the labels of the system's own actors are codes stored with each row; a reader sees them in words.
SYSTEM_WORDS = {
    BATCH.label: _("nightly batch"),
    SYSTEM.label: _("the system"),
    "load_demo": _("demo data loader"),
    "load_feed": _("feed loaded on the server"),
    "export": _("export on the server"),
    "directory": _("the directory"),  # permissions.signin.directory.DIRECTORY_ACTOR
}


def actor_user(actor: Actor | str | None) -> User | None:
    """The user behind `actor`, or None for the system (and for an operator named by a string)."""
    if actor is None or isinstance(actor, (SystemActor, str)):
        return None
    return actor if getattr(actor, "pk", None) is not None else None


def is_system(actor: Actor | str | None) -> bool:
    return actor_user(actor) is None


def actor_label(actor: Actor | str | None) -> str:
    if actor is None:
        return SYSTEM.label
    if isinstance(actor, SystemActor):
        return actor.label
    if isinstance(actor, str):
        return actor
    return actor.get_username()


def actor_words(label: str) -> str:
    """A stored actor label as a reader reads it: a system actor in words, a user by the name recorded."""
    words = SYSTEM_WORDS.get(label)
    return str(words) if words is not None else label
