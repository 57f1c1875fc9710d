/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012), written from the paper's description:
 * a keyed 64-bit hash, so a guest that does not know the key cannot compute the slot
 * of a host file it was never shown. Little-endian loads, as the reference defines.
 */
#include "fs/vtab.h"

#include <string.h>

static uint64_t vtab_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t vtab_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* One SipRound on the four state words. */
static void vtab_sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = vtab_rotl(v[1], 13);
	v[1] ^= v[0];
	v[0] = vtab_rotl(v[0], 32);
	v[2] += v[3];
	v[3] = vtab_rotl(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = vtab_rotl(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = vtab_rotl(v[1], 17);
	v[1] ^= v[2];
	v[2] = vtab_rotl(v[2], 32);
}

uint64_t vtab_siphash24(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t k0 = vtab_le64(key), k1 = vtab_le64(key + 8), m;
	uint64_t v[4] = {
		k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
		k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull,
	};
	uint8_t last[8] = { 0 };
	size_t full = len & ~(size_t)7;

	for (size_t i = 0; i < full; i += 8) {
		m = vtab_le64(p + i);
		v[3] ^= m;
		vtab_sipround(v);
		vtab_sipround(v);
		v[0] ^= m;
	}
	/* The final block: the remaining bytes, the length's low byte on top. */
	memcpy(last, p + full, len - full);
	last[7] = (uint8_t)len;
	m = vtab_le64(last);
	v[3] ^= m;
	vtab_sipround(v);
	vtab_sipround(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		vtab_sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}
