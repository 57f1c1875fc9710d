/*
 * runc's second form of exec: the process given as arguments (`exec [--cwd DIR]
 * [--env K=V]... [--user UID[:GID]] [--additional-gids GID]... [--tty]
 * [--no-new-privs] ID CMD ARGS...`), which containerd's runc shim and CRI-O also use.
 * As runc does, the process starts from the container's own config.json process (its
 * env, user, cwd, rlimits...) with the options laid over it.
 */
#ifndef NOOK_OCI_EXEC_ARGS_H
#define NOOK_OCI_EXEC_ARGS_H

#include <stdbool.h>
#include <stddef.h>

struct oci_exec_args {
	char **argv;		/* the command, argc > 0 */
	int argc;
	const char **env;	/* "KEY=VALUE": replaces KEY, or is added */
	int nenv;
	const char **gids;	/* --additional-gids, decimal */
	int ngids;
	const char *cwd;	/* NULL: the config's */
	const char *user;	/* "UID" or "UID:GID", NULL: the config's */
	bool tty, no_new_privs;
};

/*
 * config.json text of the container's bundle + a into process.json text (malloc'd,
 * the caller frees it) for oci_exec_translate_json(). NULL with one line in err.
 */
char *oci_exec_args_json(const char *config, const struct oci_exec_args *a, char *err,
			 size_t errlen);

#endif
