/* The MC146818A's time: calendar arithmetic, BCD/binary and 12/24-hour
 * register formats, the divider and update cycle, alarms and the periodic
 * and update flags, all computed from the guest clock over the plain
 * state (no locks, no timers: src/dev/rtc.c holds those). */
#include "dev/rtc_clock.h"

/* --- arithmetic --- */

static int64_t rtc_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (the usual era
 * arithmetic: 400-year eras of 146097 days, years starting in March). */
static int64_t rtc_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = rtc_floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void rtc_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = rtc_floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* 32.768 kHz divider ticks in d >= 0 nanoseconds, and back (rounded up). */
static int64_t rtc_ns_to_ticks(int64_t d)
{
	return d / NS_PER_SEC * RTC_TICK_HZ +
	       d % NS_PER_SEC * RTC_TICK_HZ / NS_PER_SEC;
}

int64_t rtc_ticks_to_ns(int64_t t)
{
	return t / RTC_TICK_HZ * NS_PER_SEC +
	       (t % RTC_TICK_HZ * NS_PER_SEC + RTC_TICK_HZ - 1) / RTC_TICK_HZ;
}

/* --- register formats --- */

static bool rtc_binary(const struct rtc_state *s)
{
	return s->cmos[RTC_REG_B] & RTC_B_DM_BINARY;
}

static unsigned rtc_from_reg(const struct rtc_state *s, uint8_t v)
{
	return rtc_binary(s) ? v : (unsigned)(v >> 4) * 10 + (v & 0x0f);
}

static uint8_t rtc_to_reg(const struct rtc_state *s, unsigned v)
{
	v %= 100;
	return rtc_binary(s) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | v % 10);
}

static unsigned rtc_hour_from_reg(const struct rtc_state *s, uint8_t v)
{
	if (s->cmos[RTC_REG_B] & RTC_B_24H)
		return rtc_from_reg(s, v);
	/* 12-hour mode: 1-12 with bit 7 for PM; 12 AM is midnight. */
	return rtc_from_reg(s, v & 0x7f) % 12 + ((v & 0x80) ? 12 : 0);
}

static uint8_t rtc_hour_to_reg(const struct rtc_state *s, unsigned h)
{
	if (s->cmos[RTC_REG_B] & RTC_B_24H)
		return rtc_to_reg(s, h);
	return rtc_to_reg(s, h % 12 ? h % 12 : 12) | (h >= 12 ? 0x80 : 0);
}

/* --- clock state --- */

bool rtc_dividing(const struct rtc_state *s)
{
	return ((s->cmos[RTC_REG_A] >> RTC_A_DV_SHIFT) & 7) == RTC_DV_32KHZ;
}

bool rtc_updating(const struct rtc_state *s)
{
	return rtc_dividing(s) && !(s->cmos[RTC_REG_B] & RTC_B_SET);
}

int64_t rtc_second_index(const struct rtc_state *s, int64_t now)
{
	return rtc_floor_div(now - s->div_base_ns, NS_PER_SEC);
}

int64_t rtc_seconds(const struct rtc_state *s, int64_t now)
{
	return s->sec_offset + rtc_second_index(s, now);
}

/* Register-select rates 1 and 2 repeat 8 and 9 with the 32.768 kHz time
 * base (table 5); 0 is off.  Returns log2 of the period in divider ticks. */
int rtc_period_shift(const struct rtc_state *s)
{
	unsigned rs = s->cmos[RTC_REG_A] & RTC_A_RS;

	if (rs == 0)
		return -1;
	if (rs <= 2)
		rs += 7;
	return (int)rs - 1;
}

int64_t rtc_period_index(const struct rtc_state *s, int64_t now,
				int shift)
{
	int64_t d = now - s->div_base_ns;

	return d < 0 ? -1 : rtc_ns_to_ticks(d) >> shift;
}

void rtc_store_time(struct rtc_state *s, int64_t secs)
{
	int64_t days = rtc_floor_div(secs, 86400), sod = secs - days * 86400, y;
	unsigned m, d;

	rtc_civil_from_days(days, &y, &m, &d);
	if (y < 0)
		y = 0;
	s->cmos[RTC_SEC] = rtc_to_reg(s, (unsigned)(sod % 60));
	s->cmos[RTC_MIN] = rtc_to_reg(s, (unsigned)(sod / 60 % 60));
	s->cmos[RTC_HOUR] = rtc_hour_to_reg(s, (unsigned)(sod / 3600));
	/* 1 = Sunday; 1970-01-01 was a Thursday. */
	s->cmos[RTC_WDAY] =
	    rtc_to_reg(s, (unsigned)((days % 7 + 7 + 4) % 7 + 1));
	s->cmos[RTC_MDAY] = rtc_to_reg(s, d);
	s->cmos[RTC_MONTH] = rtc_to_reg(s, m);
	s->cmos[RTC_YEAR] = rtc_to_reg(s, (unsigned)(y % 100));
	s->cmos[RTC_CENTURY] = rtc_to_reg(s, (unsigned)(y / 100 % 100));
}

