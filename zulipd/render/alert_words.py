"""Which users' alert words a message contains.

Zulip's rule (its Markdown preprocessor for alert words): the message text and
the words are lower-cased with ``str.lower()``, and a word counts where it
occurs in the lowered text

- at the start of the text, or right after a space, a newline or one of
  ``( " . , ' ; [ * ` >``, and
- at the end of the text, or right before a space, a newline or one of
  ``) " ? : . , ' ; ] ! * ```.

Anything else next to it, a letter, a digit, a slash or a hyphen say, makes it
part of a larger word: ``one`` is found in ``"One, two"`` and ``(one)``, but not
in ``clone``, ``one-off`` or ``http://t.co/one/``. A word may hold spaces and
punctuation of its own (``multi-word word``, ``5'11"``); only what surrounds
it is checked. Zulip expands tabs and turns ``\\r\\n`` into ``\\n`` before it
looks, so a tab and a carriage return count as spaces here.

Two things differ from the letter of Zulip's code, where it does not do what
it plainly means to: Zulip's list of characters allowed after a word has
``'",'`` (one two-character string) where ``'"'`` and ``','`` are meant, so a
double quote after a word does not end it there; and a word that starts at the
second character of a message is accepted whatever the first character is.
Here a double quote ends a word, and the character before a word is always
checked, as Zulip's web client checks when it highlights alert words.

Zulip looks for alert words in the Markdown source after fenced code blocks
have been taken out, so the renderer should pass the text without them.

Matching is one pass over the text. The possible start positions are found by
one regular expression (no user-supplied pattern in it, only escaped single
characters). At each, the words that start with the text's next two
characters are looked up, one dictionary look-up per distinct length among
them, so every word that starts there is found, overlapping ones included.
That is at most the longest word's length in look-ups per position: the time
grows with the text, not with the number of words or users.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

# The characters that may come right before and right after an alert word (besides the text's ends).
BEFORE_WORD = frozenset(" \n\t\r(\".,';[*`>")
AFTER_WORD = frozenset(" \n\t\r)\"?:.,';]!*`")

_BEFORE_CLASS = "".join(re.escape(character) for character in sorted(BEFORE_WORD))


class AlertWordMatcher:
    """All of an organization's alert words, ready to be looked for in any number of messages.

    Build it once per set of words (``build``) and keep it while the words stay
    the same; it is immutable, so it can be shared freely.
    """

    __slots__ = ("_lengths", "_starts", "_users_by_word", "user_ids")

    def __init__(self, users_by_word: Mapping[str, frozenset[int]]) -> None:
        """``users_by_word`` maps lower-cased, non-empty words to the users who set them; use ``build``."""
        self._users_by_word = dict(users_by_word)
        # By a word's first two characters (its only one, for a word of one): the lengths of the
        # words that start so. Cheaper to build than a trie, and as quick to walk for real words.
        lengths: dict[str, set[int]] = {}
        for word in self._users_by_word:
            lengths.setdefault(word[:2], set()).add(len(word))
        self._lengths = {prefix: tuple(sorted(found)) for prefix, found in lengths.items()}
        # Every user who has at least one alert word.
        self.user_ids: frozenset[int] = frozenset().union(*self._users_by_word.values())
        first = "".join(re.escape(character) for character in sorted({word[0] for word in self._users_by_word}))
        # Zero-width matches at each place a word may start: the text's start or after a boundary,
        # before a character some word starts with.
        self._starts = re.compile(f"(?:^|(?<=[{_BEFORE_CLASS}]))(?=[{first}])") if first else None

    @classmethod
    def build(cls, words_by_user: Mapping[int, Sequence[str]]) -> AlertWordMatcher:
        """A matcher for these users' words (as stored: any case; empty words are ignored)."""
        users_by_word: dict[str, set[int]] = {}
        for user_id, words in words_by_user.items():
            for word in words:
                lowered = word.lower()
                if lowered:
                    users_by_word.setdefault(lowered, set()).add(user_id)
        return cls({word: frozenset(user_ids) for word, user_ids in users_by_word.items()})

    def user_ids_in(self, text: str) -> frozenset[int]:
        """The users who have at least one alert word in ``text``."""
        if self._starts is None:
            return frozenset()
        lowered = text.lower()
        length = len(lowered)
        everyone = len(self.user_ids)
        found: set[int] = set()
        lengths_by_prefix, users_by_word = self._lengths, self._users_by_word
        for start in self._starts.finditer(lowered):
            position = start.start()
            for prefix in (lowered[position : position + 2], lowered[position]):
                for word_length in lengths_by_prefix.get(prefix, ()):
                    end = position + word_length
                    if end > length:
                        break
                    if end < length and lowered[end] not in AFTER_WORD:
                        continue
                    user_ids = users_by_word.get(lowered[position:end])
                    if user_ids is not None:
                        found.update(user_ids)
                        if len(found) == everyone:
                            return self.user_ids
        return frozenset(found)


EMPTY_MATCHER = AlertWordMatcher({})


def users_with_alert_words(text: str, words_by_user: Mapping[int, Sequence[str]]) -> frozenset[int]:
    """The users in ``words_by_user`` who have at least one of their alert words in ``text``.

    This builds a matcher each time; to check many messages against the same words, build an
    ``AlertWordMatcher`` once and call its ``user_ids_in``.
    """
    return AlertWordMatcher.build(words_by_user).user_ids_in(text)
