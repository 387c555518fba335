"""Which human language a text is written in, and which path names are language codes.

A cheap check, no model: scripts (Cyrillic, Han, kana, Hangul, Devanagari, Arabic, ...)
decide non-Latin languages; frequent function words decide among Latin-script ones.
Code blocks, inline code, URLs and markup are left out first, since translated pages keep
their code in the original language.
"""

from __future__ import annotations

import re
from collections import Counter

# ISO 639-1 codes: a folder or suffix named like one may hold a translation.
ISO_639_1 = frozenset(
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu "
    "cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi "
    "ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks "
    "ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl "
    "nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl "
    "sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve "
    "vi vo wa wo xh yi yo za zh zu".split()
)
_CODE = re.compile(r"^([a-z]{2})(?:[-_]([a-z]{2,4}|[A-Z]{2}|[A-Z][a-z]{3}))?$")

# The commonest function words of Latin-script languages; a word in two lists counts for neither.
_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the and of to is in that it for you with are this be on as can".split()),
    "de": frozenset("der die und ist nicht das mit sie ein eine auf den dem des auch".split()),
    "es": frozenset("el los las del que es una por para con como pero su al se".split()),
    "fr": frozenset("le les des est une et pour dans pas sur qui vous avec au du".split()),
    "pt": frozenset(
        "os das dos não uma um você em ao pelo isso mais também quando seu sua é".split()
    ),
    "it": frozenset("il gli della che è di una per non sono nel alla questo".split()),
    "nl": frozenset("het een van en niet zijn op dat voor met je wordt deze".split()),
    "tr": frozenset("bir ve bu için ile olarak gibi daha çok olan veya değil".split()),
    "pl": frozenset("się nie jest że jak czy oraz dla przez".split()),
    "id": frozenset("yang dan di ini untuk dengan tidak dari akan anda".split()),
    "vi": frozenset("và của là các cho không được một có những".split()),
}
_OWNER: dict[str, str] = {
    word: language
    for language, words in _STOPWORDS.items()
    for word in words
    if sum(word in other for other in _STOPWORDS.values()) == 1
}
# Script ranges: (language, first, last code point).
_SCRIPTS: tuple[tuple[str, int, int], ...] = (
    ("ja", 0x3040, 0x30FF),  # kana: Japanese even when Han characters are present
    ("ko", 0xAC00, 0xD7AF),
    ("zh", 0x4E00, 0x9FFF),
    ("ru", 0x0400, 0x04FF),
    ("hi", 0x0900, 0x097F),
    ("ar", 0x0600, 0x06FF),
    ("he", 0x0590, 0x05FF),
    ("el", 0x0370, 0x03FF),
    ("th", 0x0E00, 0x0E7F),
)
_UKRAINIAN = frozenset("іїєґ")
_FENCE = re.compile(r"^(\s*)(```|~~~).*?^\1\2[^\n]*$", re.MULTILINE | re.DOTALL)
_NOISE = re.compile(r"`[^`\n]*`|https?://\S+|<[^>\n]*>|\{[*!].*?[*!]\}|\[[^\]\n]*\]\([^)\n]*\)")
_RST_LITERAL = re.compile(r"::\n\n(?:[ \t]+.*\n|\n)+")
_WORD = re.compile(r"[^\W\d_]+")

UNKNOWN = ""


def language_code(name: str) -> str | None:
    """The base language of a path segment or suffix that is a language code, else None.

    "de", "pt-BR", "zh_CN", "zh-hant" are codes (of de, pt, zh, zh); "docs", "src" are not.
    """
    match = _CODE.match(name)
    if match is None or match.group(1) not in ISO_639_1:
        return None
    if name != name.lower() and match.group(2) is None:
        return None
    return match.group(1)


def prose(text: str) -> str:
    """The running text of a document: fenced and literal code, inline code, URLs, tags gone."""
    text = _FENCE.sub(" ", text)
    text = _RST_LITERAL.sub("\n", text)
    return _NOISE.sub(" ", text)


def detect(text: str, *, min_words: int = 20) -> str:
    """The language code of the text's prose ("en", "de", "zh", ...), or "" when unsure."""
    body = prose(text)
    letters = [ch for ch in body if ch.isalpha()]
    if not letters:
        return UNKNOWN
    scripts: Counter[str] = Counter()
    for ch in letters:
        point = ord(ch)
        for language, first, last in _SCRIPTS:
            if first <= point <= last:
                scripts[language] += 1
                break
    if scripts:
        language, count = scripts.most_common(1)[0]
        if scripts["ja"] and scripts["ja"] * 10 >= sum(scripts.values()):
            language, count = "ja", sum(scripts.values())
        if count >= 0.2 * len(letters) and count >= 10:
            if language == "ru" and sum(ch in _UKRAINIAN for ch in body.lower()) >= 3:
                return "uk"
            return language
    words = [w.lower() for w in _WORD.findall(body)]
    if len(words) < min_words:
        return UNKNOWN
    hits = Counter(_OWNER[w] for w in words if w in _OWNER)
    if not hits:
        return UNKNOWN
    (best, top), (_, runner_up) = [*hits.most_common(2), ("", 0)][:2]
    if top < max(3, len(words) // 50) or top < 1.5 * runner_up:
        return UNKNOWN
    return best