/* The time in the CMOS bytes.  Values out of range (the datasheet leaves
 * their effect undefined) are clamped so the date arithmetic stays sane. */
int64_t rtc_load_time(const struct rtc_state *s)
{
	unsigned sec = rtc_from_reg(s, s->cmos[RTC_SEC]) % 60;
	unsigned min = rtc_from_reg(s, s->cmos[RTC_MIN]) % 60;
	unsigned hour = rtc_hour_from_reg(s, s->cmos[RTC_HOUR]) % 24;
	unsigned mday = rtc_from_reg(s, s->cmos[RTC_MDAY]);
	unsigned mon = rtc_from_reg(s, s->cmos[RTC_MONTH]);
	int64_t year =
	    (int64_t)(rtc_from_reg(s, s->cmos[RTC_CENTURY]) % 100) * 100 +
	    rtc_from_reg(s, s->cmos[RTC_YEAR]) % 100;

	if (mon < 1 || mon > 12)
		mon = 1;
	if (mday < 1 || mday > 31)
		mday = 1;
	return rtc_days_from_civil(year, mon, mday) * 86400 + hour * 3600 +
	       min * 60 + sec;
}

static int rtc_alarm_value(const struct rtc_state *s, unsigned reg)
{
	uint8_t v = s->cmos[reg];

	/* 11xxxxxx: "don't care", matches every value. */
	if ((v & 0xc0) == 0xc0)
		return -1;
	return (int)(reg == RTC_HOUR_ALARM ? rtc_hour_from_reg(s, v)
					   : rtc_from_reg(s, v));
}

/* The first RTC second after `after` whose time of day matches the alarm,
 * or INT64_MAX if none can (an alarm value out of range never matches). */
int64_t rtc_next_alarm(const struct rtc_state *s, int64_t after)
{
	int as = rtc_alarm_value(s, RTC_SEC_ALARM),
	    am = rtc_alarm_value(s, RTC_MIN_ALARM);
	int ah = rtc_alarm_value(s, RTC_HOUR_ALARM);
	int64_t t = after + 1, end = after + 2 * 86400 + 1;

	if (as > 59 || am > 59 || ah > 23)
		return INT64_MAX;
	while (t <= end) {
		int64_t sod = t - rtc_floor_div(t, 86400) * 86400;
		int h = (int)(sod / 3600), mi = (int)(sod / 60 % 60),
		    se = (int)(sod % 60);

		if (ah >= 0 && h != ah)
			t += 3600 - sod % 3600;
		else if (am >= 0 && mi != am)
			t += 60 - se;
		else if (as >= 0 && se != as)
			t += (as - se + 60) % 60;
		else
			return t;
	}
	return INT64_MAX;
}

/* Sets PF, UF and AF for everything that happened in (checked, now]. */
void rtc_account(struct rtc_state *s, int64_t now)
{
	int64_t from = s->flags_checked_ns;
	int shift = rtc_period_shift(s);

	if (now <= from)
		return;
	if (from < s->div_base_ns)
		from = s->div_base_ns;
	if (rtc_dividing(s) && shift >= 0 &&
	    rtc_period_index(s, now, shift) > rtc_period_index(s, from, shift))
		s->cmos[RTC_REG_C] |= RTC_C_PF;
	if (rtc_updating(s)) {
		int64_t first = rtc_seconds(s, from),
			last = rtc_seconds(s, now);

		if (last > first) {
			s->cmos[RTC_REG_C] |= RTC_C_UF;
			if (rtc_next_alarm(s, first) <= last)
				s->cmos[RTC_REG_C] |= RTC_C_AF;
		}
	}
	s->flags_checked_ns = now;
}

uint8_t rtc_irq_flags(const struct rtc_state *s)
{
	uint8_t b = s->cmos[RTC_REG_B], c = s->cmos[RTC_REG_C];

	return (c & RTC_C_PF && b & RTC_B_PIE) ||
	       (c & RTC_C_AF && b & RTC_B_AIE) ||
	       (c & RTC_C_UF && b & RTC_B_UIE);
}
