/*
 * Test-only misbehaviour (build/tests/nook-hooks, compiled with -DNOOK_TEST_HOOKS; the
 * real build/nook has none of it): NOOK_TEST_HOOK=KIND:ACTION makes every thread of
 * that kind, once confined, act as a compromised thread:
 *   syscall  one forbidden syscall (ptrace): kill mode kills nook, trap names it;
 *   escape   try to get out (host files by absolute path and through ".." of every
 *            directory fd it holds, a host file's handle, other processes in /proc, an
 *            AF_INET connect) and print one line per attempt, then carry on.
 */
#ifndef NOOK_VMM_TEST_HOOK_H
#define NOOK_VMM_TEST_HOOK_H

#ifdef NOOK_TEST_HOOKS
void test_hook_thread(int kind);
#else
static inline void test_hook_thread(int kind)
{
	(void)kind;
}
#endif

#endif
