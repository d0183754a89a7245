"""Built-in message templates for en, fa and ar, per kind and channel.

Variables: amount, balance (formatted money), available_date, expiry_date,
days_left. Formatting (toman and Persian digits for fa, Arabic-Indic digits for
ar, right-to-left marks) happens before the template sees the values, so a
merchant's own template gets the same correct numbers."""

from __future__ import annotations

# (kind, locale) -> (sms body, email subject, email body)
BUILTIN: dict[tuple[str, str], tuple[str, str, str]] = {
    ("credited", "en"): (
        "{{ amount }} cashback was added to your wallet. You can spend it from {{ available_date }}.",
        "{{ amount }} cashback added",
        "Good news: {{ amount }} cashback was added to your wallet.\nYou can spend it from {{ available_date }}.",
    ),
    ("available", "en"): (
        "Your {{ amount }} cashback is now available. Use it on your next order.",
        "Your cashback is ready to spend",
        "Your {{ amount }} cashback is now available. Use it on your next order.",
    ),
    ("expiry_warning", "en"): (
        "{{ amount }} of your cashback expires on {{ expiry_date }}. Use it before then.",
        "Your cashback expires soon",
        "{{ amount }} of your cashback expires on {{ expiry_date }} ({{ days_left }} days left).",
    ),
    ("reminder", "en"): (
        "You have {{ balance }} cashback waiting in your wallet. Use it on your next order!",
        "You have cashback waiting",
        "You have {{ balance }} cashback waiting in your wallet. Use it on your next order!",
    ),
    ("credited", "fa"): (
        "{{ amount }} اعتبار به کیف پول شما اضافه شد و از {{ available_date }} قابل استفاده است.",
        "{{ amount }} اعتبار به کیف پول شما اضافه شد",
        "{{ amount }} اعتبار به کیف پول شما اضافه شد.\nاین اعتبار از {{ available_date }} قابل استفاده است.",
    ),
    ("available", "fa"): (
        "{{ amount }} اعتبار شما اکنون قابل استفاده است. در خرید بعدی از آن استفاده کنید.",
        "اعتبار شما قابل استفاده است",
        "{{ amount }} اعتبار شما اکنون قابل استفاده است. در خرید بعدی از آن استفاده کنید.",
    ),
    ("expiry_warning", "fa"): (
        "{{ amount }} از اعتبار شما در {{ expiry_date }} منقضی می‌شود. پیش از آن استفاده کنید.",
        "اعتبار شما به‌زودی منقضی می‌شود",
        "{{ amount }} از اعتبار شما در {{ expiry_date }} منقضی می‌شود.",
    ),
    ("reminder", "fa"): (
        "{{ balance }} اعتبار در کیف پول شما منتظر خرید بعدی شماست.",
        "اعتبار شما منتظر شماست",
        "{{ balance }} اعتبار در کیف پول شما منتظر خرید بعدی شماست.",
    ),
    ("credited", "ar"): (
        "أضفنا {{ amount }} استرداداً نقدياً إلى محفظتك، متاح للاستخدام من {{ available_date }}.",
        "أضفنا {{ amount }} إلى محفظتك",
        "أضفنا {{ amount }} استرداداً نقدياً إلى محفظتك.\nمتاح للاستخدام من {{ available_date }}.",
    ),
    ("available", "ar"): (
        "أصبح رصيدك {{ amount }} متاحاً الآن. استخدمه في طلبك القادم.",
        "رصيدك متاح الآن",
        "أصبح رصيدك {{ amount }} متاحاً الآن. استخدمه في طلبك القادم.",
    ),
    ("expiry_warning", "ar"): (
        "ينتهي {{ amount }} من رصيدك في {{ expiry_date }}. استخدمه قبل ذلك.",
        "رصيدك ينتهي قريباً",
        "ينتهي {{ amount }} من رصيدك في {{ expiry_date }}.",
    ),
    ("reminder", "ar"): (
        "لديك {{ balance }} في محفظتك بانتظار طلبك القادم.",
        "لديك رصيد بانتظارك",
        "لديك {{ balance }} في محفظتك بانتظار طلبك القادم.",
    ),
}

LANGUAGES = ("en", "fa", "ar")
