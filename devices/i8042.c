#include "devices/i8042.h"

#include <string.h>

void i8042_init(struct i8042 *k, void (*reset)(void *), void *opaque)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	/* Keyboard interrupt on, system flag set, translation on; no aux port. */
	k->ctr = 0x45 | 0x20;
	k->outp = 0x01;	/* bit 0 = not in reset */
	k->reset = reset;
	k->reset_opaque = opaque;
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

static void i8042_push(struct i8042 *k, uint8_t v)
{
	if (k->outq_count >= I8042_OUTQ)
		return;
	k->outq[(k->outq_head + k->outq_count) % I8042_OUTQ] = v;
	k->outq_count++;
}

static void i8042_data_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct i8042 *k = opaque;
	uint8_t v = 0;

	memset(data, 0, len);
	pthread_mutex_lock(&k->lock);
	if (k->outq_count) {
		v = k->outq[k->outq_head];
		k->outq_head = (k->outq_head + 1) % I8042_OUTQ;
		k->outq_count--;
	}
	pthread_mutex_unlock(&k->lock);
	*(uint8_t *)data = v;
}

static void i8042_data_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct i8042 *k = opaque;
	uint8_t v = *(const uint8_t *)data;

	pthread_mutex_lock(&k->lock);
	switch (k->cmd) {
	case I8042_CMD_WRITE_CTR:
		k->ctr = v;
		break;
	case I8042_CMD_WRITE_OUTP:
		k->outp = v;
		break;
	default:
		/* A byte for the (absent) keyboard: nothing answers, like an empty port. */
		break;
	}
	k->cmd = 0;
	pthread_mutex_unlock(&k->lock);
}

static void i8042_cmd_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct i8042 *k = opaque;
	uint8_t v;

	memset(data, 0, len);
	pthread_mutex_lock(&k->lock);
	v = I8042_STATUS_SYS | (k->outq_count ? I8042_STATUS_OBF : 0) |
	    (k->cmd ? I8042_STATUS_CMD : 0);
	pthread_mutex_unlock(&k->lock);
	*(uint8_t *)data = v;
}

static void i8042_cmd_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct i8042 *k = opaque;
	uint8_t v = *(const uint8_t *)data;
	bool reset = false;

	pthread_mutex_lock(&k->lock);
	k->cmd = 0;
	switch (v) {
	case I8042_CMD_READ_CTR:
		i8042_push(k, k->ctr);
		break;
	case I8042_CMD_WRITE_CTR:
	case I8042_CMD_WRITE_OUTP:
		k->cmd = v;
		break;
	case I8042_CMD_READ_OUTP:
		i8042_push(k, k->outp);
		break;
	case I8042_CMD_SELF_TEST:
		i8042_push(k, 0x55);
		break;
	case I8042_CMD_KBD_TEST:
		i8042_push(k, 0x00);
		break;
	case I8042_CMD_AUX_TEST:
		/* 0xff: no auxiliary device wired. */
		i8042_push(k, 0xff);
		break;
	case I8042_CMD_RESET_CPU:
		reset = true;
		break;
	default:
		/* Enable/disable commands and the rest take no reply. */
		break;
	}
	pthread_mutex_unlock(&k->lock);
	if (reset && k->reset)
		k->reset(k->reset_opaque);
}

const struct bus_ops i8042_data_ops = { .read = i8042_data_read, .write = i8042_data_write };
const struct bus_ops i8042_cmd_ops = { .read = i8042_cmd_read, .write = i8042_cmd_write };
