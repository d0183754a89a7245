# ruff: noqa: E501  (a table of translations: one phrase per entry reads better than wrapped strings)
"""The words of the segments page, the customer's segment and the phone search, in
Persian and Arabic (merged into i18n.FA and i18n.AR)."""

from __future__ import annotations

# segment -> (name, who they are), in English: the keys of the tables below.
SEGMENT_WORDS: dict[str, tuple[str, str]] = {
    "champions": ("Champions", "Bought recently, buy often and spend the most"),
    "loyal_customers": ("Loyal customers", "Buy regularly and spend well"),
    "potential_loyalists": ("Potential loyalists", "Recent customers with a few orders, worth keeping"),
    "recent_customers": ("Recent customers", "Bought recently, but only once or twice"),
    "promising": ("Promising", "Bought fairly recently, not much yet"),
    "need_attention": ("Need attention", "Middling on all three; a nudge may help"),
    "about_to_sleep": ("About to sleep", "Have not bought for a while, and bought little"),
    "at_risk": ("At risk", "Used to buy often, but not lately"),
    "cant_lose": ("Can't lose them", "Big spenders of old who have gone quiet"),
    "hibernating": ("Hibernating", "Last bought long ago, little and seldom"),
    "lost": ("Lost", "Lowest on all three"),
}

FA: dict[str, str] = {
    "Champions": "قهرمانان", "Bought recently, buy often and spend the most": "تازه خرید کرده‌اند، زیاد می‌خرند و بیشترین خرج را دارند",
    "Loyal customers": "مشتریان وفادار", "Buy regularly and spend well": "مرتب خرید می‌کنند و خوب خرج می‌کنند",
    "Potential loyalists": "وفاداران آینده", "Recent customers with a few orders, worth keeping": "مشتریان تازه با چند سفارش که ارزش نگه‌داشتن دارند",
    "Recent customers": "مشتریان تازه", "Bought recently, but only once or twice": "تازه خرید کرده‌اند، ولی فقط یکی دو بار",
    "Promising": "امیدوارکننده", "Bought fairly recently, not much yet": "نسبتاً تازه خرید کرده‌اند، ولی هنوز کم",
    "Need attention": "نیازمند توجه", "Middling on all three; a nudge may help": "در هر سه معیار متوسط‌اند؛ یک یادآوری کمک می‌کند",
    "About to sleep": "در آستانهٔ خواب", "Have not bought for a while, and bought little": "مدتی است خرید نکرده‌اند و کم هم خریده‌اند",
    "At risk": "در خطر رفتن", "Used to buy often, but not lately": "قبلاً زیاد می‌خریدند، ولی این اواخر نه",
    "Can't lose them": "نباید از دستشان داد", "Big spenders of old who have gone quiet": "پرخریدهای قدیمی که دیگر خرید نمی‌کنند",
    "Hibernating": "خفته", "Last bought long ago, little and seldom": "آخرین خریدشان خیلی وقت پیش بوده، کم و به‌ندرت",
    "Lost": "از دست رفته", "Lowest on all three": "در هر سه معیار پایین‌ترین",
    "Segments": "بخش‌بندی", "Customer segments": "بخش‌بندی مشتریان", "Segment": "بخش", "Who they are": "چه کسانی‌اند",
    "Total": "جمع",
    "Customers with an order in the last {days} days, grouped by how recently, how often and how much they buy.":
        "مشتریانی که در {days} روز گذشته سفارش داشته‌اند، بر اساس تازگی، دفعات و مبلغ خریدشان دسته‌بندی شده‌اند.",
    "Last computed {when}.": "آخرین محاسبه: {when}.",
    "Not computed yet: import past orders, or wait for the first orders.":
        "هنوز محاسبه نشده است: سفارش‌های گذشته را وارد کنید یا منتظر نخستین سفارش‌ها بمانید.",
    "Tier": "سطح", "RFM scores": "امتیاز RFM", "no order in the last year": "در یک سال گذشته سفارشی نداشته",
    "recency {r} · frequency {f} · spend {m} (of 5)": "تازگی {r} · دفعات {f} · مبلغ {m} (از ۵)",
    "this month": "این ماه",
    "Customer id or phone": "شناسهٔ مشتری یا شماره تلفن",
    "Type a customer id, a phone number as the customer gave it (e.g. 0912 345 6789) or an email.":
        "شناسهٔ مشتری، شماره تلفنی که مشتری داده (مثلاً ۰۹۱۲ ۳۴۵ ۶۷۸۹) یا ایمیل او را بنویسید.",
    "Customers with this phone or email": "مشتریان با این شماره یا ایمیل",
    "No customer has this phone number or email.": "هیچ مشتری‌ای این شماره یا ایمیل را ندارد.",
    "Open it as a customer id": "آن را به عنوان شناسهٔ مشتری باز کن",
    "Count the calendar month (from the 1st) instead of the window":
        "به جای بازه، خرید همین ماه (از روز اول ماه) حساب شود",
}

