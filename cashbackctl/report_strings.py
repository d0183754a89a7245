"""The program report's words in English, Persian and Arabic."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Cashback program report", "period": "{first} to {last} (both days included)",
        "customers_earned": "customers who earned", "customers_redeemed": "customers who redeemed",
        "earned_total": "cashback earned", "redeemed_total": "cashback redeemed",
        "expired_total": "expired (breakage)", "liability_total": "outstanding liability",
        "avg_days": "average days to first redemption", "repeat_share": "earners who bought again",
        "earned": "earned", "redeemed": "redeemed", "expired": "expired",
        "flows_title": "Cashback earned, redeemed and expired per day",
        "liability_title": "Outstanding liability (end of day)",
        "delay_title": "Redemption delay (customers)", "delay_axis": "days from first earning to first redemption",
        "repeat_title": "Who bought again (%)", "earners": "earned cashback", "non_earners": "did not earn",
        "campaigns_title": "Top campaigns by cost (cost / GMV)", "campaign": "campaign", "orders": "orders",
        "cost": "cost", "gmv": "GMV", "cost_gmv": "cost / GMV",
    },
    "fa": {
        "title": "گزارش برنامهٔ کش‌بک", "period": "از {first} تا {last} (هر دو روز شامل)",
        "customers_earned": "مشتریانی که کش‌بک گرفتند", "customers_redeemed": "مشتریانی که کش‌بک خرج کردند",
        "earned_total": "کش‌بک داده‌شده", "redeemed_total": "کش‌بک خرج‌شده",
        "expired_total": "منقضی‌شده", "liability_total": "بدهی باز",
        "avg_days": "میانگین روز تا اولین استفاده", "repeat_share": "گیرندگانی که دوباره خریدند",
        "earned": "داده‌شده", "redeemed": "خرج‌شده", "expired": "منقضی‌شده",
        "flows_title": "کش‌بک داده‌شده، خرج‌شده و منقضی‌شده در هر روز",
        "liability_title": "بدهی باز (پایان روز)",
        "delay_title": "فاصلهٔ تا استفاده (مشتری)", "delay_axis": "روز از اولین کش‌بک تا اولین استفاده",
        "repeat_title": "خرید دوباره (٪)", "earners": "کش‌بک گرفتند", "non_earners": "نگرفتند",
        "campaigns_title": "پرهزینه‌ترین کمپین‌ها (هزینه به فروش)", "campaign": "کمپین", "orders": "سفارش",
        "cost": "هزینه", "gmv": "فروش", "cost_gmv": "هزینه / فروش",
    },
    "ar": {
        "title": "تقرير برنامج الاسترداد النقدي", "period": "من {first} إلى {last} (شاملاً اليومين)",
        "customers_earned": "العملاء الذين كسبوا", "customers_redeemed": "العملاء الذين استخدموا الرصيد",
        "earned_total": "الاسترداد المكتسب", "redeemed_total": "الاسترداد المستخدم",
        "expired_total": "المنتهي صلاحيته", "liability_total": "الالتزام القائم",
        "avg_days": "متوسط الأيام حتى أول استخدام", "repeat_share": "الكاسبون الذين اشتروا مجدداً",
        "earned": "المكتسب", "redeemed": "المستخدم", "expired": "المنتهي",
        "flows_title": "الاسترداد المكتسب والمستخدم والمنتهي يومياً",
        "liability_title": "الالتزام القائم (نهاية اليوم)",
        "delay_title": "مدة الاستخدام (عملاء)", "delay_axis": "الأيام من أول كسب حتى أول استخدام",
        "repeat_title": "من اشترى مجدداً (٪)", "earners": "كسبوا", "non_earners": "لم يكسبوا",
        "campaigns_title": "أعلى الحملات تكلفة (التكلفة / المبيعات)", "campaign": "الحملة", "orders": "الطلبات",
        "cost": "التكلفة", "gmv": "المبيعات", "cost_gmv": "التكلفة / المبيعات",
    },
}
