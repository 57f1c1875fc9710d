/*
 * `nook run [options] -- CMD [ARGS...]`: the VMM side of running one command.
 *
 * run_prepare() (before any device exists) checks the kernel, resolves the request
 * (vmm/run_request.h) and picks the stdio mode; vm_setup_devices() then creates the root
 * share and the --rwdir/--rodir shares from the plan and calls run_attach(), which puts
 * the built-in init and the request into the root share as lookup-only files and
 * creates the virtio-console that carries the command's stdio (three ports and a control
 * port from pipes, or the console port /dev/hvc0 when nook's stdin and stdout are a
 * terminal). The rest hooks into the VM's life: signals are relayed to the command,
 * --timeout stops the guest, and run_exit_status() turns the way the VM ended into
 * nook's exit status (the command's, or 124/125/255).
 */
#ifndef NOOK_VMM_RUN_MODE_H
#define NOOK_VMM_RUN_MODE_H

#include <stdbool.h>

#include "vmm/config.h"

struct vm;
struct fuse_server;
struct run_plan;

/* Stop status nook uses internally for an expired --timeout (also its exit status). */
#define NOOK_EXIT_TIMEOUT	124
/* Exit statuses of a command run that nook itself decides. */
#define RUN_EXIT_NOOK_ERROR	125
#define RUN_EXIT_NO_STATUS	255

/* The share that becomes the guest's root: "/" for --host-root, else --root's value. */
const char *run_root_spec(const struct vm_config *cfg, char *buf, size_t len);

/* Before devices: the kernel check, the plan, the stdio mode. 0, or -1 after one error
 * line. */
int run_prepare(struct vm *vm, const struct vm_config *cfg);
/* The resolved plan (valid after run_prepare). */
const struct run_plan *run_get_plan(struct vm *vm);
/* After the root share exists: the lookup-only files, virtio-console, timeout. */
int run_attach(struct vm *vm, struct fuse_server *root);

/* SIGINT/SIGTERM/SIGHUP reached nook: true if relayed to the command (the first time),
 * false if nook should stop the VM now. */
bool run_relay_signal(struct vm *vm, int signo);
/* SIGWINCH: send the terminal's size to the guest (tty mode). */
void run_window_changed(struct vm *vm);
/* The process exit status for a VM that stopped with stop_status (NOOK_EXIT_*);
 * guest_ran says whether any vCPU ever ran. Prints the console tail when the guest died
 * without reporting. */
int run_exit_status(struct vm *vm, int stop_status, bool guest_ran);

#endif
