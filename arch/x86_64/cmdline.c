#include "arch/x86_64/cmdline.h"

#include <string.h>

#include "arch/x86_64/pvm.h"

static int cmdline_add(char *out, size_t max, size_t *pos, const char *s)
{
	size_t n;

	if (!s)
		return 0;
	while (*s == ' ')
		s++;
	n = strlen(s);
	while (n && s[n - 1] == ' ')
		n--;
	if (!n)
		return 0;
	if (*pos + (*pos ? 1 : 0) + n + 1 > max)
		return -1;
	if (*pos)
		out[(*pos)++] = ' ';
	memcpy(out + *pos, s, n);
	*pos += n;
	out[*pos] = '\0';
	return 0;
}

int cmdline_build(char *out, size_t max, const struct cmdline_parts *p)
{
	size_t pos = 0;

	if (!max)
		return -1;
	out[0] = '\0';
	if (p->pvm && cmdline_add(out, max, &pos, PVM_CMDLINE))
		return -1;
	if (cmdline_add(out, max, &pos, p->replace ? p->replace : CMDLINE_DEFAULT))
		return -1;
	if (cmdline_add(out, max, &pos, p->devices))
		return -1;
	if (cmdline_add(out, max, &pos, p->append))
		return -1;
	return 0;
}
