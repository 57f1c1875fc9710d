/* `nook kconfig`: the kernel config fragment a guest kernel needs under nook. */
#ifndef NOOK_VMM_KCONFIG_H
#define NOOK_VMM_KCONFIG_H

#include <stdio.h>

/* The fragment text, for scripts/kconfig/merge_config.sh (one option a line). */
extern const char kconfig_fragment[];

/* Writes the fragment to f; 0, or -1 if the write failed. */
int kconfig_print(FILE *f);

#endif
