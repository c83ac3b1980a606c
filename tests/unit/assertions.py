"""Assertions shared by the option and size tests."""

from __future__ import annotations

import pytest

from bot.errors import BotError, ErrorKind


def raises_invalid(fn, *args, **kwargs) -> str:
    with pytest.raises(BotError) as info:
        fn(*args, **kwargs)
    assert info.value.kind is ErrorKind.INVALID_INPUT
    return info.value.message


def assert_words(message: str, words: list[str]) -> None:
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
