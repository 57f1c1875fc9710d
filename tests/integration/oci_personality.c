/*
 * check-oci's probe of a seccomp profile: personality(ADDR_NO_RANDOMIZE) is harmless and
 * needs no privilege, and podman's default profile allows personality() only for a few
 * exact arguments, so it is denied there and allowed without the profile.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>

int main(void)
{
	int r = personality(ADDR_NO_RANDOMIZE);

	printf("personality=%s\n", r == -1 ? strerror(errno) : "allowed");
	return r == -1;
}
