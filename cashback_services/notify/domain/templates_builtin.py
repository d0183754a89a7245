"""Built-in message templates for en, fa and ar, per kind and channel.

Each default SMS fits one segment (70 UCS-2 characters for fa and ar, 160 GSM-7
for en) with a shop name of up to 13 characters and an amount under a million toman
(or 10,000 riyals): the
segment counts are kept in tests/notify/test_texts.py. Money and dates are values
(see rendering.py): `{{ amount }}` prints «۱۲۵٬۰۰۰ تومان», `{{ available_at }}`
prints «۲۴ آذر ۱۴۰۵» for Persian and the Gregorian date for Arabic and English;
the Persian SMS and the Arabic expiry warning print the day and month alone
(«۲۴ آذر», `|day_month`), the longest month names (اردیبهشت, ديسمبر) included,
to stay in one segment."""

from __future__ import annotations

# "Shop: " before the text when the merchant set a shop name.
_SHOP = "{% if shop %}{{ shop }}: {% endif %}"

# (kind, language) -> (sms body, email subject, email body)
BUILTIN: dict[tuple[str, str], tuple[str, str, str]] = {
    ("credited", "en"): (
        _SHOP + "{{ amount }} cashback added to your wallet, "
        "{% if available_now %}ready to use now.{% else %}usable from {{ available_at }}.{% endif %}",
        "{{ amount }} cashback added",
        "Good news: {{ amount }} cashback was added to your wallet"
        "{% if shop %} at {{ shop }}{% endif %}.\n"
        "{% if available_now %}You can use it now.{% else %}You can spend it from {{ available_at }}.{% endif %}",
    ),
    ("available", "en"): (
        _SHOP + "your {{ amount }} cashback is ready to spend. Use it on your next order.",
        "Your cashback is ready to spend",
        "Your {{ amount }} cashback{% if shop %} at {{ shop }}{% endif %} is ready to spend. "
        "Use it on your next order.",
    ),
    ("expiry_warning", "en"): (
        _SHOP + "{{ amount }} of your cashback expires on {{ expires_at }}. Use it before then.",
        "Your cashback expires soon",
        "{{ amount }} of your cashback{% if shop %} at {{ shop }}{% endif %} expires on {{ expires_at }} "
        "({{ days_left }} days left).",
    ),
    ("reminder", "en"): (
        _SHOP + "you have {{ balance }} cashback waiting. Use it on your next order!",
        "You have cashback waiting",
        "You have {{ balance }} cashback waiting{% if shop %} at {{ shop }}{% endif %}. "
        "Use it on your next order!",
    ),
    ("credited", "fa"): (
        _SHOP + "{{ amount }} اعتبار گرفتید؛ "
        "{% if available_now %}همین حالا قابل استفاده است"
        "{% else %}از {{ available_at|day_month }} فعال می‌شود{% endif %}",
        "{{ amount }} اعتبار گرفتید",
        "{{ amount }} اعتبار{% if shop %} از {{ shop }}{% endif %} به کیف پول شما اضافه شد.\n"
        "{% if available_now %}همین حالا می‌توانید از آن استفاده کنید."
        "{% else %}از {{ available_at }} می‌توانید از آن استفاده کنید.{% endif %}",
    ),
    ("available", "fa"): (
        _SHOP + "{{ amount }} اعتبار شما فعال شد و قابل استفاده است",
        "اعتبار شما فعال شد",
        "{{ amount }} اعتبار شما{% if shop %} در {{ shop }}{% endif %} فعال شد. "
        "در خرید بعدی از آن استفاده کنید.",
    ),
    ("expiry_warning", "fa"): (
        _SHOP + "{{ amount }} از اعتبار شما {{ expires_at|day_month }} منقضی می‌شود",
        "اعتبار شما به‌زودی منقضی می‌شود",
        "{{ amount }} از اعتبار شما{% if shop %} در {{ shop }}{% endif %} در {{ expires_at }} منقضی می‌شود "
        "({{ days_left }} روز دیگر). پیش از آن استفاده کنید.",
    ),
    ("reminder", "fa"): (
        _SHOP + "{{ balance }} اعتبار خرید دارید؛ منتظرتان هستیم",
        "اعتبار شما منتظر شماست",
        "{{ balance }} اعتبار خرید{% if shop %} در {{ shop }}{% endif %} دارید. منتظر خرید بعدی شما هستیم.",
    ),
    ("credited", "ar"): (
        _SHOP + "أضفنا {{ amount }} لرصيدك، "
        "{% if available_now %}متاح للاستخدام الآن{% else %}متاح من {{ available_at }}{% endif %}",
        "أضفنا {{ amount }} لرصيدك",
        "أضفنا {{ amount }} إلى رصيدك{% if shop %} في {{ shop }}{% endif %}.\n"
        "{% if available_now %}يمكنك استخدامه الآن.{% else %}يمكنك استخدامه من {{ available_at }}.{% endif %}",
    ),
    ("available", "ar"): (
        _SHOP + "أصبح {{ amount }} من رصيدك متاحاً للاستخدام",
        "رصيدك متاح للاستخدام",
        "أصبح {{ amount }} من رصيدك{% if shop %} في {{ shop }}{% endif %} متاحاً للاستخدام. "
        "استخدمه في طلبك القادم.",
    ),
    ("expiry_warning", "ar"): (
        _SHOP + "ينتهي {{ amount }} من رصيدك في {{ expires_at|day_month }}، استخدمه قبلها",
        "رصيدك ينتهي قريباً",
        "ينتهي {{ amount }} من رصيدك{% if shop %} في {{ shop }}{% endif %} في {{ expires_at }} "
        "(بعد {{ days_left }} يوم). استخدمه قبل ذلك.",
    ),
    ("reminder", "ar"): (
        _SHOP + "لديك {{ balance }} في رصيدك بانتظار طلبك القادم",
        "لديك رصيد بانتظارك",
        "لديك {{ balance }} في رصيدك{% if shop %} في {{ shop }}{% endif %} بانتظار طلبك القادم.",
    ),
}

