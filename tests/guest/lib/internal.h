/* Declarations shared inside the guest library only. */
#ifndef GUEST_INTERNAL_H
#define GUEST_INTERNAL_H

#include "guest.h"

#define MB_BOOT_MAGIC 0x2BADB002

extern u32 mb_magic, mb_info_addr;
extern char kstacks[];
extern char __bss_start[], __bss_end[], _end[];

__attribute__((format(printf, 1, 2))) void console_fatal(const char *fmt, ...);
void mb_parse(u32 info_addr);
void user_service(struct irq_frame *f);
void *cpu_rsp0_slot(unsigned index);
__attribute__((noreturn)) void halt_forever(void);

#endif
