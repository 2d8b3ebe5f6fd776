/* SPDX-License-Identifier: MIT */
/* /sbin/e2fsprogs: see dispatch.h. */
#include "dispatch.h"

int main(int argc, char **argv)
{
	return e2fsprogs_dispatch(argc, argv);
}
