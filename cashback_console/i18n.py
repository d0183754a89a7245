# ruff: noqa: E501  (a table of translations: one phrase per entry reads better than wrapped strings)
"""The console's words in Persian and Arabic, keyed by the English text.

A plain table rather than gettext catalogues: three languages, no compile step, and
tests/console check that every string the templates use has both translations."""

from __future__ import annotations

from cashback_console import i18n_segments as segment_words
from cashbackctl.units import LANGUAGES, language

NAMES = (("en", "English"), ("fa", "فارسی"), ("ar", "العربية"))

FA: dict[str, str] = {
    "Cashback console": "کنسول کش‌بک", "Campaigns": "کمپین‌ها", "Customers": "مشتریان", "Reminders": "یادآورها",
    "Templates": "قالب پیام‌ها", "Settings": "تنظیمات", "Report": "گزارش", "Merchant": "فروشگاه",
    "Sign in": "ورود", "Sign out": "خروج", "API key": "کلید API", "optional": "اختیاری",
    "Use your ops API key. It stays on the server for this session only.":
        "کلید API عملیات خود را وارد کنید. فقط برای همین نشست روی سرور می‌ماند.",
    "New campaign": "کمپین تازه", "Status": "وضعیت", "all": "همه", "draft": "پیش‌نویس", "active": "فعال",
    "paused": "متوقف", "ended": "پایان‌یافته", "Name": "نام", "Id": "شناسه", "Reward": "پاداش",
    "Budget used": "بودجهٔ مصرف‌شده", "Days": "روزها", "Actions": "کارها", "No campaigns yet.": "هنوز کمپینی نیست.",
    "Activate": "فعال کن", "Pause": "توقف", "End": "پایان", "End this campaign for good?": "این کمپین برای همیشه تمام شود؟",
    "version": "نسخهٔ", "Basics": "پایه", "Description": "توضیح", "Key (becomes the id; optional)":
        "کلید (شناسه می‌شود؛ اختیاری)", "Start as": "شروع به صورت", "Rewards": "پاداش برای", "orders": "سفارش‌ها",
    "events": "رویدادها", "Event type (for events)": "نوع رویداد (برای رویدادها)", "e.g. product_review":
        "مثلاً product_review", "Kind": "نوع", "percent of the order": "درصدی از سفارش", "fixed amount": "مبلغ ثابت",
    "Percent": "درصد", "e.g. 10 for 10%": "مثلاً ۱۰ برای ۱۰٪", "Fixed amount": "مبلغ ثابت",
    "Percent by tier": "درصد هر سطح", "e.g. gold=12, silver=8": "مثلاً gold=12, silver=8",
    "Rates for SKUs or categories": "درصد کالا یا دسته", "e.g. sku:A-100=5, category:shoes=3":
        "مثلاً sku:A-100=5, category:shoes=3", "Limits": "سقف‌ها", "Minimum order": "حداقل سفارش",
    "At most per order": "سقف هر سفارش", "At most per customer": "سقف هر مشتری",
    "Awards per customer (0 = no limit)": "دفعات پاداش هر مشتری (۰ = بی‌سقف)",
    "Awards per customer a day (0 = no limit)": "پاداش روزانهٔ هر مشتری (۰ = بی‌سقف)",
    "Budget (empty = no limit)": "بودجه (خالی = بی‌سقف)", "Who and where": "چه کسی و کجا",
    "Channels (none = all)": "کانال‌ها (هیچ = همه)", "web": "وب", "app": "اپ", "pos": "فروشگاه حضوری",
    "Payment methods (empty = all)": "روش‌های پرداخت (خالی = همه)", "e.g. mada, card": "مثلاً mada, card",
    "Coupon codes": "کدهای تخفیف", "Only these categories": "فقط این دسته‌ها", "Only these SKUs": "فقط این کالاها",
    "Not these categories": "نه این دسته‌ها", "Not these SKUs": "نه این کالاها",
    "Earlier orders needed": "سفارش‌های قبلی لازم", "Only these tiers (empty = all)": "فقط این سطح‌ها (خالی = همه)",
    "When": "زمان", "First day": "روز اول", "Last day": "روز آخر", "Time zone": "منطقهٔ زمانی", "Wallet": "کیف پول",
    "With other campaigns": "با کمپین‌های دیگر", "adds up with others": "با بقیه جمع می‌شود",
    "exclusive: best one only": "انحصاری: فقط بهترین", "Priority among exclusive campaigns": "اولویت میان انحصاری‌ها",
    "Days until available (return window)": "روز تا قابل‌استفاده شدن (مهلت مرجوعی)",
    "Expires after days (0 = never)": "انقضا پس از چند روز (۰ = هرگز)", "Currency": "ارز", "Save": "ذخیره",
    "Simulate last month": "شبیه‌سازی ماه گذشته", "What would this have cost last month?":
        "این کمپین ماه گذشته چقدر هزینه داشت؟", "Cashback": "کش‌بک", "Orders matched": "سفارش‌های مشمول",
    "Sales (GMV)": "فروش", "Cashback / sales": "کش‌بک به فروش",
    "Fill in the reward; the figures update as you type.": "پاداش را وارد کنید؛ ارقام همزمان به‌روز می‌شوند.",
    "Customer id": "شناسهٔ مشتری", "Look up": "جستجو",
    "Customer": "مشتری", "Balance": "موجودی", "Available": "قابل استفاده", "Pending": "در انتظار", "Held": "رزروشده",
    "Debt": "بدهی", "Next expiry": "انقضای بعدی", "Profile": "نمایه", "Tier (segment)": "سطح (بخش)",
    "set by hand": "دستی", "Orders": "سفارش‌ها", "Spend": "خرید", "days": "روز", "Phone": "تلفن", "Email": "ایمیل",
    "Language": "زبان", "Messages": "پیام‌ها", "SMS": "پیامک", "email": "ایمیل", "sms": "پیامک", "on": "روشن",
    "off": "خاموش", "Contact": "اطلاعات تماس", "none": "هیچ", "Adjust balance": "اصلاح موجودی",
    "Amount (negative to take back)": "مبلغ (منفی برای کسر)", "Reason (kept in the ledger)": "دلیل (در دفتر می‌ماند)",
    "Adjust": "اعمال", "Open holds": "رزروهای باز", "Order": "سفارش", "Amount": "مبلغ", "Hold": "رزرو",
    "History": "تاریخچه", "Type": "نوع", "Reason": "دلیل", "No transactions yet.": "هنوز تراکنشی نیست.",
    "Channel": "کانال", "Text": "متن", "Schedule (cron)": "زمان‌بندی (cron)", "Minimum available": "حداقل موجودی",
    "Inactive days": "روزهای بی‌خرید", "Next run": "اجرای بعدی", "Switch off": "خاموش کن", "Switch on": "روشن کن",
    "Run now": "همین حالا اجرا کن", "No reminders yet.": "هنوز یادآوری نیست.", "New reminder": "یادآور تازه",
    "e.g. 0 10 * * 6 = Saturdays 10:00": "مثلاً 0 10 * * 6 = شنبه‌ها ساعت ۱۰", "Channels": "کانال‌ها",
    "Create": "بساز", "Promotions: the services offer no promotions call yet.": "پیشنهادهای ویژه: سرویس‌ها هنوز امکانش را ندارند.",
    "Message": "پیام", "credited": "واریز کش‌بک", "available": "قابل استفاده شدن", "reminder": "یادآوری",
    "expiry_warning": "هشدار انقضا", "Customer (real amounts; optional)": "مشتری (مبالغ واقعی؛ اختیاری)",
    "Subject (email)": "موضوع (ایمیل)", "Text (empty = the built-in one)": "متن (خالی = متن پیش‌فرض)",
    "Preview": "پیش‌نمایش", "SMS segments": "بخش پیامک", "characters": "نویسه", "Tiers": "سطح‌ها",
    "Customers move up by what they spent in the window. One tier a line: name = minimum spend.":
        "مشتریان با خریدشان در بازه بالا می‌روند. هر خط یک سطح: نام = حداقل خرید.",
    "e.g. silver = 1,000": "مثلاً silver = 1,000", "Window (days)": "بازه (روز)", "Notifications": "اعلان‌ها",
    "Warn days before expiry": "هشدار چند روز پیش از انقضا", "e.g. 7, 1": "مثلاً 7, 1",
    "Quiet hours from": "ساعت سکوت از", "Quiet hours to": "ساعت سکوت تا", "Message when credited": "پیام هنگام واریز",
    "Message when available": "پیام هنگام قابل استفاده شدن", "Program report": "گزارش برنامه", "From": "از",
    "To (included)": "تا (شامل)", "Show": "نمایش", "Saved.": "ذخیره شد.", "Campaign saved.": "کمپین ذخیره شد.",
    "Balance adjusted.": "موجودی اصلاح شد.", "Reminder created.": "یادآور ساخته شد.",
    "Unknown API key.": "کلید API ناشناخته است.", "This key may not run the console (it is not an ops key).":
        "این کلید اجازهٔ کار با کنسول را ندارد (کلید عملیات نیست).",
    "This key may not act for merchant {merchant}.": "این کلید اجازهٔ کار برای فروشگاه {merchant} را ندارد.",
    "Too many sign-in attempts; try again in {seconds} seconds.": "تلاش‌های ورود زیاد بود؛ {seconds} ثانیه دیگر دوباره امتحان کنید.",
    "The form expired; please try again.": "فرم منقضی شد؛ دوباره امتحان کنید.",
    "The services are not reachable right now.": "سرویس‌ها اکنون در دسترس نیستند.",
    "{amount} per order": "{amount} برای هر سفارش", "always": "همیشه", "from {first}": "از {first}",
    "until {last}": "تا {last}", "{first} to {last}": "{first} تا {last}", "Reminder run: {n} customers, {m} new messages.":
        "یادآور اجرا شد: {n} مشتری، {m} پیام تازه.", "award": "پاداش", "mature": "قابل استفاده شد", "hold": "رزرو",
    "capture": "برداشت", "release": "آزادسازی", "refund": "مرجوعی", "reversal": "برگشت", "expiry": "انقضا",
    "adjustment": "اصلاح دستی", "scheduled": "زمان‌بندی‌شده", "sending": "در حال ارسال", "sent": "ارسال‌شده",
    "failed": "ناموفق", "suppressed": "ارسال‌نشده", "dead": "رهاشده", "last month, {first} to {last}": "ماه گذشته، {first} تا {last}",
    "required": "لازم است", "write a whole number": "یک عدد صحیح بنویسید", "write name=percent, e.g. gold=12":
        "به شکل نام=درصد بنویسید، مثلاً gold=12",
    "write sku:CODE=percent or category:ID=percent": "به شکل sku:کد=درصد یا category:شناسه=درصد بنویسید",
    "write a percent such as 10 or 2.5": "درصدی مثل ۱۰ یا ۲٫۵ بنویسید",
    "Your key is no longer accepted; sign in again.": "کلید شما دیگر پذیرفته نمی‌شود؛ دوباره وارد شوید.",
}

