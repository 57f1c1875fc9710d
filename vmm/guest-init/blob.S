/*
 * The built-in guest init (vmm/guest-init/init.c) as bytes inside nook:
 * run_init_blob[] up to run_init_blob_end[] (vmm/guest-init/blob.h). NOOK_INIT_PATH is
 * the built init's path as a string, given by vmm/guest-init/init.mk.
 */
#ifndef NOOK_INIT_PATH
#error "NOOK_INIT_PATH (the built init, a quoted path) is not defined"
#endif

	.section .rodata
	.balign 16
	.globl run_init_blob
	.type run_init_blob, @object
run_init_blob:
	.incbin NOOK_INIT_PATH
	.size run_init_blob, . - run_init_blob
	.globl run_init_blob_end
	.type run_init_blob_end, @object
run_init_blob_end:
	.size run_init_blob_end, 0

	/* no executable stack for the program this is linked into */
	.section .note.GNU-stack,"",@progbits
