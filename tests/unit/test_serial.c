/* 8250/16550A UART registers (devices/serial.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/serial.h"

static struct serial s;
static uint8_t outbuf[256];
static size_t outlen;

static void out(void *opaque, const uint8_t *buf, size_t len)
{
	memcpy(outbuf + outlen, buf, len);
	outlen += len;
}

static void setup(void)
{
	memset(&s, 0, sizeof(s));
	s.out = out;
	outlen = 0;
	serial_init(&s);
}

static void teardown(void)
{
	serial_destroy(&s);
}

static uint8_t rd(unsigned off)
{
	uint8_t v;

	serial_ops.read(&s, off, &v, 1);
	return v;
}

static void wr(unsigned off, uint8_t v)
{
	serial_ops.write(&s, off, &v, 1);
}

TestSuite(serial, .init = setup, .fini = teardown);

Test(serial, thr_transmits)
{
	wr(SERIAL_RBR_THR, 'h');
	wr(SERIAL_RBR_THR, 'i');
	cr_assert_eq(outlen, 2);
	cr_assert_eq(memcmp(outbuf, "hi", 2), 0);
	cr_assert_eq(rd(SERIAL_LSR) & 0x60, 0x60, "THRE and TEMT always set");
}

Test(serial, rbr_receives_and_lsr_dr)
{
	cr_assert_eq(rd(SERIAL_LSR) & 1, 0);
	cr_assert_eq(serial_input(&s, (const uint8_t *)"ab", 2), 2);
	cr_assert_eq(rd(SERIAL_LSR) & 1, 1);
	cr_assert_eq(rd(SERIAL_RBR_THR), 'a');
	cr_assert_eq(rd(SERIAL_RBR_THR), 'b');
	cr_assert_eq(rd(SERIAL_LSR) & 1, 0);
	cr_assert_eq(rd(SERIAL_RBR_THR), 0, "empty FIFO reads 0");
}

Test(serial, rx_fifo_bounded)
{
	uint8_t big[SERIAL_RX_SIZE * 2];

	memset(big, 'x', sizeof(big));
	cr_assert_eq(serial_input(&s, big, sizeof(big)), SERIAL_RX_SIZE);
}

Test(serial, ier_and_iir)
{
	cr_assert_eq(rd(SERIAL_IIR_FCR) & 0x0f, 0x01, "no interrupt pending");
	wr(SERIAL_IER, 0x02);	/* THRI */
	cr_assert_eq(s.irqs, 1, "enabling THRI with empty THR interrupts");
	cr_assert_eq(rd(SERIAL_IIR_FCR) & 0x0f, 0x02);
	cr_assert_eq(rd(SERIAL_IIR_FCR) & 0x0f, 0x01, "IIR read acknowledged THRE");
	wr(SERIAL_RBR_THR, 'x');
	cr_assert_eq(s.irqs, 2);
	wr(SERIAL_IER, 0x03);
	serial_input(&s, (const uint8_t *)"k", 1);
	cr_assert_eq(s.irqs, 3);
	cr_assert_eq(rd(SERIAL_IIR_FCR) & 0x0f, 0x04, "receive data outranks THRE");
	rd(SERIAL_RBR_THR);
	cr_assert_eq(rd(SERIAL_IER), 0x03);
	wr(SERIAL_IER, 0xff);
	cr_assert_eq(rd(SERIAL_IER), 0x0f, "upper IER bits are reserved");
}

Test(serial, rdi_disabled_no_irq)
{
	serial_input(&s, (const uint8_t *)"k", 1);
	cr_assert_eq(s.irqs, 0);
	cr_assert_eq(rd(SERIAL_IIR_FCR) & 0x0f, 0x01);
}

Test(serial, fifo_bits_in_iir)
{
	wr(SERIAL_IIR_FCR, 0x01);
	cr_assert_eq(rd(SERIAL_IIR_FCR) & 0xc0, 0xc0, "16550A FIFO enabled");
	serial_input(&s, (const uint8_t *)"zz", 2);
	wr(SERIAL_IIR_FCR, 0x03);	/* clear RX */
	cr_assert_eq(rd(SERIAL_LSR) & 1, 0);
	wr(SERIAL_IIR_FCR, 0x00);
	cr_assert_eq(rd(SERIAL_IIR_FCR) & 0xc0, 0);
}

Test(serial, lcr_dlab_divisor)
{
	wr(SERIAL_LCR, 0x83);
	cr_assert_eq(rd(SERIAL_LCR), 0x83);
	wr(SERIAL_RBR_THR, 0x01);
	wr(SERIAL_IER, 0x00);
	cr_assert_eq(rd(SERIAL_RBR_THR), 0x01, "DLL");
	cr_assert_eq(rd(SERIAL_IER), 0x00, "DLM");
	cr_assert_eq(outlen, 0, "divisor writes do not transmit");
	wr(SERIAL_LCR, 0x03);
	cr_assert_eq(rd(SERIAL_IER), 0x00, "IER unchanged by DLM write");
	wr(SERIAL_RBR_THR, 'q');
	cr_assert_eq(outlen, 1);
}

Test(serial, mcr_loopback)
{
	/* Linux's probe: loopback with OUT2|RTS -> MSR shows DCD|CTS. */
	wr(SERIAL_MCR, 0x10 | 0x0a);
	cr_assert_eq(rd(SERIAL_MCR), 0x1a);
	cr_assert_eq(rd(SERIAL_MSR) & 0xf0, 0x90);
	wr(SERIAL_MCR, 0x1f);
	cr_assert_eq(rd(SERIAL_MSR) & 0xf0, 0xf0);
	/* bytes loop back to the receiver, nothing leaves */
	wr(SERIAL_RBR_THR, 'L');
	cr_assert_eq(outlen, 0);
	cr_assert_eq(rd(SERIAL_LSR) & 1, 1);
	cr_assert_eq(rd(SERIAL_RBR_THR), 'L');
	cr_assert_eq(serial_input(&s, (const uint8_t *)"x", 1), 0, "line disconnected");
	wr(SERIAL_MCR, 0x08);
	cr_assert_eq(rd(SERIAL_MSR) & 0xf0, 0xb0, "DCD|DSR|CTS when not looping");
}

Test(serial, scratch)
{
	wr(SERIAL_SCR, 0xa5);
	cr_assert_eq(rd(SERIAL_SCR), 0xa5);
	wr(SERIAL_SCR, 0x5a);
	cr_assert_eq(rd(SERIAL_SCR), 0x5a);
}

Test(serial, lsr_msr_read_only)
{
	uint8_t lsr = rd(SERIAL_LSR);

	wr(SERIAL_LSR, 0x00);
	cr_assert_eq(rd(SERIAL_LSR), lsr);
}
