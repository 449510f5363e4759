/* The MC146818A's clock model, shared by src/dev/rtc.c (registers, the
 * device) and src/dev/rtc_clock.c (calendar arithmetic, register formats
 * and time accounting over the plain state).  Private to those files. */
#ifndef HYVE_DEV_RTC_CLOCK_H
#define HYVE_DEV_RTC_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define RTC_PORT 0x70
#define RTC_IRQ	 8

#define RTC_SEC	       0x00
#define RTC_SEC_ALARM  0x01
#define RTC_MIN	       0x02
#define RTC_MIN_ALARM  0x03
#define RTC_HOUR       0x04
#define RTC_HOUR_ALARM 0x05
#define RTC_WDAY       0x06
#define RTC_MDAY       0x07
#define RTC_MONTH      0x08
#define RTC_YEAR       0x09
#define RTC_REG_A      0x0a
#define RTC_REG_B      0x0b
#define RTC_REG_C      0x0c
#define RTC_REG_D      0x0d
#define RTC_CENTURY    0x32 /* IBM PC convention; the FADT's CENTURY field */

#define RTC_A_UIP	0x80
#define RTC_A_DV_SHIFT	4
#define RTC_A_RS	0x0f
#define RTC_DV_32KHZ	2 /* DV2-0 = 010: 32.768 kHz time base running */
#define RTC_B_SET	0x80
#define RTC_B_PIE	0x40
#define RTC_B_AIE	0x20
#define RTC_B_UIE	0x10
#define RTC_B_DM_BINARY 0x04
#define RTC_B_24H	0x02
#define RTC_C_IRQF	0x80
#define RTC_C_PF	0x40
#define RTC_C_AF	0x20
#define RTC_C_UF	0x10
#define RTC_D_VRT	0x80

#define NS_PER_SEC  1000000000LL
#define RTC_UIP_NS  244000LL /* UIP rises 244 us before an update */
#define RTC_TICK_HZ 32768LL

struct rtc_state {
	uint8_t cmos[128];   /* A-D, alarms, RAM; time bytes while stopped */
	uint8_t index;	     /* bits 6:0 of the last write to port 0x70 */
	bool nmi_disabled;   /* bit 7 of that write */
	int64_t div_base_ns; /* guest clock at a divider second boundary */
	int64_t sec_offset;  /* RTC seconds at div_base_ns */
	int64_t flags_checked_ns; /* PF/UF/AF accounted up to here */
};

int64_t rtc_ticks_to_ns(int64_t t);
bool rtc_dividing(const struct rtc_state *s);
bool rtc_updating(const struct rtc_state *s);
int64_t rtc_second_index(const struct rtc_state *s, int64_t now);
int64_t rtc_seconds(const struct rtc_state *s, int64_t now);
int rtc_period_shift(const struct rtc_state *s);
int64_t rtc_period_index(const struct rtc_state *s, int64_t now,
				int shift);
void rtc_store_time(struct rtc_state *s, int64_t secs);
int64_t rtc_load_time(const struct rtc_state *s);
int64_t rtc_next_alarm(const struct rtc_state *s, int64_t after);
void rtc_account(struct rtc_state *s, int64_t now);
uint8_t rtc_irq_flags(const struct rtc_state *s);

#endif
