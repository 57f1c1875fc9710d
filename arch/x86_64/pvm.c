#include "arch/x86_64/pvm.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool pvm_detect(void)
{
	const char *v = getenv("NOOK_PVM");

	if (v && *v)
		return strcmp(v, "0") != 0;
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}
