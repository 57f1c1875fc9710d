/*
 * The built-in guest init embedded in nook (vmm/guest-init/blob.S): served to the guest
 * as RUN_INIT_NAME (vmm/run_proto.h); its size is run_init_blob_end - run_init_blob.
 */
#ifndef NOOK_VMM_GUEST_INIT_BLOB_H
#define NOOK_VMM_GUEST_INIT_BLOB_H

extern const unsigned char run_init_blob[], run_init_blob_end[];

#endif
