// SPDX-License-Identifier: GPL-2.0
/*
 * sfs-trigger PATH NAME...: arm one-shot test triggers (TRIGGER) in the
 * daemon serving the mount that holds PATH, as the reference's tests
 * write 1 to debugfs trigger/NAME files.  Exit 0, or 1 with the error.
 */
#include <stdio.h>

#include <scoutfs/ctl.h>

int main(int argc, char **argv)
{
	struct scoutfs_ctl *ctl;
	int i, ret;

	if (argc < 3) {
		fprintf(stderr, "usage: sfs-trigger PATH NAME...\n");
		return 2;
	}
	ret = scoutfs_ctl_open(argv[1], &ctl);
	if (ret) {
		fprintf(stderr, "sfs-trigger: %s: %s\n", argv[1], scoutfs_strerror(ret));
		return 1;
	}
	for (i = 2; i < argc && !ret; i++) {
		ret = scoutfs_trigger(ctl, argv[i]);
		if (ret)
			fprintf(stderr, "sfs-trigger: %s: %s\n", argv[i], scoutfs_strerror(ret));
	}
	scoutfs_ctl_close(ctl);
	return ret ? 1 : 0;
}
