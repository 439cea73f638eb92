"""The base every contract message derives from: frozen, keyword-only, forward compatible."""

from __future__ import annotations

import msgspec


class Message(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=False):
    """A message on a topic.

    Evolution rule: add fields only with defaults; never rename or retype one. A breaking change
    is a new `...v2` topic. Decoders ignore unknown fields so old consumers read new producers.
    """
