/*
 * Minimal i8042 keyboard controller: enough status and command handling for Linux to
 * probe it quietly, and the CPU reset command (0xfe on port 0x64) that `reboot=k` uses,
 * which calls reset(opaque). No keyboard is attached.
 */
#ifndef NOOK_DEVICES_I8042_H
#define NOOK_DEVICES_I8042_H

#include <pthread.h>
#include <stdint.h>

#include "vmm/bus.h"

#define I8042_OUTQ 8

struct i8042 {
	pthread_mutex_t lock;
	uint8_t ctr;		/* controller configuration ("command byte") */
	uint8_t cmd;		/* command awaiting a data byte on port 0x60, or 0 */
	uint8_t outp;		/* output port */
	uint8_t outq[I8042_OUTQ];
	unsigned outq_head, outq_count;
	void (*reset)(void *opaque);
	void *reset_opaque;
};

/* The controller spans two ports 4 apart; register one window per port. */
extern const struct bus_ops i8042_data_ops;	/* port 0x60 */
extern const struct bus_ops i8042_cmd_ops;	/* port 0x64 */

void i8042_init(struct i8042 *k, void (*reset)(void *), void *opaque);
void i8042_destroy(struct i8042 *k);

#define I8042_CMD_READ_CTR	0x20
#define I8042_CMD_WRITE_CTR	0x60
#define I8042_CMD_AUX_DISABLE	0xa7
#define I8042_CMD_AUX_ENABLE	0xa8
#define I8042_CMD_AUX_TEST	0xa9
#define I8042_CMD_SELF_TEST	0xaa
#define I8042_CMD_KBD_TEST	0xab
#define I8042_CMD_KBD_DISABLE	0xad
#define I8042_CMD_KBD_ENABLE	0xae
#define I8042_CMD_READ_OUTP	0xd0
#define I8042_CMD_WRITE_OUTP	0xd1
#define I8042_CMD_RESET_CPU	0xfe
#define I8042_STATUS_OBF	0x01
#define I8042_STATUS_SYS	0x04
#define I8042_STATUS_CMD	0x08

#endif
