"""Email domains too common to link accounts by themselves.

Webmail: millions of unrelated people share them. Disposable: throwaway inboxes, a weak signal
(a risk feature, not a link). Both are marked on `EmailDomain` nodes; detection keeps them out
of account-to-account linking.
"""

from __future__ import annotations

WEBMAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
        "yahoo.com", "yahoo.co.uk", "yahoo.co.jp", "ymail.com", "icloud.com", "me.com",
        "mac.com", "aol.com", "proton.me", "protonmail.com", "pm.me", "gmx.com", "gmx.de",
        "gmx.net", "web.de", "mail.com", "zoho.com", "yandex.com", "yandex.ru", "mail.ru",
        "qq.com", "163.com", "126.com", "sina.com", "naver.com", "daum.net", "hanmail.net",
        "fastmail.com", "tutanota.com", "tuta.io", "hey.com", "rediffmail.com", "libero.it",
        "orange.fr", "free.fr", "laposte.net", "t-online.de", "seznam.cz", "wp.pl", "o2.pl",
        "interia.pl", "btinternet.com", "comcast.net", "verizon.net", "att.net", "foxmail.com",
        "aliyun.com", "outlook.jp", "hotmail.co.uk", "hotmail.fr", "live.co.uk", "rambler.ru",
    }
)  # fmt: skip

DISPOSABLE_DOMAINS = frozenset(
    {
        "mailinator.com", "guerrillamail.com", "guerrillamail.net", "sharklasers.com",
        "10minutemail.com", "10minutemail.net", "temp-mail.org", "tempmail.com", "tempmail.net",
        "yopmail.com", "yopmail.net", "trashmail.com", "trashmail.de", "getnada.com",
        "dispostable.com", "maildrop.cc", "mintemail.com", "throwawaymail.com", "fakeinbox.com",
        "mohmal.com", "emailondeck.com", "spamgourmet.com", "mailnesia.com", "mytemp.email",
        "tempail.com", "burnermail.io", "moakt.com", "tmpmail.org", "tmail.ws", "inboxkitten.com",
        "33mail.com", "mailcatch.com", "discard.email", "spambox.us", "1secmail.com",
    }
)  # fmt: skip

# Providers that ignore dots in the local part and share one mailbox namespace.
DOTLESS_ALIASES = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}
