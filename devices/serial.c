#include "devices/serial.h"

#include <string.h>

#define IER_RDI		0x01	/* receive data available */
#define IER_THRI	0x02	/* transmitter holding register empty */
#define IER_MASK	0x0f
#define IIR_NO_INT	0x01
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_FIFO_BITS	0xc0	/* 16550A with FIFOs enabled */
#define FCR_ENABLE	0x01
#define FCR_CLEAR_RX	0x02
#define LCR_DLAB	0x80
#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define MCR_MASK	0x1f
#define LSR_DR		0x01
#define LSR_THRE	0x20
#define LSR_TEMT	0x40
#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_RI		0x40
#define MSR_DCD		0x80
#define MSR_DELTA_MASK	0x0f

void serial_init(struct serial *s)
{
	void (*out)(void *, const uint8_t *, size_t) = s->out;
	void *out_opaque = s->out_opaque;
	void (*irq)(void *) = s->irq;
	void *irq_opaque = s->irq_opaque;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->out = out;
	s->out_opaque = out_opaque;
	s->irq = irq;
	s->irq_opaque = irq_opaque;
	s->lsr = LSR_THRE | LSR_TEMT;
	s->msr = MSR_DCD | MSR_DSR | MSR_CTS;
	s->mcr = MCR_OUT2;
	s->dll = 0x0c;	/* 9600 baud */
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

static uint8_t serial_iir(const struct serial *s)
{
	uint8_t fifo = (s->fcr & FCR_ENABLE) ? IIR_FIFO_BITS : 0;

	if ((s->ier & IER_RDI) && s->rx_count)
		return IIR_RDI | fifo;
	if ((s->ier & IER_THRI) && s->thri_pending)
		return IIR_THRI | fifo;
	return IIR_NO_INT | fifo;
}

/* Raise an edge when a condition appears that was not pending before the access. */
static void serial_update_irq(struct serial *s, uint8_t old_iir, bool force)
{
	uint8_t iir = serial_iir(s);

	if (iir & IIR_NO_INT)
		return;
	if (!force && (iir & 0x0f) == (old_iir & 0x0f))
		return;
	s->irqs++;
	if (s->irq)
		s->irq(s->irq_opaque);
}

static void serial_rx_push(struct serial *s, uint8_t b)
{
	if (s->rx_count >= SERIAL_RX_SIZE)
		return;
	s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_SIZE] = b;
	s->rx_count++;
	s->lsr |= LSR_DR;
}

static uint8_t serial_rx_pop(struct serial *s)
{
	uint8_t b;

	if (!s->rx_count)
		return 0;
	b = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_RX_SIZE;
	if (--s->rx_count == 0)
		s->lsr &= ~LSR_DR;
	return b;
}

/* In loopback the modem outputs feed the modem status inputs. */
static uint8_t serial_msr(const struct serial *s)
{
	uint8_t v;

	if (!(s->mcr & MCR_LOOP))
		return s->msr;
	v = 0;
	if (s->mcr & MCR_RTS)
		v |= MSR_CTS;
	if (s->mcr & MCR_DTR)
		v |= MSR_DSR;
	if (s->mcr & MCR_OUT1)
		v |= MSR_RI;
	if (s->mcr & MCR_OUT2)
		v |= MSR_DCD;
	return v;
}

static void serial_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct serial *s = opaque;
	uint8_t old, v = 0;

	memset(data, 0, len);
	pthread_mutex_lock(&s->lock);
	old = serial_iir(s);
	switch (off) {
	case SERIAL_RBR_THR:
		v = (s->lcr & LCR_DLAB) ? s->dll : serial_rx_pop(s);
		break;
	case SERIAL_IER:
		v = (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
		break;
	case SERIAL_IIR_FCR:
		v = serial_iir(s);
		/* Reading IIR that reports THRE acknowledges it. */
		if ((v & 0x0f) == IIR_THRI)
			s->thri_pending = false;
		break;
	case SERIAL_LCR:
		v = s->lcr;
		break;
	case SERIAL_MCR:
		v = s->mcr;
		break;
	case SERIAL_LSR:
		v = s->lsr;
		break;
	case SERIAL_MSR:
		v = serial_msr(s);
		break;
	case SERIAL_SCR:
		v = s->scr;
		break;
	}
	serial_update_irq(s, old, false);
	pthread_mutex_unlock(&s->lock);
	*(uint8_t *)data = v;
}

static void serial_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct serial *s = opaque;
	uint8_t v = *(const uint8_t *)data;
	uint8_t old;
	bool force = false;

	pthread_mutex_lock(&s->lock);
	old = serial_iir(s);
	switch (off) {
	case SERIAL_RBR_THR:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			break;
		}
		if (s->mcr & MCR_LOOP) {
			serial_rx_push(s, v);
		} else if (s->out) {
			s->out(s->out_opaque, &v, 1);
		}
		/* The byte leaves at once: THR is empty again, which is a new interrupt. */
		s->thri_pending = true;
		force = true;
		break;
	case SERIAL_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			break;
		}
		/* Enabling THRI with an empty THR interrupts at once (Linux tests this). */
		if ((v & IER_THRI) && !(s->ier & IER_THRI)) {
			s->thri_pending = true;
			force = true;
		}
		s->ier = v & IER_MASK;
		break;
	case SERIAL_IIR_FCR:
		s->fcr = v & (FCR_ENABLE | 0xc0);
		if (v & FCR_CLEAR_RX) {
			s->rx_head = s->rx_count = 0;
			s->lsr &= ~LSR_DR;
		}
		break;
	case SERIAL_LCR:
		s->lcr = v;
		break;
	case SERIAL_MCR:
		s->mcr = v & MCR_MASK;
		break;
	case SERIAL_SCR:
		s->scr = v;
		break;
	default:
		/* LSR and MSR are read-only. */
		break;
	}
	serial_update_irq(s, old, force);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_input(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;
	uint8_t old;

	pthread_mutex_lock(&s->lock);
	old = serial_iir(s);
	/* In loopback the line is disconnected from the outside. */
	if (!(s->mcr & MCR_LOOP))
		for (; n < len && s->rx_count < SERIAL_RX_SIZE; n++)
			serial_rx_push(s, buf[n]);
	serial_update_irq(s, old, n > 0);
	pthread_mutex_unlock(&s->lock);
	return n;
}

const struct bus_ops serial_ops = {
	.read = serial_read,
	.write = serial_write,
};