# The wallet's events of issue 17: one message per event. Transfers are credit; a conversion's
# amount is in the unit converted from (points print as «۵۰ امتیاز», «٥٠ نقطة», "50 points",
# and `amount.currency` is "PTS"); a reward's amount is the points it cost.
_FROM_POINTS = "{% if amount.currency == 'PTS' %}"
BUILTIN.update({
    ("transferred_out", "en"): (
        _SHOP + "you sent {{ amount }} of your credit to another customer's wallet.",
        "You sent {{ amount }} of credit",
        "{{ amount }} of your credit{% if shop %} at {{ shop }}{% endif %} was sent to another customer's wallet "
        "at your request.",
    ),
    ("transferred_in", "en"): (
        _SHOP + "another customer sent you {{ amount }} of credit. "
        "{% if expires_at %}Use it by {{ expires_at }}.{% else %}Use it on your next order.{% endif %}",
        "You received {{ amount }} of credit",
        "Another customer sent {{ amount }} of credit to your wallet{% if shop %} at {{ shop }}{% endif %}. "
        "{% if expires_at %}You can use it until {{ expires_at }}.{% else %}You can use it now.{% endif %}",
    ),
    ("converted", "en"): (
        _SHOP + _FROM_POINTS + "you turned {{ amount }} into store credit."
        "{% else %}you turned {{ amount }} of your credit into points.{% endif %}",
        _FROM_POINTS + "Your points are now credit{% else %}Your credit is now points{% endif %}",
        _FROM_POINTS + "You turned {{ amount }} into store credit{% if shop %} at {{ shop }}{% endif %}."
        "{% else %}You turned {{ amount }} of your credit{% if shop %} at {{ shop }}{% endif %} into points."
        "{% endif %}",
    ),
    ("reward_redeemed", "en"): (
        _SHOP + "you spent {{ amount }} on a reward. Enjoy it!",
        "Your reward is on its way",
        "You spent {{ amount }} on a reward{% if shop %} at {{ shop }}{% endif %}. Enjoy it!",
    ),
    ("transferred_out", "fa"): (
        _SHOP + "{{ amount }} از اعتبارتان به مشتری دیگری منتقل شد",
        "{{ amount }} از اعتبار شما منتقل شد",
        "به درخواست شما {{ amount }} از اعتبار{% if shop %} {{ shop }}{% endif %} به کیف پول مشتری دیگری منتقل شد.",
    ),
    ("transferred_in", "fa"): (
        _SHOP + "{{ amount }} اعتبار هدیه گرفتید{% if expires_at %}، معتبر تا {{ expires_at|day_month }}"
        "{% else %}؛ قابل استفاده است{% endif %}",
        "{{ amount }} اعتبار هدیه گرفتید",
        "مشتری دیگری {{ amount }} اعتبار{% if shop %} در {{ shop }}{% endif %} به کیف پول شما منتقل کرد."
        "{% if expires_at %} تا {{ expires_at }} می‌توانید از آن استفاده کنید.{% endif %}",
    ),
    ("converted", "fa"): (
        _SHOP + _FROM_POINTS + "{{ amount }} شما به اعتبار خرید تبدیل شد"
        "{% else %}{{ amount }} از اعتبار شما به امتیاز تبدیل شد{% endif %}",
        _FROM_POINTS + "امتیاز شما به اعتبار تبدیل شد{% else %}اعتبار شما به امتیاز تبدیل شد{% endif %}",
        _FROM_POINTS + "{{ amount }} شما{% if shop %} در {{ shop }}{% endif %} به اعتبار خرید تبدیل شد."
        "{% else %}{{ amount }} از اعتبار شما{% if shop %} در {{ shop }}{% endif %} به امتیاز تبدیل شد.{% endif %}",
    ),
    ("reward_redeemed", "fa"): (
        _SHOP + "جایزه شما ثبت شد؛ {{ amount }} از حسابتان کم شد",
        "جایزه شما ثبت شد",
        "جایزه شما{% if shop %} در {{ shop }}{% endif %} ثبت شد و {{ amount }} از حسابتان کم شد. "
        "از آن لذت ببرید!",
    ),
    ("transferred_out", "ar"): (
        _SHOP + "أرسلت {{ amount }} من رصيدك إلى محفظة عميل آخر",
        "أرسلت {{ amount }} من رصيدك",
        "أرسلت {{ amount }} من رصيدك{% if shop %} في {{ shop }}{% endif %} إلى محفظة عميل آخر بناءً على طلبك.",
    ),
    ("transferred_in", "ar"): (
        _SHOP + "وصلك رصيد {{ amount }} من عميل آخر"
        "{% if expires_at %}، صالح حتى {{ expires_at|day_month }}{% endif %}",
        "وصلك رصيد {{ amount }}",
        "أرسل لك عميل آخر {{ amount }} رصيداً في محفظتك{% if shop %} في {{ shop }}{% endif %}."
        "{% if expires_at %} يمكنك استخدامه حتى {{ expires_at }}.{% endif %}",
    ),
    ("converted", "ar"): (
        _SHOP + _FROM_POINTS + "حوّلنا {{ amount }} إلى رصيد في محفظتك"
        "{% else %}حوّلنا {{ amount }} من رصيدك إلى نقاط{% endif %}",
        _FROM_POINTS + "نقاطك أصبحت رصيداً{% else %}رصيدك أصبح نقاطاً{% endif %}",
        _FROM_POINTS + "حوّلنا {{ amount }} إلى رصيد في محفظتك{% if shop %} في {{ shop }}{% endif %}."
        "{% else %}حوّلنا {{ amount }} من رصيدك{% if shop %} في {{ shop }}{% endif %} إلى نقاط.{% endif %}",
    ),
    ("reward_redeemed", "ar"): (
        _SHOP + "تم استبدال {{ amount }} بمكافأتك، استمتع بها",
        "تم استبدال مكافأتك",
        "تم استبدال {{ amount }} بمكافأتك{% if shop %} في {{ shop }}{% endif %}. استمتع بها!",
    ),
})

LANGUAGES = ("en", "fa", "ar")
