#include "vmm/oci/oci_state.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

bool oci_state_valid_id(const char *id)
{
	size_t n = strlen(id);

	return n > 0 && n < 256 && strcmp(id, ".") && strcmp(id, "..") &&
	       strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

int oci_state_dir(const char *root, const char *id, char *dir, size_t len, bool create)
{
	if ((size_t)snprintf(dir, len, "%s/%s", root, id) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!create)
		return 0;
	if (mkdir(root, 0700) && errno != EEXIST)
		return -1;
	return mkdir(dir, 0700);
}

/* Field 22 of /proc/PID/stat (after the parenthesised comm, which may hold spaces), and
 * whether the process is a zombie (it has exited: the container is stopped). */
static int proc_starttime(pid_t pid, unsigned long long *start, bool *zombie)
{
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -1;
	*zombie = p[2] == 'Z' || p[2] == 'X';
	p += 2;
	/* p is at field 3 (state); skip to field 22. */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	*start = strtoull(p, NULL, 10);
	return 0;
}

int oci_state_save(const char *dir, const char *id, pid_t pid, const char *bundle,
		   const char *rootfs, const char *annotations)
{
	struct json_object *ann = json_tokener_parse(annotations ? annotations : "{}");
	struct passwd *pw = getpwuid(getuid());
	struct json_object *o = json_object_new_object();
	char path[PATH_MAX + 32], tmp[PATH_MAX + 32], created[40];
	unsigned long long start = 0;
	struct timespec ts;
	struct tm tm;
	bool zombie;
	int ret;

	proc_starttime(pid, &start, &zombie);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(created + strlen(created), sizeof(created) - strlen(created), ".%09ldZ", ts.tv_nsec);
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "pid", json_object_new_int(pid));
	json_object_object_add(o, "starttime", json_object_new_uint64(start));
	json_object_object_add(o, "bundle", json_object_new_string(bundle));
	json_object_object_add(o, "created", json_object_new_string(created));
	json_object_object_add(o, "rootfs", json_object_new_string(rootfs ? rootfs : ""));
	json_object_object_add(o, "owner", json_object_new_string(pw ? pw->pw_name : ""));
	json_object_object_add(o, "annotations", ann ? ann : json_object_new_object());
	snprintf(path, sizeof(path), "%s/state.json", dir);
	snprintf(tmp, sizeof(tmp), "%s/state.json.tmp", dir);
	/* Written to a temporary and renamed: `state` never reads half a file. */
	ret = json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PLAIN) || rename(tmp, path) ? -1 : 0;
	json_object_put(o);
	return ret;
}

static void copy_str(struct json_object *o, const char *key, char *dst, size_t len)
{
	struct json_object *v;

	dst[0] = 0;
	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		snprintf(dst, len, "%s", json_object_get_string(v));
}

int oci_state_load(const char *root, const char *id, char *dir, size_t len, struct oci_state *st)
{
	char path[PATH_MAX], fifo[PATH_MAX + 32];
	struct json_object *o, *v;
	unsigned long long start;
	bool zombie = false;

	memset(st, 0, sizeof(*st));
	if (!oci_state_valid_id(id) || oci_state_dir(root, id, dir, len, false))
		return -1;
	snprintf(path, sizeof(path), "%s/state.json", dir);
	o = json_object_from_file(path);
	if (!o)
		return -1;
	copy_str(o, "id", st->id, sizeof(st->id));
	copy_str(o, "bundle", st->bundle, sizeof(st->bundle));
	copy_str(o, "created", st->created, sizeof(st->created));
	copy_str(o, "rootfs", st->rootfs, sizeof(st->rootfs));
	copy_str(o, "owner", st->owner, sizeof(st->owner));
	if (json_object_object_get_ex(o, "annotations", &v) && json_object_is_type(v, json_type_object))
		st->annotations = strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	if (json_object_object_get_ex(o, "pid", &v))
		st->pid = json_object_get_int(v);
	if (json_object_object_get_ex(o, "starttime", &v))
		st->starttime = json_object_get_uint64(v);
	json_object_put(o);
	snprintf(fifo, sizeof(fifo), "%s/created", dir);
	if (st->pid <= 0 || proc_starttime(st->pid, &start, &zombie) || zombie ||
	    start != st->starttime)
		st->status = "stopped";
	else
		st->status = access(fifo, F_OK) == 0 ? "created" : "running";
	return 0;
}

int oci_state_print(const struct oci_state *st, FILE *f)
{
	struct json_object *o = json_object_new_object();
	bool stopped = !strcmp(st->status, "stopped");

	json_object_object_add(o, "ociVersion", json_object_new_string("1.0.2"));
	json_object_object_add(o, "id", json_object_new_string(st->id));
	json_object_object_add(o, "status", json_object_new_string(st->status));
	json_object_object_add(o, "pid", json_object_new_int(stopped ? 0 : st->pid));
	json_object_object_add(o, "bundle", json_object_new_string(st->bundle));
	json_object_object_add(o, "created", json_object_new_string(st->created));
	json_object_object_add(o, "rootfs", json_object_new_string(st->rootfs));
	json_object_object_add(o, "owner", json_object_new_string(st->owner));
	{
		struct json_object *ann = json_tokener_parse(st->annotations ? st->annotations : "{}");

		json_object_object_add(o, "annotations", ann ? ann : json_object_new_object());
	}
	fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return ferror(f) ? -1 : 0;
}

void oci_state_free(struct oci_state *st)
{
	free(st->annotations);
	st->annotations = NULL;
}

int oci_state_remove(const char *dir)
{
	char path[PATH_MAX + 32];
	const char *names[] = { "state.json", "state.json.tmp", "created", "created.tmp",
				"ctl.sock", "records", "records.tmp", "create_ms", "create_ms.tmp",
				"start_ms", "start_ms.tmp" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	return rmdir(dir) && errno != ENOENT ? -1 : 0;
}