AR: dict[str, str] = {
    "Cashback console": "لوحة الاسترداد النقدي", "Campaigns": "الحملات", "Customers": "العملاء", "Reminders": "التذكيرات",
    "Templates": "قوالب الرسائل", "Settings": "الإعدادات", "Report": "التقرير", "Merchant": "المتجر",
    "Sign in": "تسجيل الدخول", "Sign out": "تسجيل الخروج", "API key": "مفتاح API", "optional": "اختياري",
    "Use your ops API key. It stays on the server for this session only.":
        "استخدم مفتاح API الخاص بالعمليات. يبقى على الخادم لهذه الجلسة فقط.",
    "New campaign": "حملة جديدة", "Status": "الحالة", "all": "الكل", "draft": "مسودة", "active": "نشطة",
    "paused": "موقوفة", "ended": "منتهية", "Name": "الاسم", "Id": "المعرّف", "Reward": "المكافأة",
    "Budget used": "الميزانية المستخدمة", "Days": "الأيام", "Actions": "إجراءات", "No campaigns yet.": "لا توجد حملات بعد.",
    "Activate": "تفعيل", "Pause": "إيقاف مؤقت", "End": "إنهاء", "End this campaign for good?": "إنهاء هذه الحملة نهائياً؟",
    "version": "الإصدار", "Basics": "الأساسيات", "Description": "الوصف", "Key (becomes the id; optional)":
        "المفتاح (يصبح المعرّف؛ اختياري)", "Start as": "البدء كـ", "Rewards": "المكافأة على", "orders": "الطلبات",
    "events": "الأحداث", "Event type (for events)": "نوع الحدث (للأحداث)", "e.g. product_review": "مثال: product_review",
    "Kind": "النوع", "percent of the order": "نسبة من الطلب", "fixed amount": "مبلغ ثابت", "Percent": "النسبة",
    "e.g. 10 for 10%": "مثال: ١٠ تعني ١٠٪", "Fixed amount": "مبلغ ثابت", "Percent by tier": "النسبة حسب الفئة",
    "e.g. gold=12, silver=8": "مثال: gold=12, silver=8", "Rates for SKUs or categories": "نسب لمنتجات أو فئات",
    "e.g. sku:A-100=5, category:shoes=3": "مثال: sku:A-100=5, category:shoes=3", "Limits": "الحدود",
    "Minimum order": "الحد الأدنى للطلب", "At most per order": "الحد الأقصى لكل طلب",
    "At most per customer": "الحد الأقصى لكل عميل", "Awards per customer (0 = no limit)": "مكافآت لكل عميل (٠ = بلا حد)",
    "Awards per customer a day (0 = no limit)": "مكافآت لكل عميل يومياً (٠ = بلا حد)",
    "Budget (empty = no limit)": "الميزانية (فارغ = بلا حد)", "Who and where": "من وأين",
    "Channels (none = all)": "القنوات (لا شيء = الكل)", "web": "الموقع", "app": "التطبيق", "pos": "نقطة البيع",
    "Payment methods (empty = all)": "طرق الدفع (فارغ = الكل)", "e.g. mada, card": "مثال: mada, card",
    "Coupon codes": "رموز القسائم", "Only these categories": "هذه الفئات فقط", "Only these SKUs": "هذه المنتجات فقط",
    "Not these categories": "ليس هذه الفئات", "Not these SKUs": "ليس هذه المنتجات",
    "Earlier orders needed": "الطلبات السابقة المطلوبة", "Only these tiers (empty = all)": "هذه الفئات فقط (فارغ = الكل)",
    "When": "متى", "First day": "اليوم الأول", "Last day": "اليوم الأخير", "Time zone": "المنطقة الزمنية",
    "Wallet": "المحفظة", "With other campaigns": "مع الحملات الأخرى", "adds up with others": "تُجمع مع غيرها",
    "exclusive: best one only": "حصرية: الأفضل فقط", "Priority among exclusive campaigns": "الأولوية بين الحملات الحصرية",
    "Days until available (return window)": "أيام حتى الإتاحة (فترة الإرجاع)",
    "Expires after days (0 = never)": "تنتهي بعد أيام (٠ = أبداً)", "Currency": "العملة", "Save": "حفظ",
    "Simulate last month": "محاكاة الشهر الماضي", "What would this have cost last month?": "كم كانت ستكلف الشهر الماضي؟",
    "Cashback": "الاسترداد", "Orders matched": "الطلبات المطابقة", "Sales (GMV)": "المبيعات",
    "Cashback / sales": "الاسترداد / المبيعات", "Fill in the reward; the figures update as you type.":
        "أدخل المكافأة؛ تتحدث الأرقام أثناء الكتابة.", "Customer id": "معرّف العميل", "Look up": "بحث",
    "Customer": "العميل", "Balance": "الرصيد", "Available": "المتاح", "Pending": "المعلّق", "Held": "المحجوز",
    "Debt": "الدين", "Next expiry": "الانتهاء التالي", "Profile": "الملف", "Tier (segment)": "الفئة (الشريحة)",
    "set by hand": "يدوياً", "Orders": "الطلبات", "Spend": "الإنفاق", "days": "يوم", "Phone": "الهاتف",
    "Email": "البريد", "Language": "اللغة", "Messages": "الرسائل", "SMS": "رسائل نصية", "email": "البريد", "sms": "رسالة نصية",
    "on": "مفعّل", "off": "متوقف", "Contact": "التواصل", "none": "لا شيء", "Adjust balance": "تعديل الرصيد",
    "Amount (negative to take back)": "المبلغ (سالب للخصم)", "Reason (kept in the ledger)": "السبب (يُحفظ في السجل)",
    "Adjust": "تعديل", "Open holds": "الحجوزات المفتوحة", "Order": "الطلب", "Amount": "المبلغ", "Hold": "الحجز",
    "History": "السجل", "Type": "النوع", "Reason": "السبب", "No transactions yet.": "لا توجد معاملات بعد.",
    "Channel": "القناة", "Text": "النص", "Schedule (cron)": "الجدولة (cron)", "Minimum available": "أدنى رصيد متاح",
    "Inactive days": "أيام بلا شراء", "Next run": "التشغيل التالي", "Switch off": "إيقاف", "Switch on": "تشغيل",
    "Run now": "تشغيل الآن", "No reminders yet.": "لا توجد تذكيرات بعد.", "New reminder": "تذكير جديد",
    "e.g. 0 10 * * 6 = Saturdays 10:00": "مثال: 0 10 * * 6 = السبت الساعة ١٠", "Channels": "القنوات", "Create": "إنشاء",
    "Promotions: the services offer no promotions call yet.": "العروض: لا توفر الخدمات ذلك بعد.", "Message": "الرسالة",
    "credited": "إضافة الاسترداد", "available": "إتاحة الرصيد", "reminder": "تذكير", "expiry_warning": "تنبيه الانتهاء",
    "Customer (real amounts; optional)": "العميل (مبالغ حقيقية؛ اختياري)", "Subject (email)": "الموضوع (البريد)",
    "Text (empty = the built-in one)": "النص (فارغ = النص الافتراضي)", "Preview": "معاينة", "SMS segments": "أجزاء الرسالة",
    "characters": "حرفاً", "Tiers": "الفئات", "Customers move up by what they spent in the window. One tier a line: "
    "name = minimum spend.": "يرتقي العملاء بإنفاقهم خلال الفترة. فئة في كل سطر: الاسم = أدنى إنفاق.",
    "e.g. silver = 1,000": "مثال: silver = 1,000", "Window (days)": "الفترة (أيام)", "Notifications": "الإشعارات",
    "Warn days before expiry": "التنبيه قبل الانتهاء بأيام", "e.g. 7, 1": "مثال: 7, 1", "Quiet hours from": "ساعات الهدوء من",
    "Quiet hours to": "ساعات الهدوء إلى", "Message when credited": "رسالة عند الإضافة",
    "Message when available": "رسالة عند الإتاحة", "Program report": "تقرير البرنامج", "From": "من",
    "To (included)": "إلى (شاملاً)", "Show": "عرض", "Saved.": "تم الحفظ.", "Campaign saved.": "تم حفظ الحملة.",
    "Balance adjusted.": "تم تعديل الرصيد.", "Reminder created.": "تم إنشاء التذكير.", "Unknown API key.": "مفتاح API غير معروف.",
    "This key may not run the console (it is not an ops key).": "هذا المفتاح لا يصلح للوحة (ليس مفتاح عمليات).",
    "This key may not act for merchant {merchant}.": "هذا المفتاح لا يملك صلاحية المتجر {merchant}.",
    "Too many sign-in attempts; try again in {seconds} seconds.": "محاولات دخول كثيرة؛ حاول بعد {seconds} ثانية.",
    "The form expired; please try again.": "انتهت صلاحية النموذج؛ حاول مرة أخرى.",
    "The services are not reachable right now.": "الخدمات غير متاحة حالياً.", "{amount} per order": "{amount} لكل طلب",
    "always": "دائماً", "from {first}": "من {first}", "until {last}": "حتى {last}", "{first} to {last}": "{first} إلى {last}",
    "Reminder run: {n} customers, {m} new messages.": "تم التشغيل: {n} عميل، {m} رسالة جديدة.", "award": "مكافأة",
    "mature": "أصبح متاحاً", "hold": "حجز", "capture": "خصم", "release": "فك الحجز", "refund": "استرجاع",
    "reversal": "عكس", "expiry": "انتهاء", "adjustment": "تعديل يدوي", "scheduled": "مجدولة", "sending": "قيد الإرسال",
    "sent": "أُرسلت", "failed": "فشلت", "suppressed": "لم تُرسل", "dead": "متروكة",
    "last month, {first} to {last}": "الشهر الماضي، {first} إلى {last}", "required": "مطلوب",
    "write a whole number": "اكتب عدداً صحيحاً", "write name=percent, e.g. gold=12": "اكتب الاسم=النسبة، مثال: gold=12",
    "write sku:CODE=percent or category:ID=percent": "اكتب sku:الرمز=النسبة أو category:المعرّف=النسبة",
    "write a percent such as 10 or 2.5": "اكتب نسبة مثل ١٠ أو ٢٫٥",
    "Your key is no longer accepted; sign in again.": "لم يعد مفتاحك مقبولاً؛ سجّل الدخول مجدداً.",
}