AR: dict[str, str] = {
    "Champions": "الأبطال", "Bought recently, buy often and spend the most": "اشتروا مؤخراً، ويشترون كثيراً، وينفقون أكثر من غيرهم",
    "Loyal customers": "العملاء الأوفياء", "Buy regularly and spend well": "يشترون بانتظام وينفقون جيداً",
    "Potential loyalists": "أوفياء محتملون", "Recent customers with a few orders, worth keeping": "عملاء جدد لديهم بضعة طلبات، يستحقون الحفاظ عليهم",
    "Recent customers": "عملاء جدد", "Bought recently, but only once or twice": "اشتروا مؤخراً، لكن مرة أو مرتين فقط",
    "Promising": "واعدون", "Bought fairly recently, not much yet": "اشتروا منذ وقت قريب نسبياً، لكن ليس كثيراً بعد",
    "Need attention": "بحاجة إلى اهتمام", "Middling on all three; a nudge may help": "متوسطون في المعايير الثلاثة؛ قد يفيدهم تذكير",
    "About to sleep": "على وشك الانقطاع", "Have not bought for a while, and bought little": "لم يشتروا منذ فترة، ومشترياتهم قليلة",
    "At risk": "معرّضون للخسارة", "Used to buy often, but not lately": "كانوا يشترون كثيراً، لكن ليس مؤخراً",
    "Can't lose them": "لا يجوز أن نخسرهم", "Big spenders of old who have gone quiet": "كبار المنفقين سابقاً وقد انقطعوا",
    "Hibernating": "خاملون", "Last bought long ago, little and seldom": "آخر شراء لهم منذ زمن بعيد، قليلاً ونادراً",
    "Lost": "عملاء مفقودون", "Lowest on all three": "الأدنى في المعايير الثلاثة",
    "Segments": "الشرائح", "Customer segments": "شرائح العملاء", "Segment": "الشريحة", "Who they are": "من هم",
    "Total": "المجموع",
    "Customers with an order in the last {days} days, grouped by how recently, how often and how much they buy.":
        "العملاء الذين طلبوا خلال آخر {days} يوماً، مصنّفون حسب حداثة شرائهم وتكراره وقيمته.",
    "Last computed {when}.": "آخر حساب: {when}.",
    "Not computed yet: import past orders, or wait for the first orders.":
        "لم تُحسب بعد: استورد الطلبات السابقة، أو انتظر أول الطلبات.",
    "Tier": "الفئة", "RFM scores": "درجات RFM", "no order in the last year": "لا طلبات خلال السنة الماضية",
    "recency {r} · frequency {f} · spend {m} (of 5)": "الحداثة {r} · التكرار {f} · القيمة {m} (من ٥)",
    "this month": "هذا الشهر",
    "Customer id or phone": "معرّف العميل أو رقم الهاتف",
    "Type a customer id, a phone number as the customer gave it (e.g. 0912 345 6789) or an email.":
        "اكتب معرّف العميل، أو رقم الهاتف كما أعطاه العميل (مثلاً ٠٥٠ ١٢٣ ٤٥٦٧)، أو بريده الإلكتروني.",
    "Customers with this phone or email": "العملاء بهذا الرقم أو البريد",
    "No customer has this phone number or email.": "لا يوجد عميل بهذا الرقم أو البريد.",
    "Open it as a customer id": "افتحه كمعرّف عميل",
    "Count the calendar month (from the 1st) instead of the window":
        "احتساب مشتريات الشهر الحالي (من أوله) بدلاً من الفترة",
}
