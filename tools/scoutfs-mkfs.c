// SPDX-License-Identifier: GPL-2.0
/* scoutfs-mkfs: the same command as "scoutfs mkfs" */
#include "cmd.h"

int main(int argc, char **argv)
{
	return sfs_cmd_mkfs(argc, argv);
}
