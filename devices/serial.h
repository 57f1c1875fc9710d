/*
 * 16550A UART (COM1) as Linux's 8250 driver expects it: THR/RBR, IER, IIR/FCR, LCR with
 * the divisor latch, MCR (incl. loopback), LSR, MSR, scratch; a 16-byte-ish receive FIFO.
 *
 * The interrupt is edge-style: serial_* calls irq(irq_opaque) (an eventfd bound to GSI 4
 * with KVM_IRQFD in nook) whenever a new interrupt condition arises.
 */
#ifndef NOOK_DEVICES_SERIAL_H
#define NOOK_DEVICES_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/bus.h"

#define SERIAL_PORT_LEN	8
#define SERIAL_RX_SIZE	64

struct serial {
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
	uint8_t dll, dlm;
	bool thri_pending;	/* THR empty interrupt not yet acknowledged by an IIR read */
	uint8_t rx[SERIAL_RX_SIZE];
	unsigned rx_head, rx_count;
	/* Output sink (console) and interrupt trigger; either may be NULL. */
	void (*out)(void *opaque, const uint8_t *buf, size_t len);
	void *out_opaque;
	void (*irq)(void *opaque);
	void *irq_opaque;
	unsigned long irqs;	/* interrupts raised (tests, debugging) */
};

extern const struct bus_ops serial_ops;

void serial_init(struct serial *s);
void serial_destroy(struct serial *s);
/* Feeds host input to the guest; returns bytes accepted (the FIFO may be full). */
size_t serial_input(struct serial *s, const uint8_t *buf, size_t len);

/* Register offsets. */
enum {
	SERIAL_RBR_THR = 0, SERIAL_IER = 1, SERIAL_IIR_FCR = 2, SERIAL_LCR = 3,
	SERIAL_MCR = 4, SERIAL_LSR = 5, SERIAL_MSR = 6, SERIAL_SCR = 7,
};

#endif