FA |= segment_words.FA
AR |= segment_words.AR
TABLES = {"fa": FA, "ar": AR}


def translate(text: str, lang: str, **values: object) -> str:
    out = TABLES.get(language(lang), {}).get(text, text)
    return out.format(**values) if values else out


def negotiate(accept_language: str) -> str:
    """The first of en, fa, ar the browser asks for (Accept-Language order), else en."""
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower().split("-")[0]
        if code in LANGUAGES:
            return code
    return "en"

# The promotions page (issue 16): its words (the segments' names are i18n_segments').
FA.update({
    "Promotions": "پیشنهادهای ویژه", "Audience": "مخاطبان", "Send at": "زمان ارسال", "Matched": "مشمول",
    "Sent": "ارسال‌شده", "Not sent": "ارسال‌نشده", "Failed": "ناموفق", "Waiting": "در انتظار", "Cancel": "لغو",
    "every customer": "همهٔ مشتریان", "no order in {days} days": "بدون خرید در {days} روز اخیر",
    "Cancel this promotion? What has not gone out yet will not be sent.":
        "این پیشنهاد لغو شود؟ پیام‌هایی که هنوز نرفته‌اند فرستاده نمی‌شوند.",
    "No promotions yet.": "هنوز پیشنهادی نیست.", "New promotion": "پیشنهاد تازه",
    "Segments (none = every customer)": "بخش‌های مشتریان (هیچ = همهٔ مشتریان)",
    "Tiers (comma-separated; empty = all)": "سطح‌ها (با ویرگول جدا کنید؛ خالی = همه)",
    "Minimum available (empty = any, customers without a wallet included)":
        "حداقل اعتبار قابل استفاده (خالی = هر مقدار، حتی مشتریانی که کیف پول ندارند)",
    "No order in this many days (0 = any)": "بدون خرید در این چند روز (۰ = مهم نیست)",
    "Send at (empty = now)": "زمان ارسال (خالی = همین حالا)", "SMS text": "متن پیامک", "Email subject": "موضوع ایمیل",
    "Email text": "متن ایمیل",
    "Texts are templates: {{ shop }} is the shop's name, {{ balance }} the customer's credit (with a minimum). A Persian SMS to an Iranian number ends with «لغو۱۱», counted below.":
        "متن‌ها قالب‌اند: {{ shop }} نام فروشگاه است و {{ balance }} اعتبار مشتری (وقتی حداقل اعتبار تعیین شده باشد). پیامک فارسی به شمارهٔ ایرانی با «لغو۱۱» تمام می‌شود و در شمارش زیر حساب شده است.",
    "Promotion created.": "پیشنهاد ساخته شد.", "Promotion cancelled.": "پیشنهاد لغو شد.",
    "pick a date and time": "تاریخ و ساعت را انتخاب کنید", "cancelled": "لغوشده",
})
AR.update({
    "Promotions": "العروض الترويجية", "Audience": "الجمهور", "Send at": "وقت الإرسال", "Matched": "المشمولون",
    "Sent": "أُرسلت", "Not sent": "لم تُرسل", "Failed": "فشلت", "Waiting": "بالانتظار", "Cancel": "إلغاء",
    "every customer": "جميع العملاء", "no order in {days} days": "بلا طلب منذ {days} يوماً",
    "Cancel this promotion? What has not gone out yet will not be sent.":
        "إلغاء هذا العرض؟ لن تُرسل الرسائل التي لم تخرج بعد.",
    "No promotions yet.": "لا توجد عروض بعد.", "New promotion": "عرض جديد",
    "Segments (none = every customer)": "الشرائح (بلا اختيار = جميع العملاء)",
    "Tiers (comma-separated; empty = all)": "الفئات (مفصولة بفواصل؛ فارغ = الكل)",
    "Minimum available (empty = any, customers without a wallet included)":
        "أدنى رصيد متاح (فارغ = أي رصيد، ويشمل العملاء الذين لا محفظة لهم)",
    "No order in this many days (0 = any)": "بلا طلب منذ هذا العدد من الأيام (٠ = أي وقت)",
    "Send at (empty = now)": "وقت الإرسال (فارغ = الآن)", "SMS text": "نص الرسالة النصية", "Email subject": "عنوان البريد",
    "Email text": "نص البريد",
    "Texts are templates: {{ shop }} is the shop's name, {{ balance }} the customer's credit (with a minimum). A Persian SMS to an Iranian number ends with «لغو۱۱», counted below.":
        "النصوص قوالب: {{ shop }} اسم المتجر و{{ balance }} رصيد العميل (عند تحديد حد أدنى). الرسالة الفارسية إلى رقم إيراني تنتهي بـ«لغو۱۱» وهي محسوبة في العدّ أدناه.",
    "Promotion created.": "تم إنشاء العرض.", "Promotion cancelled.": "تم إلغاء العرض.",
    "pick a date and time": "اختر التاريخ والوقت", "cancelled": "ملغى",
})
