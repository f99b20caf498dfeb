// SPDX-License-Identifier: Apache-2.0
/*
 * Identical address-space layout in every replica: pointers the program
 * prints, hashes or logs must not differ between primary and backups.
 * ADDR_NO_RANDOMIZE survives execve.
 */
#include <errno.h>
#include <string.h>
#include <sys/personality.h>

#include "launch.h"

/* personality(0xffffffff) only queries the current persona. */
#define PERSONA_QUERY	0xffffffffUL

int disable_aslr(void)
{
	int persona, ret;

	persona = personality(PERSONA_QUERY);
	if (persona < 0) {
		ret = -errno;
		pr_err("cannot read personality: %s", strerror(-ret));
		return ret;
	}
	/* Keep the other bits the parent chose (e.g. from setarch). */
	if (personality((unsigned long)persona | ADDR_NO_RANDOMIZE) < 0) {
		ret = -errno;
		pr_err("cannot disable address randomization: %s",
		       strerror(-ret));
		return ret;
	}
	return 0;
}
